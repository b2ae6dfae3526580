"""bench.py's checkpoints and its CLI's refusals (its numbers are checked against the README in test_docs.py)."""

import os
import subprocess
import sys

import pytest
import torch

import bench

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_mistral_config_is_a_windowed_mistral_whose_loss_ours_equals(tmp_path, monkeypatch):
    """The mistral-7b-layers shape, shrunk: transformers writes a MistralForCausalLM with a byte-level tokenizer,
    and at 4x its window our loss equals transformers' (the window changes it)."""
    small = dict(bench.CONFIGS["mistral-7b-layers"], hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2, head_dim=16, sliding_window=64)
    monkeypatch.setitem(bench.CONFIGS, "mistral-small", small)
    ours, hf, attn, _ = bench.build_pair("mistral-small", str(tmp_path / "m"), "cpu", torch.float32)
    assert type(hf).__name__ == "MistralForCausalLM" and ours.config.sliding_window == 64 and attn == "sdpa"
    assert os.path.exists(tmp_path / "m" / "tokenizer.json")
    tokens = torch.randint(0, 32000, (1, 256), generator=torch.Generator().manual_seed(0))
    loss = bench.run_once(ours, "ours", tokens)
    assert loss == pytest.approx(bench.run_once(hf, "transformers", tokens), abs=1e-5)
    hf.config.sliding_window = None  # transformers without the window: another loss
    assert abs(bench.run_once(hf, "transformers", tokens) - loss) > 1e-4


def test_finetune_memory_needs_a_gpu():
    done = subprocess.run([sys.executable, os.path.join(ROOT, "bench.py"), "--finetune", "--device", "cpu"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert done.stderr.strip() == ("error: --finetune measures GPU memory: it needs --device cuda and a --config "
                                   "other than tiny")
