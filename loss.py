"""The next-token loss of a long sequence without its `length x vocab` logits (LongRoPE, Ding et al. 2024, Section
4: perplexity at 2048k tokens would otherwise need terabytes of logits).

`chunked_cross_entropy` walks the final hidden states a chunk of rows at a time. Under autograd each chunk is
recomputed in the backward pass, so training memory stays linear in length too. Without autograd on a CPU a larger
vocabulary is also walked in cache-sized tiles with an online logsumexp. model.py's `Transformer.loss` calls it.
"""

import math

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint


def _cross_entropy_sum(hidden, weight, targets):
    logits = (hidden @ weight.t()).float()  # (chunk, V): the only logits alive at any time
    return F.cross_entropy(logits, targets, ignore_index=-100, reduction="sum")


def _cross_entropy_sum_tiled(hidden, weight, targets, buffer):
    """The same sum without autograd: logsumexp over the vocabulary one (rows x buffer columns) tile of logits at a
    time, as a running maximum and a running sum of exponentials (the online softmax), minus the target's logit.
    Every tile is written into the same `buffer`: a fresh 8 MB tensor per tile costs its page faults each time."""
    keep = targets != -100
    hidden, targets = hidden[keep], targets[keep]
    top = hidden.new_full((hidden.shape[0],), -math.inf, dtype=torch.float32)
    total = hidden.new_zeros((hidden.shape[0],), dtype=torch.float32)
    rows, vocab_chunk = hidden.shape[0], buffer.shape[1]
    for j in range(0, weight.shape[0], vocab_chunk):
        w = weight[j:j + vocab_chunk]
        tile = torch.mm(hidden, w.t(), out=buffer[:rows, :w.shape[0]]).float()  # (rows, vocab_chunk)
        new_top = torch.maximum(top, tile.amax(1))
        total = total * (top - new_top).exp() + tile.sub_(new_top[:, None]).exp_().sum(1)  # in place: one tile
        top = new_top
    target_logits = (hidden.float() * weight[targets].float()).sum(1)
    return (top + total.log() - target_logits).sum()


def loss_chunks(vocab_size, on_cuda, grad, vocab_chunk=1024):
    """How chunked_cross_entropy walks the logits: (tiled, rows per chunk). A pure function of the shapes and the
    device kind, so the GPU's choice is tested on a CPU too."""
    tiled = not grad and not on_cuda and vocab_size > vocab_chunk
    if tiled:
        # A CPU computes logits fastest when the slice of the output weight a matmul reads and the logits it writes
        # both stay in cache: 2048 x 1024 tiles (8 MB of logits, 1 MB of a 1024-wide weight slice) instead of rows
        # against the whole (V, D) weight, which streams all of it from memory for every chunk of rows. At 4k
        # tokens, a 32000 vocabulary and D = 256, two threads of a 32 MB-cache CPU take 0.57 s in these tiles, 0.64 s
        # in 1024 x 4096 ones, 0.76 s in 256-row chunks with F.cross_entropy and 1.21 s in one piece. A vocabulary
        # of one tile or less (the tiny model's) gains nothing and takes the row chunks below.
        fits = (1 << 21) // vocab_chunk
    else:
        # Rows per chunk: a power of two with at most 8M logits (32 MB float32) on a CPU, so the logits stay in the
        # last-level cache between the matmul that writes them and the softmax that reads them (one thread, 4k
        # tokens: 1.19 s in 256-row chunks, 1.41 s in 262-row ones, 1.89 s in one piece). 16M logits on a GPU,
        # where fewer, larger matmuls are faster.
        fits = (1 << (24 if on_cuda else 23)) // vocab_size
    return tiled, 1 << max(0, fits.bit_length() - 1)


def chunked_cross_entropy(hidden, weight, targets, chunk_size=None, vocab_chunk=None):
    """Sum of next-token losses over hidden (N, D) and targets (N,) (-100 ignored), `chunk_size` rows at a time.

    Under autograd each chunk is recomputed in the backward pass, so training memory stays linear in length too.
    Without autograd on a CPU, each chunk of rows also walks a larger vocabulary in tiles of `vocab_chunk` columns.
    """
    vocab_chunk = vocab_chunk or 1024
    grad = torch.is_grad_enabled() and hidden.requires_grad
    tiled, rows = loss_chunks(weight.shape[0], weight.is_cuda, grad, vocab_chunk)
    chunk = chunk_size or rows
    if tiled:
        buffer = hidden.new_empty((min(chunk, hidden.shape[0]), vocab_chunk))
    total = hidden.new_zeros((), dtype=torch.float32)
    for i in range(0, hidden.shape[0], chunk):
        args = (hidden[i:i + chunk], weight, targets[i:i + chunk])
        if tiled:
            total = total + _cross_entropy_sum_tiled(*args, buffer)
        elif grad:
            total = total + checkpoint(_cross_entropy_sum, *args, use_reentrant=False)
        else:
            total = total + _cross_entropy_sum(*args)
    return total
