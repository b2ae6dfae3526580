"""model.attention, the attention core, called directly against softmax attention written out in float64 in this file:
every path (the causal kernel, one query, masked blocks of queries, Mistral's sliding window, grouped-query heads)
and the flash-attn path, whose kernel is stood in for by its documented semantics so that a CPU checks what attention
hands it."""

import math
import os
import sys

import pytest
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import model as model_module  # noqa: E402
from model import attention  # noqa: E402


def dense_attention(q, k, v, q_start, window):
    """Softmax attention written out in float64: query i, at position q_start + i, sees key j (at position j) when
    0 <= q_start + i - j < window (any j <= q_start + i without a window); query head h reads key head
    h // (n_heads / n_kv_heads)."""
    q, k, v = (t.as_subclass(torch.Tensor).double() for t in (q, k, v))
    group = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
    distance = (q_start + torch.arange(q.shape[2]))[:, None] - torch.arange(k.shape[2])[None, :]
    visible = distance >= 0
    if window:
        visible &= distance < window
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    return scores.masked_fill(~visible, -math.inf).softmax(-1) @ v


def qkv(n_heads, n_kv_heads, Tq, Tk, dtype=torch.float32, seed=0):
    """Queries (2, n_heads, Tq, 8) and keys, values (2, n_kv_heads, Tk, 8) of scores spread enough that a wrongly
    visible or hidden key moves the output."""
    g = torch.Generator().manual_seed(seed)
    q = 2 * torch.randn(2, n_heads, Tq, 8, generator=g)
    k, v = torch.randn(2, n_kv_heads, Tk, 8, generator=g), torch.randn(2, n_kv_heads, Tk, 8, generator=g)
    return q.to(dtype), k.to(dtype), v.to(dtype)


@pytest.mark.parametrize("window", [None, 4, 8, 12, 16])  # 8: as long as a head; 12, 16: as the keys, longer
@pytest.mark.parametrize("n_kv_heads", [4, 2])
def test_attention_equals_dense_masked_attention(window, n_kv_heads):
    """The last Tq of Tk positions attend to the keys at 0..Tk-1, as a prefill (Tq = Tk), a later piece of a prefill
    (7 or 2 of 12) and a decoding step (1) do, over 12 keys and over as many keys as query heads (4): each equal to
    the written-out attention, with and without grouped-query heads."""
    for Tq, Tk in ((12, 12), (7, 12), (2, 12), (1, 12), (4, 4), (1, 4)):
        q, k, v = qkv(4, n_kv_heads, Tq, Tk, seed=Tq)
        expected = dense_attention(q, k, v, Tk - Tq, window)
        got = attention(q, k, v, Tk - Tq, window)
        assert got.shape == q.shape
        torch.testing.assert_close(got.double(), expected, rtol=1e-5, atol=1e-5, msg=f"{Tq} of {Tk} positions")


def test_no_mask_where_none_is_needed(monkeypatch):
    """A whole sequence from position 0 (a prefill, a training forward) and a single query (a decoding step) whose
    keys all lie within the window take one SDPA call without a mask: the causal kernel for the sequence, a plain one
    for the query (PyTorch's fused kernels, memory linear in length). A later piece of a prefill, or keys past the
    window, need a mask: one per block of queries (a window's worth), over only the keys that block can see."""
    calls = []
    sdpa = F.scaled_dot_product_attention

    def spy(q, k, v, attn_mask=None, is_causal=False, **options):
        calls.append(tuple(attn_mask.shape) if attn_mask is not None else "causal" if is_causal else "plain")
        return sdpa(q, k, v, attn_mask=attn_mask, is_causal=is_causal, **options)

    monkeypatch.setattr(F, "scaled_dot_product_attention", spy)
    cases = [(12, None, ["causal"]), (12, 12, ["causal"]), (12, 16, ["causal"]), (1, None, ["plain"]),
             (1, 12, ["plain"]), (7, None, [(7, 12)]),
             # a window of 8 over 12 positions: queries 0-7 see keys 0-7; queries 8-11 see keys 1-11
             (12, 8, [(8, 8), (4, 11)]), (1, 8, [(1, 8)])]
    for Tq, window, expected_calls in cases:
        calls.clear()
        q, k, v = qkv(4, 2, Tq, 12)
        got = attention(q, k, v, 12 - Tq, window)
        assert calls == expected_calls, (Tq, window)
        torch.testing.assert_close(got.double(), dense_attention(q, k, v, 12 - Tq, window), rtol=1e-5, atol=1e-5)


def test_a_window_shorter_than_the_context_changes_the_output():
    """The comparison above can fail: with a window of 4, the late queries of a 12-token prefill differ from full
    causal attention (and the first 4 do not)."""
    q, k, v = qkv(4, 2, 12, 12)
    windowed, full = attention(q, k, v, 0, 4), attention(q, k, v, 0, None)
    torch.testing.assert_close(windowed[:, :, :4], full[:, :, :4])
    assert (windowed[:, :, 4:] - full[:, :, 4:]).abs().amax(dim=(1, 3)).min() > 1e-3  # each late position, some head


class OnCuda(torch.Tensor):
    """A CPU tensor that says it is on CUDA: enough for attention to choose its flash-attn path."""

    @property
    def is_cuda(self):
        return True


def flash_reference(calls):
    """flash_attn_func as documented, computed densely: q (B, Tq, nh, hd), k, v (B, Tk, nkv, hd), CUDA fp16/bf16
    only; `causal` aligns the mask to the bottom right (query i sits at position Tk - Tq + i); window_size
    (left, right) lets query position p see keys p - left .. p + right, a negative side being unbounded."""
    def flash(q, k, v, causal=False, window_size=(-1, -1)):
        assert q.is_cuda and q.dtype in (torch.float16, torch.bfloat16), "flash-attn: CUDA fp16/bf16 kernels only"
        calls.append((causal, window_size))
        q, k, v = (t.as_subclass(torch.Tensor).transpose(1, 2).double() for t in (q, k, v))
        Tq, Tk = q.shape[2], k.shape[2]
        group = q.shape[1] // k.shape[1]
        k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
        query_pos, key_pos = (Tk - Tq + torch.arange(Tq))[:, None], torch.arange(Tk)[None, :]
        visible = torch.ones(Tq, Tk, dtype=torch.bool)
        if causal:
            visible &= key_pos <= query_pos
        left, right = window_size
        if left >= 0:
            visible &= key_pos >= query_pos - left
        if right >= 0:
            visible &= key_pos <= query_pos + right
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
        return (scores.masked_fill(~visible, -math.inf).softmax(-1) @ v).transpose(1, 2)
    return flash


@pytest.mark.parametrize("window", [None, 4])
def test_flash_attn_gets_the_causal_mask_and_the_window(monkeypatch, window):
    """On CUDA in bf16 with flash-attn installed, attention hands it (B, T, heads, hd) tensors, a causal mask and
    Mistral's window as (window - 1, 0): the result, through flash-attn's documented semantics, equals the
    written-out attention for a prefill and for later pieces of it."""
    calls = []
    monkeypatch.setattr(model_module, "_flash_attn", lambda: flash_reference(calls))
    for Tq in (12, 5, 1):
        q, k, v = (t.as_subclass(OnCuda) for t in qkv(4, 2, Tq, 12, torch.bfloat16, seed=Tq))
        got = attention(q, k, v, 12 - Tq, window)
        assert got.shape == q.shape
        torch.testing.assert_close(got.as_subclass(torch.Tensor).double(), dense_attention(q, k, v, 12 - Tq, window),
                                   rtol=1e-6, atol=1e-6, msg=f"{Tq} queries")
    assert len(calls) == 3


def test_flash_attn_only_for_cuda_half_precision(monkeypatch):
    """flash-attn has no CPU or float32 kernels: with it installed, bf16 on a CPU and float32 on CUDA still take
    PyTorch's attention (the stand-in fails if called), with the written-out result."""
    calls = []
    monkeypatch.setattr(model_module, "_flash_attn", lambda: flash_reference(calls))
    cpu_bf16 = qkv(4, 2, 12, 12, torch.bfloat16)
    cuda_float32 = [t.as_subclass(OnCuda) for t in qkv(4, 2, 12, 12)]
    for (q, k, v), tolerance in ((cpu_bf16, 2e-2), (cuda_float32, 1e-5)):
        got = attention(q, k, v, 0, 4).as_subclass(torch.Tensor)
        torch.testing.assert_close(got.double(), dense_attention(q, k, v, 0, 4), rtol=tolerance, atol=tolerance)
    assert calls == []
