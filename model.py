"""Full definition of a Llama-style language model in this single file: Llama 2 and 3, Mistral, Qwen2 and Phi-3.

The network: token embeddings, pre-norm blocks of RMSNorm -> grouped-query attention with rotary positions ->
RMSNorm -> SwiGLU MLP, a final RMSNorm and the LM head (Touvron et al. 2023, Llama 2; Jiang et al. 2023, Mistral 7B
with its sliding-window attention). The other families are this network with a switch or two in ModelConfig: q/k/v
biases (Qwen2), rotary positions on only part of each head (Phi-4-mini); checkpoint.py reads each family's
config.json and weight layout (Phi-3's fused weights are split there, at load). Positions go through longrope.py,
so any rescaling method of the LongRoPE paper (Ding et al. 2024, Section 2-3) can be swapped on a loaded model
without touching its weights (`set_rope`).

Long sequences never materialize `length x vocab` logits: the loss is a chunked cross-entropy over the final hidden
states (loss.py; Section 4's perplexity evaluation at 2048k tokens would otherwise need terabytes).
Without autograd, each block runs its norms, projections and MLP over the sequence in chunks and only attention
holds one layer's whole queries, keys and values (`Block.forward_chunked`): an inference forward's memory stays
bounded at any length, and a length the free memory cannot hold is refused before any work (`forward_chunk`).

Checkpoint loading and saving live in checkpoint.py; `load_model`, `save_model` and the rest are importable from
here too.
"""

import os
import shutil
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from longrope import RopeScaling, apply_rope, rope_cos_sin
from loss import chunked_cross_entropy


@dataclass
class ModelConfig:
    vocab_size: int = 32000
    hidden_size: int = 4096
    n_layers: int = 32
    n_heads: int = 32
    n_kv_heads: int = 32
    head_dim: int = 128
    intermediate_size: int = 11008
    norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    max_position_embeddings: int = 4096  # config.json's value; the original length is model.rope.original_max_len
    sliding_window: int | None = None  # Mistral: each token sees itself and the window-1 tokens before it
    tie_word_embeddings: bool = False
    bos_token_id: int | None = 1
    eos_token_id: int | list | None = 2
    pad_token_id: int | None = None
    model_type: str = "llama"  # one of checkpoint.FAMILIES
    qkv_bias: bool = False  # Qwen2: the q/k/v projections carry biases
    partial_rotary_factor: float = 1.0  # Phi-4-mini: rotary positions on the first 3/4 of each head's channels

    @property
    def rotary_dim(self):
        """Channels per head that rotate (transformers' rule); the rope's frequencies and factors count half of it."""
        return int(self.head_dim * self.partial_rotary_factor)


PRESETS = {
    "llama-2-7b": ModelConfig(),
    "llama-2-13b": ModelConfig(hidden_size=5120, n_layers=40, n_heads=40, n_kv_heads=40, intermediate_size=13824),
    "mistral-7b": ModelConfig(n_kv_heads=8, intermediate_size=14336, max_position_embeddings=32768,
                              sliding_window=4096, model_type="mistral"),
}


# ----------------------------------------------------------------------------------------------------------------
# The network


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        # normalized in float32 (a bf16 mean of squares loses precision), scaled in the input dtype as Llama does
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x32.to(x.dtype)


class KVCache:
    """Keys and values of every layer for generation: (B, n_kv_heads, max_len, head_dim) each."""

    def __init__(self, cfg, batch, max_len, device, dtype):
        shape = (batch, cfg.n_kv_heads, max_len, cfg.head_dim)
        self.k = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(cfg.n_layers)]
        self.v = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(cfg.n_layers)]

    def update(self, layer, start, k, v):
        end = start + k.shape[2]
        self.k[layer][:, :, start:end] = k
        self.v[layer][:, :, start:end] = v
        return self.k[layer][:, :, :end], self.v[layer][:, :, :end]


def _flash_attn():
    try:
        from flash_attn import flash_attn_func  # optional, CUDA only
        return flash_attn_func
    except ImportError:
        return None


def attention(q, k, v, q_start, window):
    """Causal attention of q (B, nh, Tq, hd) at positions q_start.. over k, v (B, nkv, Tk, hd) at 0..Tk-1.

    flash-attn on CUDA when installed; otherwise PyTorch SDPA, whose causal kernels keep memory linear in length.
    A sliding window (or a query block not starting at 0) needs an explicit mask: it is built per block of queries
    so the mask never grows to Tq x Tk.
    """
    Tq, Tk = q.shape[2], k.shape[2]
    flash = _flash_attn() if q.is_cuda and q.dtype in (torch.float16, torch.bfloat16) else None
    if flash is not None:  # flash-attn aligns the causal mask to the bottom right: right for a KV cache
        out = flash(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), causal=True,
                    window_size=(window - 1, 0) if window else (-1, -1))
        return out.transpose(1, 2)  # (B, nh, Tq, hd)
    gqa = q.shape[1] != k.shape[1]
    if window is None or Tk <= window:
        if q_start == 0 and Tq == Tk:
            return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=gqa)
        if Tq == 1:
            return F.scaled_dot_product_attention(q, k, v, enable_gqa=gqa)
    block = window or 1024
    outputs = []
    for s in range(0, Tq, block):
        q_pos = torch.arange(q_start + s, q_start + min(s + block, Tq), device=q.device)
        lo = max(0, int(q_pos[0]) - window + 1) if window else 0
        k_pos = torch.arange(lo, int(q_pos[-1]) + 1, device=q.device)
        distance = q_pos[:, None] - k_pos[None, :]  # (block, keys)
        mask = (distance >= 0) & (distance < window) if window else distance >= 0
        hi = int(q_pos[-1]) + 1
        outputs.append(F.scaled_dot_product_attention(
            q[:, :, s:s + block], k[:, :, lo:hi], v[:, :, lo:hi], attn_mask=mask, enable_gqa=gqa))
    return torch.cat(outputs, dim=2)


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.n_heads, self.n_kv_heads, self.head_dim = cfg.n_heads, cfg.n_kv_heads, cfg.head_dim
        self.window = cfg.sliding_window
        self.attend = attention  # parallel.py swaps in Ulysses sequence parallelism here, from outside
        self.q_proj = nn.Linear(cfg.hidden_size, cfg.n_heads * cfg.head_dim, bias=cfg.qkv_bias)
        self.k_proj = nn.Linear(cfg.hidden_size, cfg.n_kv_heads * cfg.head_dim, bias=cfg.qkv_bias)
        self.v_proj = nn.Linear(cfg.hidden_size, cfg.n_kv_heads * cfg.head_dim, bias=cfg.qkv_bias)
        self.o_proj = nn.Linear(cfg.n_heads * cfg.head_dim, cfg.hidden_size, bias=False)

    def project(self, x, cos, sin):
        """Queries, keys and values of x (B, T, D), rotated to the positions of cos/sin (T, hd), or (B, 1, T, hd): one
        rescaling per row."""
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.n_heads, self.head_dim).transpose(1, 2)  # (B, nh, T, hd)
        k = self.k_proj(x).view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)  # (B, nkv, T, hd)
        v = self.v_proj(x).view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)  # (B, nkv, T, hd)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        return q, k, v

    def forward(self, x, cos, sin, cache=None, layer=0, start=0):
        B, T, _ = x.shape
        q, k, v = self.project(x, cos, sin)
        if cache is not None:
            k, v = cache.update(layer, start, k, v)  # (B, nkv, start+T, hd)
        # without a cache the keys span the same positions as the queries: causal from the first of them
        y = self.attend(q, k, v, start if cache is not None else 0, self.window)  # (B, nh, T, hd)
        return self.o_proj(y.transpose(1, 2).reshape(B, T, self.n_heads * self.head_dim))


class MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.up_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.down_proj = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=False)

    def forward(self, x):
        if torch.is_grad_enabled():
            return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))  # SwiGLU
        # Without autograd, in place: two fewer (tokens x intermediate) temporaries, 4% of a 4k forward on a CPU.
        return self.down_proj(F.silu(self.gate_proj(x), inplace=True).mul_(self.up_proj(x)))


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.norm_eps)
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.norm_eps)
        self.mlp = MLP(cfg)

    def forward(self, x, cos, sin, cache=None, layer=0, start=0):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, cache, layer, start)
        return x + self.mlp(self.post_attention_layernorm(x))

    def forward_chunked(self, x, cos, sin, chunk):
        """The same block over x (B, T, D), in place and without autograd, `chunk` tokens at a time for everything but
        attention, which needs every position's queries, keys and values: the layer holds those and x for the whole
        sequence, and a chunk's worth of the norms' float32 copies, the projections and the MLP's intermediates."""
        attn = self.self_attn
        B, T, _ = x.shape
        q = x.new_empty(B, attn.n_heads, T, attn.head_dim)  # (B, nh, T, hd)
        k = x.new_empty(B, attn.n_kv_heads, T, attn.head_dim)  # (B, nkv, T, hd)
        v = torch.empty_like(k)
        for s in range(0, T, chunk):
            q[:, :, s:s + chunk], k[:, :, s:s + chunk], v[:, :, s:s + chunk] = attn.project(
                self.input_layernorm(x[:, s:s + chunk]), cos[..., s:s + chunk, :], sin[..., s:s + chunk, :])
        y = attn.attend(q, k, v, 0, attn.window)  # (B, nh, T, hd)
        del q, k, v
        for s in range(0, T, chunk):
            part = y[:, :, s:s + chunk].transpose(1, 2).reshape(B, -1, attn.n_heads * attn.head_dim)  # (B, c, nh*hd)
            x[:, s:s + chunk] += attn.o_proj(part)
            x[:, s:s + chunk] += self.mlp(self.post_attention_layernorm(x[:, s:s + chunk]))
        return x


# ----------------------------------------------------------------------------------------------------------------
# Inference memory: how many tokens a chunk may have, and which lengths fit at all

CHUNK_TOKENS = 4096  # larger chunks run no faster; sequences up to this length run whole, as under autograd
MIN_CHUNK_TOKENS = 256


def forward_memory(cfg, seq_len, chunk, dtype_bytes, batch=1):
    """Estimated bytes beyond the weights of an inference forward over `seq_len` tokens run `chunk` at a time
    (Block.forward_chunked): the whole sequence's hidden state, rope tables and one layer's queries, keys, values and
    attention output, plus per chunk token the norm's float32 copies and the larger of the rotated projections and
    the MLP's intermediates. The loss adds its chunk of logits, at most 2^24 (chunked_cross_entropy)."""
    D, q_size = cfg.hidden_size, cfg.n_heads * cfg.head_dim
    qkv = q_size + 2 * cfg.n_kv_heads * cfg.head_dim
    whole = (D + qkv + q_size) * dtype_bytes + 8
    if cfg.sliding_window and seq_len > cfg.sliding_window:  # attention's query blocks, then their concatenation
        whole += q_size * dtype_bytes
    # the larger of the two phases (projections with rope's three temporaries of q; the MLP), after a norm
    per_chunk_token = 2 * D * 4 + max(D + qkv + 3 * q_size, 2 * cfg.intermediate_size + 2 * D) * dtype_bytes
    return batch * (seq_len * whole + min(chunk, seq_len) * per_chunk_token) + seq_len * cfg.head_dim * 4 * 2


def longest_fitting_length(cfg, free_bytes, dtype_bytes, batch=1):
    """The longest sequence whose estimate at the smallest chunk fits `free_bytes` (0 if none)."""
    low, high = 0, 1
    while forward_memory(cfg, high, MIN_CHUNK_TOKENS, dtype_bytes, batch) <= free_bytes:
        low, high = high, 2 * high
    while high - low > 1:  # the estimate grows with the length: bisect between a fitting and a failing length
        middle = (low + high) // 2
        low, high = (middle, high) if forward_memory(cfg, middle, MIN_CHUNK_TOKENS, dtype_bytes, batch) <= free_bytes \
            else (low, middle)
    return low


def forward_chunk(cfg, seq_len, free_bytes, dtype_bytes, batch=1, largest=CHUNK_TOKENS):
    """Tokens per chunk of an inference forward: the whole sequence up to `largest` (one chunk: no chunking),
    `largest` beyond, then halved (to powers of two, down to MIN_CHUNK_TOKENS) while the estimate exceeds
    `free_bytes` (None: unknown, no limit). A length that does not fit even then is refused with the estimate and the
    longest length that would."""
    chunk = min(seq_len, largest)
    while free_bytes is not None and chunk > MIN_CHUNK_TOKENS and \
            forward_memory(cfg, seq_len, chunk, dtype_bytes, batch) > free_bytes:
        chunk = 1 << (chunk - 1).bit_length() - 1  # the next power of two down
    needed = forward_memory(cfg, seq_len, chunk, dtype_bytes, batch)
    if free_bytes is not None and needed > free_bytes:
        raise ValueError(f"a forward over {batch} x {seq_len} tokens needs about {needed / 2**30:.2f} GB beyond the "
                         f"weights but {free_bytes / 2**30:.2f} GB are free; at most {batch} x "
                         f"{longest_fitting_length(cfg, free_bytes, dtype_bytes, batch)} tokens would fit")
    return chunk


def free_memory_bytes(device):
    """What a forward may still allocate: on CUDA, the free memory plus what PyTorch's allocator holds unused; on a
    CPU, the available RAM (/proc/meminfo's MemAvailable, or a cgroup's limit if lower); None where unknown."""
    device = torch.device(device)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    if device.type != "cpu":
        return None
    try:
        with open("/proc/meminfo") as f:
            available = int(next(line for line in f if line.startswith("MemAvailable:")).split()[1]) * 1024
    except (OSError, StopIteration):
        return None
    try:
        with open("/sys/fs/cgroup/memory.max") as f, open("/sys/fs/cgroup/memory.current") as g:
            limit = f.read().strip()
            if limit != "max":
                available = min(available, int(limit) - int(g.read()))
    except (OSError, ValueError):
        pass
    return available


def cpp_compiler():
    """The C++ compiler torch.compile would use on a CPU ($CXX, g++ or clang++), or None."""
    return next(filter(None, map(shutil.which, (os.environ.get("CXX", "g++"), "clang++"))), None)


class Transformer(nn.Module):
    def __init__(self, cfg, rope=None):
        super().__init__()
        self.config = cfg
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.hidden_size, cfg.norm_eps)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        if cfg.tie_word_embeddings:
            self.lm_head.weight = self.embed_tokens.weight
        self.rope = rope or RopeScaling(original_max_len=cfg.max_position_embeddings)
        self.gradient_checkpointing = False  # train.py turns it on for long sequences
        self.chunk_size = None  # tokens per chunk of an inference forward; None: forward_chunk's choice
        self._rope_tables = {}
        self._compiled = None  # compile_layers()

    def set_rope(self, rope):
        """Swap the position rescaling; weights are untouched (the search tries thousands of these)."""
        self.rope = rope

    def set_sliding_window(self, window):
        """Mistral's window widened, narrowed or dropped (None); weights untouched, and save_model writes it."""
        self.config.sliding_window = window
        for layer in self.layers:
            layer.self_attn.window = window

    def compile_layers(self):
        """torch.compile each block for perplexity evaluation (`--compile` of search.py, eval.py ppl and bench.py).

        Blocks, not the whole forward, so that cos/sin enter them as inputs: the search's next candidate (a new
        rescaling) reuses the compiled code, and a new length compiles once more. Calls with a KV cache (generation)
        or under autograd stay eager. torch.compile needs a C++ compiler on CPU (Triton on CUDA). Returns the model.
        """
        if self.lm_head.weight.device.type == "cpu" and not cpp_compiler():
            raise ValueError("--compile needs a C++ compiler (g++ or clang++, or $CXX) for torch.compile on a CPU")
        self._compiled = [torch.compile(layer) for layer in self.layers]  # a list: no second copy of the weights
        return self

    def rope_tables(self, seq_len, device):
        """cos/sin for positions 0..seq_len-1, reused while the rope and length stay the same."""
        key = (self.rope, seq_len, str(device))
        if key not in self._rope_tables:
            self._rope_tables = {key: rope_cos_sin(self.rope, self.config.rotary_dim, self.config.rope_theta,
                                                   torch.arange(seq_len), seq_len, device)}
        return self._rope_tables[key]

    def forward(self, tokens, start=0, cache=None, rope_len=None):
        """tokens (B, T) at positions start..start+T-1 -> final hidden states (B, T, D).

        `rope_len` is the length the rescaling is chosen for (default: start + T); generation fixes it once.
        """
        B, T = tokens.shape
        chunk = T
        if cache is None and not torch.is_grad_enabled():  # no autograd: memory bounded at any length
            # compiled blocks take the whole sequence while it fits: chunks would run eager
            chunk = self.chunk_size or forward_chunk(self.config, T, free_memory_bytes(tokens.device),
                                                     self.embed_tokens.weight.element_size(), B,
                                                     T if self._compiled else CHUNK_TOKENS)
        cos, sin = self.rope_tables(rope_len or start + T, tokens.device)
        # (T, hd), or (B, 1, T, hd) where each row has its own rescaling (searches.batched_losses)
        cos, sin = cos[..., start:start + T, :], sin[..., start:start + T, :]
        x = self.embed_tokens(tokens)  # (B, T, D)
        if chunk < T:
            for layer in self.layers:
                layer.forward_chunked(x, cos, sin, chunk)
            for s in range(0, T, chunk):
                x[:, s:s + chunk] = self.norm(x[:, s:s + chunk])
            return x
        for i, layer in enumerate(self.layers):
            if self.gradient_checkpointing and torch.is_grad_enabled():
                x = checkpoint(layer, x, cos, sin, None, i, start, use_reentrant=False)
            elif self._compiled and cache is None and not torch.is_grad_enabled():
                x = self._compiled[i](x, cos, sin, None, i, start)
            else:
                x = layer(x, cos, sin, cache, i, start)
        return self.norm(x)

    def logits(self, tokens):
        """Full logits (B, T, V): only for short inputs."""
        return self.lm_head(self.forward(tokens))

    def loss(self, tokens, targets=None, reduction="mean", start=0, rope_len=None):
        """Next-token cross-entropy in nats. targets (B, T) aligned with tokens, -100 ignored; default: the shift.

        `start` / `rope_len` place a shard of a longer sequence (sequence parallelism) at its global positions."""
        hidden = self.forward(tokens, start, rope_len=rope_len)
        if targets is None:
            hidden, targets = hidden[:, :-1], tokens[:, 1:]
        total = chunked_cross_entropy(hidden.reshape(-1, hidden.shape[-1]), self.lm_head.weight, targets.reshape(-1))
        if reduction == "sum":
            return total
        return total / (targets != -100).sum().clamp(min=1)

    @torch.inference_mode()
    def generate(self, prompt, max_new_tokens, eos_id=None):
        """Greedy decoding with a KV cache; prompt (B, T) -> new tokens (B, <= max_new_tokens).

        The rescaling is chosen once for prompt + max_new_tokens, so cached keys and new queries always share it.
        """
        B, T = prompt.shape
        total = T + max_new_tokens
        p = next(self.parameters())
        cache = KVCache(self.config, B, total, prompt.device, p.dtype)
        hidden = self.forward(prompt, 0, cache, rope_len=total)
        out = []
        for step in range(max_new_tokens):
            token = self.lm_head(hidden[:, -1]).argmax(-1, keepdim=True)  # (B, 1)
            out.append(token)
            if eos_id is not None and bool((token == eos_id).all()):
                break
            if step + 1 < max_new_tokens:
                hidden = self.forward(token, T + step, cache, rope_len=total)
        return torch.cat(out, dim=1)


def describe(cfg, rope=None):
    """One line on the model's shape. A model extended by a rescaling (`rope`) has config.json's length as its
    context length and the rope's original length apart."""
    n = cfg.vocab_size * cfg.hidden_size * (1 if cfg.tie_word_embeddings else 2) + cfg.n_layers * (
        cfg.hidden_size * cfg.head_dim * (2 * cfg.n_heads + 2 * cfg.n_kv_heads) + 3 * cfg.hidden_size * cfg.intermediate_size)
    original = rope.original_max_len if rope is not None and rope.method != "none" else cfg.max_position_embeddings
    length = (f"original length {original}" if original == cfg.max_position_embeddings
              else f"context length {cfg.max_position_embeddings}, original length {original}")
    return f"{cfg.model_type} {n / 1e6:.1f}M params, {cfg.n_layers} layers, {cfg.n_heads}x{cfg.head_dim} heads " \
           f"({cfg.n_kv_heads} kv), {length}"


# ----------------------------------------------------------------------------------------------------------------
# Checkpoints: checkpoint.py; `from model import load_model` keeps working (a lazy import: checkpoint.py imports
# this file)

CHECKPOINT_NAMES = ("load_model", "save_model", "resolve_model_dir", "hf_config_dict", "config_from_hf",
                    "config_from_meta", "rope_dict_from_hf", "hf_key_map", "meta_key_map", "meta_to_rotate_half",
                    "FAMILIES", "TINY_DIR")


def __getattr__(name):
    if name in CHECKPOINT_NAMES:
        import checkpoint as checkpoint_file  # `checkpoint` here is torch's activation checkpointing
        return getattr(checkpoint_file, name)
    raise AttributeError(f"module 'model' has no attribute '{name}'")
