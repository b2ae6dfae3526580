"""Full definition of a Llama-2 / Mistral language model, its checkpoint loading and saving, in this single file.

The network: token embeddings, pre-norm blocks of RMSNorm -> grouped-query attention with rotary positions ->
RMSNorm -> SwiGLU MLP, a final RMSNorm and the LM head (Touvron et al. 2023, Llama 2; Jiang et al. 2023, Mistral 7B
with its sliding-window attention). Positions go through longrope.py, so any rescaling method of the LongRoPE paper
(Ding et al. 2024, Section 2-3) can be swapped on a loaded model without touching its weights (`set_rope`).

Long sequences never materialize `length x vocab` logits: the loss is a chunked cross-entropy over the final hidden
states (Section 4's perplexity evaluation at 2048k tokens would otherwise need terabytes).

Checkpoints: Hugging Face (config.json + model.safetensors[.index.json] or pytorch_model*.bin) and Meta
(params.json + consolidated.*.pth, whose interleaved q/k layout is converted to rotate-half once, in
`meta_to_rotate_half`). Loading is strict, goes through an explicit key map, builds the model on the meta device
and assigns mmap'd tensors, so a 7B model needs about one copy of its weights in memory.
"""

import glob
import json
import math
import os
import shutil
from dataclasses import dataclass, replace

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from longrope import RopeScaling, apply_rope, check_rope_dict, rope_cos_sin, rope_from_hf, to_hf

TINY_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tiny")


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
    eos_token_id: int | None = 2
    model_type: str = "llama"


PRESETS = {
    "llama-2-7b": ModelConfig(),
    "llama-2-13b": ModelConfig(hidden_size=5120, n_layers=40, n_heads=40, n_kv_heads=40, intermediate_size=13824),
    "mistral-7b": ModelConfig(n_kv_heads=8, intermediate_size=14336, max_position_embeddings=32768,
                              sliding_window=4096, model_type="mistral"),
}


def config_from_hf(cfg):
    """ModelConfig from a Hugging Face config.json dict (Llama or Mistral)."""
    if cfg.get("model_type") not in ("llama", "mistral"):
        raise ValueError(f"model_type '{cfg.get('model_type')}' is not supported; expected llama or mistral")
    if cfg.get("attention_bias") or cfg.get("mlp_bias") or cfg.get("hidden_act", "silu") != "silu":
        raise ValueError("only Llama/Mistral without biases and with SiLU (SwiGLU) MLPs are supported")
    n_heads = cfg["num_attention_heads"]
    rope_params = cfg.get("rope_parameters") or {}
    window = cfg.get("sliding_window") if cfg["model_type"] == "mistral" else None
    return ModelConfig(
        vocab_size=cfg["vocab_size"],
        hidden_size=cfg["hidden_size"],
        n_layers=cfg["num_hidden_layers"],
        n_heads=n_heads,
        n_kv_heads=cfg.get("num_key_value_heads") or n_heads,
        head_dim=cfg.get("head_dim") or cfg["hidden_size"] // n_heads,
        intermediate_size=cfg["intermediate_size"],
        norm_eps=cfg.get("rms_norm_eps", 1e-6),
        rope_theta=float(cfg.get("rope_theta") or rope_params.get("rope_theta") or 10000.0),
        max_position_embeddings=cfg.get("max_position_embeddings", 4096),
        sliding_window=window,
        tie_word_embeddings=bool(cfg.get("tie_word_embeddings", False)),
        bos_token_id=cfg.get("bos_token_id"),
        eos_token_id=cfg.get("eos_token_id"),
        model_type=cfg["model_type"],
    )


def rope_dict_from_hf(cfg):
    """The rope scaling dict of a config.json, whichever key this transformers version wrote it under."""
    rope = dict(cfg.get("rope_parameters") or cfg.get("rope_scaling") or {})
    return None if rope.get("rope_type", rope.get("type", "default")) == "default" else rope


def config_from_meta(params, vocab_size, max_len=None):
    """ModelConfig from Meta's params.json; the MLP width follows Meta's rounding rule."""
    dim, n_heads = params["dim"], params["n_heads"]
    hidden = int(2 * (4 * dim) / 3)
    if params.get("ffn_dim_multiplier"):
        hidden = int(params["ffn_dim_multiplier"] * hidden)
    multiple = params.get("multiple_of", 256)
    hidden = multiple * ((hidden + multiple - 1) // multiple)
    return ModelConfig(
        vocab_size=vocab_size, hidden_size=dim, n_layers=params["n_layers"], n_heads=n_heads,
        n_kv_heads=params.get("n_kv_heads") or n_heads, head_dim=dim // n_heads, intermediate_size=hidden,
        norm_eps=params.get("norm_eps", 1e-5), rope_theta=float(params.get("rope_theta", 10000.0)),
        max_position_embeddings=max_len or params.get("max_seq_len", 4096))


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
        self.q_proj = nn.Linear(cfg.hidden_size, cfg.n_heads * cfg.head_dim, bias=False)
        self.k_proj = nn.Linear(cfg.hidden_size, cfg.n_kv_heads * cfg.head_dim, bias=False)
        self.v_proj = nn.Linear(cfg.hidden_size, cfg.n_kv_heads * cfg.head_dim, bias=False)
        self.o_proj = nn.Linear(cfg.n_heads * cfg.head_dim, cfg.hidden_size, bias=False)

    def forward(self, x, cos, sin, cache=None, layer=0, start=0):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.n_heads, self.head_dim).transpose(1, 2)  # (B, nh, T, hd)
        k = self.k_proj(x).view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)  # (B, nkv, T, hd)
        v = self.v_proj(x).view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)  # (B, nkv, T, hd)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
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


def cpp_compiler():
    """The C++ compiler torch.compile would use on a CPU ($CXX, g++ or clang++), or None."""
    return next(filter(None, map(shutil.which, (os.environ.get("CXX", "g++"), "clang++"))), None)


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
        self._rope_tables = {}
        self._compiled = None  # compile_layers()

    def set_rope(self, rope):
        """Swap the position rescaling; weights are untouched (the search tries thousands of these)."""
        self.rope = rope

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
            self._rope_tables = {key: rope_cos_sin(self.rope, self.config.head_dim, self.config.rope_theta,
                                                   torch.arange(seq_len), seq_len, device)}
        return self._rope_tables[key]

    def forward(self, tokens, start=0, cache=None, rope_len=None):
        """tokens (B, T) at positions start..start+T-1 -> final hidden states (B, T, D).

        `rope_len` is the length the rescaling is chosen for (default: start + T); generation fixes it once.
        """
        B, T = tokens.shape
        cos, sin = self.rope_tables(rope_len or start + T, tokens.device)
        cos, sin = cos[start:start + T], sin[start:start + T]  # (T, hd)
        x = self.embed_tokens(tokens)  # (B, T, D)
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


# ----------------------------------------------------------------------------------------------------------------
# Checkpoints: explicit key maps, strict loading, mmap, meta device

_LAYER_KEYS = {  # Hugging Face name inside model.layers.{i} -> Meta name inside layers.{i}
    "self_attn.q_proj": "attention.wq", "self_attn.k_proj": "attention.wk", "self_attn.v_proj": "attention.wv",
    "self_attn.o_proj": "attention.wo", "mlp.gate_proj": "feed_forward.w1", "mlp.down_proj": "feed_forward.w2",
    "mlp.up_proj": "feed_forward.w3", "input_layernorm": "attention_norm", "post_attention_layernorm": "ffn_norm",
}
# Meta shards a model over several files (model parallel): the dimension each weight is split along; None: copied
_META_SPLIT = {"tok_embeddings": 1, "output": 0, "wq": 0, "wk": 0, "wv": 0, "wo": 1, "w1": 0, "w2": 1, "w3": 0}


def hf_key_map(cfg):
    """Hugging Face checkpoint key -> our parameter name (ours are Hugging Face's without the `model.` prefix)."""
    keys = {"model.embed_tokens.weight": "embed_tokens.weight", "model.norm.weight": "norm.weight"}
    if not cfg.tie_word_embeddings:
        keys["lm_head.weight"] = "lm_head.weight"
    for i in range(cfg.n_layers):
        for name in _LAYER_KEYS:
            keys[f"model.layers.{i}.{name}.weight"] = f"layers.{i}.{name}.weight"
    return keys


def meta_key_map(cfg):
    """Meta checkpoint key -> our parameter name."""
    keys = {"tok_embeddings.weight": "embed_tokens.weight", "norm.weight": "norm.weight",
            "output.weight": "lm_head.weight"}
    for i in range(cfg.n_layers):
        for ours, meta in _LAYER_KEYS.items():
            keys[f"layers.{i}.{meta}.weight"] = f"layers.{i}.{ours}.weight"
    return keys


def meta_to_rotate_half(w, n_heads):
    """Meta rotates channel pairs (2j, 2j+1) of each head; Hugging Face pairs (j, j + hd/2) ("rotate half").

    Reordering the output rows of wq/wk so that row 2j goes to j and row 2j+1 to j + hd/2 makes both layouts
    compute the same attention scores (the same permutation transformers' conversion script applies).
    """
    out_dim, in_dim = w.shape
    return w.view(n_heads, out_dim // n_heads // 2, 2, in_dim).transpose(1, 2).reshape(out_dim, in_dim)


def _read_tensors(file):
    """All tensors of one checkpoint file, mmap'd where the format allows."""
    try:
        if file.endswith(".safetensors"):
            from safetensors import safe_open
            with safe_open(file, framework="pt") as f:
                return {k: f.get_tensor(k) for k in f.keys()}
        try:
            return torch.load(file, map_location="cpu", mmap=True, weights_only=True)
        except RuntimeError as e:
            if "mmap" not in str(e):
                raise
            return torch.load(file, map_location="cpu", weights_only=True)  # an old, non-zip .bin
    except FileNotFoundError:
        raise ValueError(f"checkpoint file {file} is missing") from None
    except Exception as e:  # safetensors and pickle errors have no common base class
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"checkpoint file {file} cannot be read ({first})") from None


def _read_json(file):
    try:
        with open(file) as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{file} is not valid JSON ({e})") from None


def _hf_weight_files(path):
    for index, single in (("model.safetensors.index.json", "model.safetensors"),
                          ("pytorch_model.bin.index.json", "pytorch_model.bin")):
        if os.path.exists(os.path.join(path, index)):
            weight_map = _read_json(os.path.join(path, index)).get("weight_map", {})
            return [os.path.join(path, f) for f in sorted(set(weight_map.values()))]
        if os.path.exists(os.path.join(path, single)):
            return [os.path.join(path, single)]
    raise ValueError(f"{path} has a config.json but no weights (model.safetensors, its index, or pytorch_model.bin)")


def _merge_meta_shards(shards):
    if len(shards) == 1:
        return shards[0]
    merged = {}
    for key in shards[0]:
        dim = _META_SPLIT.get(key.split(".")[-2])
        merged[key] = shards[0][key] if dim is None else torch.cat([s[key] for s in shards], dim=dim)
    return merged


def resolve_model_dir(path):
    return TINY_DIR if path in (None, "tiny") else path


def load_model(path="tiny", device=None, dtype=None, rope=None, max_len=None):
    """Loads a Llama/Mistral checkpoint folder (Hugging Face or Meta format) into our Transformer.

    device defaults to CUDA when present; dtype to bfloat16 on CUDA, float32 on CPU. The config's own rope scaling
    is used unless `rope` is given. `max_len` overrides the original context length of a Meta checkpoint.
    """
    path = resolve_model_dir(path)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = dtype or (torch.bfloat16 if device.type == "cuda" else torch.float32)
    if not os.path.isdir(path):
        raise ValueError(f"model folder {path} does not exist")
    if os.path.exists(os.path.join(path, "config.json")):
        hf = _read_json(os.path.join(path, "config.json"))
        try:
            cfg = config_from_hf(hf)
        except KeyError as e:
            raise ValueError(f"{path}/config.json lacks the field {e}") from None
        state = {}
        for file in _hf_weight_files(path):
            state.update(_read_tensors(file))
        # transformers < 4.31 saved RoPE's inverse frequencies as buffers; they are recomputed, never loaded
        state = {k: v for k, v in state.items() if not k.endswith("rotary_emb.inv_freq")}
        if cfg.tie_word_embeddings:
            state.pop("lm_head.weight", None)
        key_map, permute = hf_key_map(cfg), {}
        where = f"{path}/config.json"
        check_rope_dict(rope_dict_from_hf(hf), where, cfg.head_dim, cfg.max_position_embeddings, hf.get("n_hat", 0))
        file_rope = rope_from_hf(rope_dict_from_hf(hf), cfg.head_dim, cfg.max_position_embeddings, where)
        if file_rope.method == "longrope" and hf.get("n_hat"):  # ours, written by save_model / search.py --export
            file_rope = replace(file_rope, n_hat=hf["n_hat"])
    elif os.path.exists(os.path.join(path, "params.json")):
        files = sorted(glob.glob(os.path.join(path, "consolidated.*.pth")))
        if not files:
            raise ValueError(f"{path} has a params.json but no consolidated.*.pth weights")
        state = _merge_meta_shards([_read_tensors(f) for f in files])
        state.pop("rope.freqs", None)  # Meta's precomputed frequencies, recomputed here
        if "tok_embeddings.weight" not in state:
            raise ValueError(f"{path}: Meta checkpoint lacks tok_embeddings.weight")
        params = _read_json(os.path.join(path, "params.json"))
        cfg = config_from_meta(params, state["tok_embeddings.weight"].shape[0], max_len)
        key_map = meta_key_map(cfg)
        permute = {f"layers.{i}.attention.{w}.weight": heads for i in range(cfg.n_layers)
                   for w, heads in (("wq", cfg.n_heads), ("wk", cfg.n_kv_heads))}
        file_rope = RopeScaling(original_max_len=cfg.max_position_embeddings)
    else:
        raise ValueError(f"{path} has neither config.json (Hugging Face) nor params.json (Meta)")

    missing = sorted(set(key_map) - set(state))
    unexpected = sorted(set(state) - set(key_map))
    if missing or unexpected:
        parts = ([f"missing {', '.join(missing[:5])}" + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")]
                 if missing else []) + ([f"unexpected {', '.join(unexpected[:5])}" +
                                        (f" and {len(unexpected) - 5} more" if len(unexpected) > 5 else "")]
                                       if unexpected else [])
        raise ValueError(f"checkpoint {path} does not match its config: {'; '.join(parts)}")

    with torch.device("meta"):
        model = Transformer(cfg, rope=rope or file_rope)
    expected = dict(model.named_parameters())
    ours = {}
    for key, name in key_map.items():
        tensor = state[key]
        if key in permute:
            tensor = meta_to_rotate_half(tensor, permute[key])
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise ValueError(f"checkpoint {path}: {key} has shape {tuple(tensor.shape)}, "
                             f"expected {tuple(expected[name].shape)}")
        ours[name] = tensor.to(dtype)
    if cfg.tie_word_embeddings:
        ours["lm_head.weight"] = ours["embed_tokens.weight"]
    model.load_state_dict(ours, strict=True, assign=True)
    if cfg.tie_word_embeddings:
        model.lm_head.weight = model.embed_tokens.weight
    return model.to(device).eval()


def hf_config_dict(cfg, rope=None):
    """config.json for transformers' LlamaForCausalLM / MistralForCausalLM."""
    d = {
        "architectures": ["MistralForCausalLM" if cfg.model_type == "mistral" else "LlamaForCausalLM"],
        "model_type": cfg.model_type, "vocab_size": cfg.vocab_size, "hidden_size": cfg.hidden_size,
        "num_hidden_layers": cfg.n_layers, "num_attention_heads": cfg.n_heads, "num_key_value_heads": cfg.n_kv_heads,
        "head_dim": cfg.head_dim, "intermediate_size": cfg.intermediate_size, "rms_norm_eps": cfg.norm_eps,
        "rope_theta": cfg.rope_theta, "max_position_embeddings": cfg.max_position_embeddings,
        "tie_word_embeddings": cfg.tie_word_embeddings, "bos_token_id": cfg.bos_token_id,
        "eos_token_id": cfg.eos_token_id, "hidden_act": "silu", "attention_bias": False, "mlp_bias": False,
        "torch_dtype": "float32",
    }
    if cfg.model_type == "mistral":
        d["sliding_window"] = cfg.sliding_window
    if rope is not None and rope.method != "none":
        d["rope_scaling"] = to_hf(rope, cfg.head_dim)
        d["max_position_embeddings"] = int(round(rope.factor * rope.original_max_len))
        if rope.method == "longrope":
            d["n_hat"] = rope.n_hat  # ours; transformers keeps it as an unused attribute
    return d


def save_model(model, out_dir, rope=None, dtype=None):
    """Writes Hugging Face format (config.json + model.safetensors), atomically, loadable by transformers.

    The config carries `rope` (default: the model's current one) as its rope scaling dict."""
    from safetensors.torch import save_file
    os.makedirs(out_dir, exist_ok=True)
    cfg = model.config
    keys = {ours: hf for hf, ours in hf_key_map(cfg).items()}
    state = {keys[name]: p.detach().to(dtype or p.dtype).contiguous().cpu()
             for name, p in model.named_parameters() if name in keys}
    config = hf_config_dict(cfg, model.rope if rope is None else rope)
    config["torch_dtype"] = str(next(iter(state.values())).dtype).replace("torch.", "")
    save_file(state, os.path.join(out_dir, "model.safetensors.tmp"), metadata={"format": "pt"})
    os.replace(os.path.join(out_dir, "model.safetensors.tmp"), os.path.join(out_dir, "model.safetensors"))
    with open(os.path.join(out_dir, "config.json.tmp"), "w") as f:
        json.dump(config, f, indent=2)
    os.replace(os.path.join(out_dir, "config.json.tmp"), os.path.join(out_dir, "config.json"))
    return out_dir


def describe(cfg):
    n = cfg.vocab_size * cfg.hidden_size * (1 if cfg.tie_word_embeddings else 2) + cfg.n_layers * (
        cfg.hidden_size * cfg.head_dim * (2 * cfg.n_heads + 2 * cfg.n_kv_heads) + 3 * cfg.hidden_size * cfg.intermediate_size)
    return f"{cfg.model_type} {n / 1e6:.1f}M params, {cfg.n_layers} layers, {cfg.n_heads}x{cfg.head_dim} heads " \
           f"({cfg.n_kv_heads} kv), original length {cfg.max_position_embeddings}"


