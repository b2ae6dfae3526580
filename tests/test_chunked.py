"""The memory-bounded inference forward (Block.forward_chunked): equal to the whole-sequence forward and to
transformers' Llama and Mistral (sliding window) at chunk sizes that do and do not divide the length; its chunk
chosen from the free memory by a pure function; lengths that cannot fit refused before any work."""

import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import model as model_module  # noqa: E402
from conftest import LONGROPE_DICT, hf_logits, tokens_for  # noqa: E402
from model import (CHUNK_TOKENS, MIN_CHUNK_TOKENS, ModelConfig, forward_chunk, forward_memory,  # noqa: E402
                   load_model, longest_fitting_length)

SMALL = ModelConfig(vocab_size=32000, hidden_size=256, intermediate_size=688, n_layers=4, n_heads=4, n_kv_heads=4,
                    head_dim=64)
GB = 2**30


@pytest.mark.parametrize("model_type,rope", [("llama", None), ("llama", LONGROPE_DICT), ("mistral", None)])
def test_chunked_forward_equals_whole_and_transformers(hf_checkpoint, model_type, rope):
    overrides = {"rope_parameters": {**LONGROPE_DICT, "rope_theta": 1000.0}} if rope else {}
    hf, path = hf_checkpoint(model_type, **overrides)  # mistral: window 8, 2 kv heads
    ours = load_model(path, device="cpu", dtype=torch.float32)
    tokens = tokens_for(100)  # (2, 100): past the original 32 positions, so LongRoPE's long factors
    expected = hf_logits(hf, tokens)
    with torch.inference_mode():
        whole = ours.logits(tokens)
        for chunk in (16, 24, 99):
            ours.chunk_size = chunk
            chunked = ours.logits(tokens)
            torch.testing.assert_close(chunked, whole, rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(chunked, expected, rtol=1e-4, atol=1e-4)
        # a shard of a longer sequence (sequence parallelism): its global positions, its own keys
        ours.chunk_size = 16
        shard = ours.forward(tokens[:, 40:], start=40, rope_len=100)
        ours.chunk_size = None
        torch.testing.assert_close(shard, ours.forward(tokens[:, 40:], start=40, rope_len=100), rtol=1e-5, atol=1e-5)


def test_chunks_only_without_autograd(hf_checkpoint, monkeypatch):
    _, path = hf_checkpoint("llama")
    ours = load_model(path, device="cpu", dtype=torch.float32)
    ours.chunk_size = 16
    calls = []
    chunked = model_module.Block.forward_chunked
    monkeypatch.setattr(model_module.Block, "forward_chunked", lambda *a: calls.append(a[-1]) or chunked(*a))
    tokens = tokens_for(64)
    ours.loss(tokens).backward()  # under autograd: the whole-sequence path, chunk size or not
    assert calls == []
    with torch.inference_mode():
        ours.loss(tokens)
    assert calls == [16] * ours.config.n_layers


def test_chunk_follows_the_free_memory():
    n = 64 * 1024
    assert forward_chunk(SMALL, CHUNK_TOKENS, 64 * GB, 4) == CHUNK_TOKENS  # short: one chunk, the whole sequence
    assert forward_chunk(SMALL, 1000, 64 * GB, 4) == 1000
    assert forward_chunk(SMALL, n, 64 * GB, 4) == CHUNK_TOKENS
    assert forward_chunk(SMALL, n, None, 4) == CHUNK_TOKENS  # free memory unknown
    fits_1k = forward_memory(SMALL, n, 1024, 4)
    assert forward_chunk(SMALL, n, fits_1k, 4) == 1024
    assert forward_chunk(SMALL, n, fits_1k - 1, 4) == 512
    assert forward_memory(SMALL, n, 512, 4) < fits_1k < forward_memory(SMALL, n, 2048, 4)
    assert forward_chunk(SMALL, 4000, forward_memory(SMALL, 4000, 1024, 4), 4) == 1024  # short, but tight


def test_estimate_counts_one_layer_of_the_whole_sequence():
    """Doubling the length adds, per token, one layer's hidden state, q, k, v and attention output (plus the token
    id and the float32 cos/sin rows), and nothing that grows with the number of layers."""
    n = 64 * 1024
    per_token = (256 + 3 * 256 + 256) * 4 + 8 + 2 * 64 * 4
    assert forward_memory(SMALL, 2 * n, 1024, 4) - forward_memory(SMALL, n, 1024, 4) == n * per_token
    deep = ModelConfig(**{**SMALL.__dict__, "n_layers": 80})
    assert forward_memory(deep, n, 1024, 4) == forward_memory(SMALL, n, 1024, 4)
    # bf16 halves every activation but the float32 norms, tables and logits
    assert forward_memory(SMALL, n, 1024, 2) < forward_memory(SMALL, n, 1024, 4)


def test_a_length_that_cannot_fit_is_refused_with_what_would():
    free = 2 * GB
    longest = longest_fitting_length(SMALL, free, 4)
    assert forward_memory(SMALL, longest, MIN_CHUNK_TOKENS, 4) <= free < forward_memory(SMALL, longest + 1,
                                                                                         MIN_CHUNK_TOKENS, 4)
    assert forward_chunk(SMALL, longest, free, 4) == MIN_CHUNK_TOKENS
    needed = forward_memory(SMALL, 2 * longest, MIN_CHUNK_TOKENS, 4) / GB
    with pytest.raises(ValueError, match=rf"1 x {2 * longest} tokens needs about {needed:.2f} GB beyond the weights "
                                         rf"but 2.00 GB are free; at most 1 x {longest} tokens would fit"):
        forward_chunk(SMALL, 2 * longest, free, 4)


def test_the_model_refuses_before_any_layer_runs(hf_checkpoint, monkeypatch):
    _, path = hf_checkpoint("llama")
    ours = load_model(path, device="cpu", dtype=torch.float32)
    monkeypatch.setattr(model_module, "free_memory_bytes", lambda device: 1000)
    ran = []
    monkeypatch.setattr(model_module.Block, "forward", lambda *a, **k: ran.append(1))
    with torch.inference_mode(), pytest.raises(ValueError, match="would fit"):
        ours.loss(tokens_for(64))
    assert ran == []


def test_eval_refuses_a_length_before_any_work():
    import subprocess
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for command in ("ppl", "passkey"):
        result = subprocess.run([sys.executable, os.path.join(root, "eval.py"), command, "--model", "tiny", "--lengths",
                                 "1024m", "--device", "cpu"], capture_output=True, text=True, cwd=root)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        line, = result.stderr.strip().splitlines()
        assert line.startswith("error: a forward over 1 x 1073741824 tokens needs about ") and "would fit" in line


def test_compiled_blocks_take_the_whole_sequence_while_it_fits(hf_checkpoint, monkeypatch):
    _, path = hf_checkpoint("llama")
    ours = load_model(path, device="cpu", dtype=torch.float32)
    calls = []
    chunked = model_module.Block.forward_chunked
    monkeypatch.setattr(model_module.Block, "forward_chunked", lambda *a: calls.append(a[-1]) or chunked(*a))
    tokens = tokens_for(CHUNK_TOKENS + 1, batch=1)
    with torch.inference_mode():
        eager = ours.forward(tokens)
        assert calls == [CHUNK_TOKENS] * ours.config.n_layers
        ours._compiled = list(ours.layers)  # stand-ins for compiled blocks: the same modules, called whole
        torch.testing.assert_close(ours.forward(tokens), eager, rtol=1e-5, atol=1e-5)
    assert len(calls) == ours.config.n_layers
    n = 64 * 1024
    assert forward_chunk(SMALL, n, 64 * GB, 4, largest=n) == n
    assert forward_chunk(SMALL, n, forward_memory(SMALL, n, 8192, 4), 4, largest=n) == 8192
