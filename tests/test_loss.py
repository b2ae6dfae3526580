"""loss.py's chunked cross entropy against the cross entropy of the full logits, computed at once in float64 in this
file: how it walks the rows and the vocabulary on each device (row chunks under autograd and on CUDA, cache-sized
tiles without autograd on a CPU), the tiles' one reused buffer, and rows whose logits differ widely in scale."""

import os
import sys
import warnings

import pytest
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import loss as loss_module  # noqa: E402
from loss import chunked_cross_entropy, loss_chunks  # noqa: E402


def full_cross_entropy(hidden, weight, targets):
    """The reference: every logit at once, in float64, -100 ignored, summed."""
    logits = hidden.as_subclass(torch.Tensor).double() @ weight.as_subclass(torch.Tensor).double().t()
    return F.cross_entropy(logits, targets, ignore_index=-100, reduction="sum")


def inputs(rows, vocab, dim=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    hidden, weight = 2 * torch.randn(rows, dim, generator=g), torch.randn(vocab, dim, generator=g)
    targets = torch.randint(0, vocab, (rows,), generator=g)
    targets[::7] = -100
    return hidden, weight, targets


@pytest.fixture
def walked(monkeypatch):
    """How chunked_cross_entropy walks the logits: ("rows" or "tiles", rows in the chunk), one entry per chunk."""
    calls = []
    for name, kind in (("_cross_entropy_sum", "rows"), ("_cross_entropy_sum_tiled", "tiles")):
        def spy(hidden, *args, original=getattr(loss_module, name), kind=kind):
            calls.append((kind, hidden.shape[0]))
            return original(hidden, *args)
        monkeypatch.setattr(loss_module, name, spy)
    return calls


class OnCuda(torch.Tensor):
    """A CPU tensor that says it is on CUDA: enough for the loss to make the GPU's choice."""

    @property
    def is_cuda(self):
        return True


def test_a_cpu_without_autograd_walks_a_larger_vocabulary_in_tiles(walked):
    """Without autograd on a CPU, a vocabulary of more than one tile (1024 words by default, 7 here when asked) is
    walked in tiles, 2048 rows at a time: in inference mode and for a frozen model under grad mode (hidden states that
    need no gradient) alike. A vocabulary of one tile takes row chunks. Each sum equals the full cross entropy."""
    cases = [(inputs(2100, 1100), {}, torch.inference_mode, [("tiles", 2048), ("tiles", 52)]),
             (inputs(2100, 1100), {}, torch.enable_grad, [("tiles", 2048), ("tiles", 52)]),
             (inputs(30, 50), {"vocab_chunk": 7}, torch.inference_mode, [("tiles", 30)]),
             (inputs(30, 1024), {}, torch.inference_mode, [("rows", 30)])]
    for (hidden, weight, targets), options, mode, expected_walk in cases:
        walked.clear()
        with mode():
            got = chunked_cross_entropy(hidden, weight, targets, **options)
        assert walked == expected_walk
        assert got.item() == pytest.approx(full_cross_entropy(hidden, weight, targets).item(), rel=1e-6)


def test_autograd_on_a_cpu_walks_rows_of_at_most_8m_logits(walked):
    """Under autograd a CPU never takes the tiles (their in-place softmax has no gradient): rows in chunks of the
    largest power of two with at most 8M logits (4096 rows of a 1100-word vocabulary), whatever the vocabulary's
    size against a tile; loss and gradients equal the full cross entropy's."""
    hidden, weight, targets = inputs(4200, 1100)
    hidden.requires_grad_(True)
    got = chunked_cross_entropy(hidden, weight, targets)
    assert walked == [("rows", 4096), ("rows", 104)]
    expected = full_cross_entropy(hidden, weight, targets)
    assert got.item() == pytest.approx(expected.item(), rel=1e-6)
    torch.testing.assert_close(torch.autograd.grad(got, hidden)[0],
                               torch.autograd.grad(expected, hidden)[0].float(), rtol=1e-4, atol=1e-5)


def test_a_cuda_weight_walks_rows_of_at_most_16m_logits(walked):
    """On CUDA, with autograd or without, rows in chunks of the largest power of two with at most 16M logits (4096
    rows of a 3000-word vocabulary) and never tiles."""
    hidden, weight, targets = inputs(4200, 3000)
    with torch.inference_mode():
        got = chunked_cross_entropy(hidden, weight.as_subclass(OnCuda), targets)
    assert walked == [("rows", 4096), ("rows", 104)]
    assert got.item() == pytest.approx(full_cross_entropy(hidden, weight, targets).item(), rel=1e-6)


def test_tiles_reuse_one_8mb_buffer(monkeypatch):
    """Every tile of logits, in every chunk of rows, is computed into one preallocated 2048 x 1024 float32 buffer
    (8 MB) rather than a fresh tensor per tile, and at its own shape: PyTorch warns when it has to resize an out=
    tensor, and the warning fails this test."""
    outs = []
    mm = torch.mm

    def spy(a, b, out=None):
        outs.append(out)
        return mm(a, b, out=out)

    monkeypatch.setattr(torch, "mm", spy)
    hidden, weight, targets = inputs(2100, 2100)  # two chunks of rows by three tiles (1024, 1024, 52 words)
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("error")
        got = chunked_cross_entropy(hidden, weight, targets)
    monkeypatch.undo()
    assert len(outs) == 6 and all(out is not None for out in outs)
    assert len({out.untyped_storage().data_ptr() for out in outs}) == 1
    assert outs[0].untyped_storage().nbytes() == 2048 * 1024 * 4
    assert got.item() == pytest.approx(full_cross_entropy(hidden, weight, targets).item(), rel=1e-6)


def test_tiles_keep_a_running_maximum_per_row():
    """A confident row (logits hundreds apart) next to flat ones: each row's online logsumexp keeps its own running
    maximum; one maximum over all rows would underflow the flat rows' exponentials to zero (an infinite loss)."""
    hidden, weight, targets = inputs(12, 50)
    hidden[3] *= 100
    with torch.inference_mode():
        got = chunked_cross_entropy(hidden, weight, targets, vocab_chunk=16)
    logits = hidden @ weight.t()
    assert (logits.amax(1)[3] - logits.amax(1)).max() > 200
    assert got.item() == pytest.approx(full_cross_entropy(hidden, weight, targets).item(), rel=1e-6)


def test_a_row_past_the_logit_limit_walks_one_row_at_a_time():
    """A vocabulary whose every row alone has more logits than a chunk may hold (8M on a CPU, 16M on a GPU) still
    walks the rows one at a time, as does one whose two rows would pass it."""
    for on_cuda, limit in ((False, 2**23), (True, 2**24)):
        for vocab in (limit + 1, limit // 2 + 1):
            assert loss_chunks(vocab, on_cuda, True) == (False, 1)
