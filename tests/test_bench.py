"""bench.py's checkpoints and its CLI's refusals (its numbers are checked against the README in test_docs.py)."""

import os
import subprocess
import sys

import pytest
import torch

import bench
import searches

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


def test_an_evaluation_keeps_no_kv_cache_and_no_other_lengths_rope_tables(tmp_path, monkeypatch):
    """A memory figure counts one evaluation: transformers builds no KV cache (every layer's K and V would add to
    its peak), and ours holds only this length's rope tables, with the same loss either way."""
    import transformers.cache_utils as cache_utils
    small = dict(bench.CONFIGS["mistral-7b-layers"], hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2, head_dim=16, sliding_window=None)
    monkeypatch.setitem(bench.CONFIGS, "llama-small", small)
    ours, hf, _, _ = bench.build_pair("llama-small", str(tmp_path / "m"), "cpu", torch.float32)
    caches = []
    init = cache_utils.DynamicCache.__init__

    def counted(self, *args, **kwargs):
        caches.append(1)
        init(self, *args, **kwargs)
    monkeypatch.setattr(cache_utils.DynamicCache, "__init__", counted)
    import model as model_module
    held = []  # the tables of other lengths still held when this length's are built
    build = model_module.rope_cos_sin

    def built(*args):
        held.extend(key[1] for key in ours._rope_tables)
        return build(*args)
    monkeypatch.setattr(model_module, "rope_cos_sin", built)
    tokens = torch.randint(0, 32000, (1, 96), generator=torch.Generator().manual_seed(0))
    bench.run_once(ours, "ours", tokens[:, :64])
    assert bench.run_once(ours, "ours", tokens) == pytest.approx(bench.run_once(hf, "transformers", tokens), abs=1e-5)
    assert caches == [] and held == []


def test_finetune_memory_needs_a_gpu():
    done = subprocess.run([sys.executable, os.path.join(ROOT, "bench.py"), "--finetune", "--device", "cpu"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert done.stderr.strip() == ("error: --finetune measures GPU memory: it needs --device cuda and a --config "
                                   "other than tiny")


def test_the_gradient_fit_differentiates_the_models_own_rope_and_lowers_the_loss():
    """`differentiable_tables` are longrope.rope_cos_sin's tables for the same factors; the fit's factors score a lower
    loss on its documents than YaRN's, where it starts."""
    import longrope
    import search
    from model import ModelConfig, Transformer
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=64, hidden_size=32, n_layers=2, n_heads=2, n_kv_heads=2, head_dim=16,
                      intermediate_size=64, max_position_embeddings=32)
    model = Transformer(cfg)
    with torch.no_grad():  # sharper attention, so positions matter to the loss
        for layer in model.layers:
            layer.self_attn.q_proj.weight.mul_(4.0)
            layer.self_attn.k_proj.weight.mul_(4.0)
    factors = torch.tensor([1.0, 1.3, 1.9, 2.5, 3.0, 3.2, 3.9, 4.0])
    rope = longrope.RopeScaling("longrope", 4.0, 32, long_factor=tuple(factors.tolist()))
    cos, sin = searches.differentiable_tables(factors.log(), 16, 10000.0, longrope.longrope_attention_scale(4.0, 32))(
        128, "cpu")
    expected = longrope.rope_cos_sin(rope, 16, 10000.0, torch.arange(128), 128)
    assert torch.allclose(cos, expected[0], atol=1e-5) and torch.allclose(sin, expected[1], atol=1e-5)
    docs = [torch.randint(0, 64, (128,), generator=torch.Generator().manual_seed(i)) for i in range(2)]
    fitted, passes = searches.gradient_fit(model, docs, 32, 128, steps=5)
    start = longrope.rescale_factors(longrope.make_rope("yarn", 32, 128), 16, 10000.0, 128)
    yarn = longrope.RopeScaling("longrope", 4.0, 32, long_factor=tuple(start))
    assert passes == 10 and search.evaluate_loss(model, fitted, docs) < search.evaluate_loss(model, yarn, docs) - 1e-3
    assert all(p.requires_grad for p in model.parameters()) and "rope_tables" not in vars(model)  # left as it was


def test_more_search_processes_than_candidates_is_one_sentence():
    done = subprocess.run([sys.executable, os.path.join(ROOT, "bench.py"), "--searches", "--processes", "9",
                           "--budget", "8,2,4,4,4"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2 and done.stderr.strip() == (
        "error: --processes must be between 2 and the fewest candidates of a generation (8), got 9")
