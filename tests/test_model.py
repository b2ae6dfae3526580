"""model.py against transformers' LlamaForCausalLM / MistralForCausalLM: checkpoint formats (Hugging Face safetensors,
sharded, .bin; Meta consolidated.*.pth), rope configs, chunked loss, KV-cache decoding, memory at 16k tokens and
clear errors for broken checkpoints."""

import functools
import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

import loss as loss_module
import model as model_module
from conftest import LONGROPE_DICT, hf_logits, hf_model, save_hf, tokens_for
from longrope import RopeScaling
from model import chunked_cross_entropy, load_model, meta_to_rotate_half, save_model

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@torch.no_grad()
def max_diff(ours, hf, tokens):
    return (ours.logits(tokens) - hf_logits(hf, tokens)).abs().max().item()


# ----------------------------------------------------------------------------------------------------------------
# Hugging Face checkpoints


@pytest.mark.parametrize("model_type,fmt", [
    ("llama", "safetensors"), ("llama", "sharded"), ("llama", "bin"), ("llama", "bin-sharded"),
    ("mistral", "safetensors"), ("mistral", "sharded"), ("mistral", "bin")])
def test_logits_equal_transformers(hf_checkpoint, model_type, fmt):
    hf, path = hf_checkpoint(model_type, fmt)
    if fmt == "sharded":
        assert len([f for f in os.listdir(path) if f.endswith(".safetensors")]) > 2
        assert os.path.exists(os.path.join(path, "model.safetensors.index.json"))
    ours = load_model(path, device="cpu")
    assert ours.config.n_kv_heads == (2 if model_type == "mistral" else 4)
    assert ours.config.rope_theta == 1000.0  # transformers 5 keeps it inside rope_parameters
    assert max_diff(ours, hf, tokens_for(24)) < 1e-4  # Mistral: 24 tokens, window 8


def test_head_dim_other_than_hidden_over_heads(hf_checkpoint):
    """Mistral-NeMo style: 4 heads of 32 channels on a 64-wide residual stream."""
    hf, path = hf_checkpoint("mistral", "safetensors", head_dim=32)
    ours = load_model(path, device="cpu")
    assert ours.config.head_dim == 32
    assert max_diff(ours, hf, tokens_for(24)) < 1e-4


def test_rope_argument_overrides_the_config(tmp_path):
    """load_model(rope=...) replaces the config's own rescaling: the result is transformers with that rope."""
    rope_dict = {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32}
    path = save_hf(hf_model(), str(tmp_path / "plain"))
    ours = load_model(path, device="cpu", rope=RopeScaling("yarn", 4.0, 32))
    hf = hf_model(rope_scaling=rope_dict, max_position_embeddings=128)
    assert max_diff(ours, hf, tokens_for(40)) < 1e-4


def test_tied_word_embeddings(hf_checkpoint):
    hf, path = hf_checkpoint("llama", "safetensors", tie_word_embeddings=True)
    ours = load_model(path, device="cpu")
    assert ours.lm_head.weight is ours.embed_tokens.weight
    assert max_diff(ours, hf, tokens_for(20)) < 1e-4


def test_sliding_window_masks_exactly_the_old_tokens(hf_checkpoint):
    """Each token sees itself and the window - 1 before it: the first 8 positions cannot tell the difference."""
    hf, path = hf_checkpoint("mistral", "safetensors")
    ours, tokens = load_model(path, device="cpu"), tokens_for(24)
    with torch.no_grad():
        windowed = ours.logits(tokens)
        for layer in ours.layers:
            layer.self_attn.window = None
        full = ours.logits(tokens)
    torch.testing.assert_close(windowed[:, :8], full[:, :8])
    assert (windowed[:, 8:] - full[:, 8:]).abs().amax(-1).min() > 1e-3


@pytest.mark.parametrize("rope_dict,max_len", [
    ({"rope_type": "linear", "factor": 4.0}, 32),
    ({"rope_type": "dynamic", "factor": 2.0}, 32),
    ({"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32}, 128),
    (LONGROPE_DICT, 128),
])
@pytest.mark.parametrize("seq_len", [20, 48])  # below and above the original length (32)
def test_rope_config_from_config_json(tmp_path, rope_dict, max_len, seq_len):
    hf = hf_model(rope_scaling=rope_dict, max_position_embeddings=max_len)
    ours = load_model(save_hf(hf, str(tmp_path / "m")), device="cpu")
    tokens = tokens_for(seq_len)
    assert max_diff(ours, hf, tokens) < 1e-4
    if not (rope_dict["rope_type"] == "dynamic" and seq_len <= 32):  # else the rescaling is the identity
        assert max_diff(ours, hf_model(), tokens) > 1e-2


def test_random_longrope_factors(tmp_path):
    """Random monotone short and long factors (the search's output), config length = factor * original."""
    g = torch.Generator().manual_seed(3)
    short = sorted((1 + 0.5 * torch.rand(8, generator=g)).tolist())
    long = sorted((1 + 15 * torch.rand(8, generator=g)).tolist())
    rope_dict = {"rope_type": "longrope", "original_max_position_embeddings": 32, "factor": 4.0,
                 "short_factor": short, "long_factor": long}
    hf = hf_model(rope_scaling=rope_dict, max_position_embeddings=128)
    ours = load_model(save_hf(hf, str(tmp_path / "m")), device="cpu")
    assert ours.rope.long_factor == pytest.approx(long) and ours.rope.original_max_len == 32
    for seq_len in (31, 32, 33, 64):
        assert max_diff(ours, hf, tokens_for(seq_len)) < 1e-4


def test_save_model_is_read_by_transformers(tmp_path, hf_checkpoint):
    from transformers import AutoModelForCausalLM
    hf, path = hf_checkpoint("mistral", "safetensors")
    ours = load_model(path, device="cpu")
    rope = RopeScaling("longrope", 4.0, 32, long_factor=tuple(LONGROPE_DICT["long_factor"]),
                       short_factor=tuple(LONGROPE_DICT["short_factor"]))
    ours.set_rope(rope)
    out = save_model(ours, str(tmp_path / "saved"), rope=rope)
    theirs = AutoModelForCausalLM.from_pretrained(out, attn_implementation="eager").eval()
    assert type(theirs).__name__ == "MistralForCausalLM"
    assert theirs.config.max_position_embeddings == 128
    for seq_len in (20, 48):
        assert max_diff(ours, theirs, tokens_for(seq_len)) < 1e-4
    assert load_model(out, device="cpu").rope == rope


# ----------------------------------------------------------------------------------------------------------------
# Meta checkpoints


def to_meta_layout(w, n_heads):
    """Hugging Face rotate-half rows back to Meta's interleaved pairs, written out row by row: within a head,
    Meta's row 2j + c (c = 0, 1) is Hugging Face's row j + c * hd / 2."""
    head_dim = w.shape[0] // n_heads
    half = head_dim // 2
    rows = [h * head_dim + c * half + j for h in range(n_heads) for j in range(half) for c in (0, 1)]
    return w[rows]


def meta_state_dict(hf):
    cfg = hf.config
    sd = {k: v.detach().clone() for k, v in hf.state_dict().items()}
    meta = {"tok_embeddings.weight": sd["model.embed_tokens.weight"], "norm.weight": sd["model.norm.weight"],
            "output.weight": sd["lm_head.weight"], "rope.freqs": torch.ones(cfg.head_dim // 2)}
    names = {"self_attn.q_proj": "attention.wq", "self_attn.k_proj": "attention.wk", "self_attn.v_proj": "attention.wv",
             "self_attn.o_proj": "attention.wo", "mlp.gate_proj": "feed_forward.w1", "mlp.down_proj": "feed_forward.w2",
             "mlp.up_proj": "feed_forward.w3", "input_layernorm": "attention_norm",
             "post_attention_layernorm": "ffn_norm"}
    for i in range(cfg.num_hidden_layers):
        for hf_name, meta_name in names.items():
            w = sd[f"model.layers.{i}.{hf_name}.weight"]
            if meta_name == "attention.wq":
                w = to_meta_layout(w, cfg.num_attention_heads)
            if meta_name == "attention.wk":
                w = to_meta_layout(w, cfg.num_key_value_heads)
            meta[f"layers.{i}.{meta_name}.weight"] = w
    return meta


def split_for_model_parallel(state, n):
    """Meta's model-parallel files: each holds 1/n of every weight along the dimension its layer is split on."""
    dims = {"tok_embeddings": 1, "output": 0, "wq": 0, "wk": 0, "wv": 0, "w1": 0, "w3": 0, "wo": 1, "w2": 1}
    shards = [{} for _ in range(n)]
    for key, w in state.items():
        dim = dims.get(key.split(".")[-2])
        for rank in range(n):
            shards[rank][key] = w.clone() if dim is None else w.chunk(n, dim=dim)[rank].clone()
    return shards


@pytest.mark.parametrize("n_shards,params,overrides", [
    (1, {"multiple_of": 32, "ffn_dim_multiplier": None, "rope_theta": 1000.0}, {"intermediate_size": 192}),
    # Llama-2-70B style: grouped-query heads and an MLP width multiplier; Llama 2's params.json has no rope_theta
    (2, {"multiple_of": 16, "ffn_dim_multiplier": 1.3, "n_kv_heads": 2},
     {"intermediate_size": 224, "num_key_value_heads": 2, "rope_theta": 10000.0}),
])
def test_meta_checkpoint(tmp_path, n_shards, params, overrides):
    hf = hf_model(**overrides)
    folder = tmp_path / "meta"
    folder.mkdir()
    params = {"dim": 64, "n_layers": 2, "n_heads": 4, "norm_eps": 1e-5, "vocab_size": -1, **params}
    (folder / "params.json").write_text(json.dumps(params))
    for rank, shard in enumerate(split_for_model_parallel(meta_state_dict(hf), n_shards)):
        torch.save(shard, folder / f"consolidated.{rank:02d}.pth")
    ours = load_model(str(folder), device="cpu")
    assert ours.config.intermediate_size == overrides["intermediate_size"]
    assert ours.config.vocab_size == 96
    assert max_diff(ours, hf, tokens_for(24)) < 1e-4


def test_meta_original_length(tmp_path):
    """A Meta params.json rarely states the context length: max_seq_len when it does, else 4096, and max_len wins."""
    hf = hf_model(intermediate_size=192)
    folder = tmp_path / "meta"
    folder.mkdir()
    torch.save(meta_state_dict(hf), folder / "consolidated.00.pth")
    params = {"dim": 64, "n_layers": 2, "n_heads": 4, "norm_eps": 1e-5, "vocab_size": -1, "multiple_of": 32,
              "rope_theta": 1000.0}
    (folder / "params.json").write_text(json.dumps(params))
    assert load_model(str(folder), device="cpu").rope.original_max_len == 4096
    (folder / "params.json").write_text(json.dumps({**params, "max_seq_len": 2048}))
    assert load_model(str(folder), device="cpu").config.max_position_embeddings == 2048
    ours = load_model(str(folder), device="cpu", max_len=16384)
    assert ours.config.max_position_embeddings == 16384 and ours.rope.original_max_len == 16384


def test_meta_permutation_inverts_the_test_conversion():
    w = torch.randn(4 * 16, 8)
    torch.testing.assert_close(meta_to_rotate_half(to_meta_layout(w, 4), 4), w, rtol=0, atol=0)
    assert not torch.equal(to_meta_layout(w, 4), w)


def meta_attention_scores(x, wq, wk, n_heads, base):
    """Attention scores as Meta's llama code computes them: q and k rotated as complex numbers, channel pairs
    (2j, 2j+1) turning by position * base^(-2j/hd) (its precompute_freqs_cis and apply_rotary_emb), in float64."""
    T, head_dim = x.shape[0], wq.shape[0] // n_heads
    freqs = 1.0 / base ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    turns = torch.polar(torch.ones(T, head_dim // 2, dtype=torch.float64), torch.outer(torch.arange(T).double(), freqs))

    def rotate(w):
        pairs = (x @ w.t()).view(T, n_heads, head_dim // 2, 2)  # (T, nh, hd/2, 2)
        return torch.view_as_real(torch.view_as_complex(pairs.contiguous()) * turns[:, None]).reshape(T, n_heads, -1)

    q, k = rotate(wq), rotate(wk)
    return torch.einsum("qhd,khd->hqk", q, k)  # (nh, T, T)


def test_meta_permutation_gives_meta_attention_scores():
    """Meta-layout q/k weights, converted once, give under rotate-half RoPE the scores Meta's interleaved rotary
    embedding gives with the original weights; unconverted weights do not."""
    from longrope import RopeScaling, apply_rope, rope_cos_sin
    g = torch.Generator().manual_seed(0)
    n_heads, head_dim, T, base = 4, 16, 12, 1000.0
    x = torch.randn(T, 32, generator=g, dtype=torch.float64)
    wq, wk = (torch.randn(n_heads * head_dim, 32, generator=g, dtype=torch.float64) for _ in range(2))
    expected = meta_attention_scores(x, wq, wk, n_heads, base)
    cos, sin = rope_cos_sin(RopeScaling(original_max_len=64), head_dim, base, torch.arange(T), T)

    def ours(wq, wk):
        q, k = ((x @ w.t()).view(T, n_heads, head_dim).transpose(0, 1) for w in (wq, wk))  # (nh, T, hd)
        q, k = apply_rope(q, cos.double(), sin.double()), apply_rope(k, cos.double(), sin.double())
        return q @ k.transpose(1, 2)

    converted = ours(meta_to_rotate_half(wq, n_heads), meta_to_rotate_half(wk, n_heads))
    torch.testing.assert_close(converted, expected, rtol=1e-5, atol=1e-4)
    assert (ours(wq, wk) - expected).abs().max() > 1.0


# ----------------------------------------------------------------------------------------------------------------
# Loss and decoding


@pytest.mark.parametrize("chunk_size", [None, 1, 3, 7, 100])
def test_chunked_cross_entropy_equals_full(chunk_size):
    g = torch.Generator().manual_seed(0)
    hidden = torch.randn(23, 16, generator=g, requires_grad=True)
    weight = torch.randn(50, 16, generator=g, requires_grad=True)
    targets = torch.randint(0, 50, (23,), generator=g)
    targets[[0, 4, 5, 6, 22]] = -100
    got = chunked_cross_entropy(hidden, weight, targets, chunk_size)
    grads = torch.autograd.grad(got, (hidden, weight))
    expected = F.cross_entropy(hidden @ weight.t(), targets, ignore_index=-100, reduction="sum")
    expected_grads = torch.autograd.grad(expected, (hidden, weight))
    torch.testing.assert_close(got, expected)
    for a, b in zip(grads, expected_grads):
        torch.testing.assert_close(a, b)
    assert grads[0][[0, 4, 5, 6, 22]].abs().max() == 0  # ignored rows get no gradient


def saved_for_backward(fn):
    """Elements held by the tensors autograd keeps for the backward pass while `fn` runs, one count per storage
    (each chunk's rows are views of the same hidden states, the weight is the same weight every time)."""
    storages = {}

    def pack(tensor):
        storages[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes() // tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        out = fn()
    return out, list(storages.values())


@pytest.mark.parametrize("rows", [512, 2048])
def test_chunked_loss_keeps_no_length_by_vocabulary_tensor_for_backward(rows):
    """Training memory stays linear in length: what autograd saves grows with rows x hidden and vocabulary x hidden,
    never with rows x vocabulary (each chunk's logits are recomputed in the backward pass). The full loss, measured
    the same way, does keep rows x vocabulary numbers: the measurement sees logits when they are kept."""
    g = torch.Generator().manual_seed(3)
    vocab, dim = 1000, 16
    hidden = torch.randn(rows, dim, generator=g, requires_grad=True)
    weight = torch.randn(vocab, dim, generator=g, requires_grad=True)
    targets = torch.randint(0, vocab, (rows,), generator=g)
    loss, sizes = saved_for_backward(lambda: chunked_cross_entropy(hidden, weight, targets, chunk_size=64))
    full, full_sizes = saved_for_backward(lambda: F.cross_entropy(hidden @ weight.t(), targets, reduction="sum"))
    assert sum(full_sizes) >= rows * vocab
    assert max(sizes, default=0) <= max(rows * dim, vocab * dim) and sum(sizes) < 4 * (rows + vocab) * dim
    torch.testing.assert_close(loss, full)
    torch.testing.assert_close(torch.autograd.grad(loss, hidden)[0], torch.autograd.grad(full, hidden)[0])


@pytest.mark.parametrize("chunk_size,vocab_chunk", [(None, None), (None, 7), (3, 7), (5, 50), (100, 1)])
def test_tiled_cross_entropy_without_autograd_equals_full(chunk_size, vocab_chunk):
    """Inference on a CPU walks the vocabulary in tiles (the online softmax); spread logits make a wrong running
    maximum or rescaling show at once."""
    g = torch.Generator().manual_seed(1)
    hidden = 4 * torch.randn(23, 16, generator=g)
    weight = torch.randn(50, 16, generator=g)
    targets = torch.randint(0, 50, (23,), generator=g)
    targets[[1, 2, 9]] = -100
    expected = F.cross_entropy(hidden @ weight.t(), targets, ignore_index=-100, reduction="sum")
    with torch.inference_mode():
        got = chunked_cross_entropy(hidden, weight, targets, chunk_size, vocab_chunk)
    assert got.item() == pytest.approx(expected.item(), rel=1e-6)
    assert expected.item() > 100  # the logits are far from uniform


def test_default_tiles_cover_partial_row_chunks_and_vocabulary_tiles():
    """The CPU defaults (2048 rows x 1024 vocabulary columns) with a partial last chunk of rows and a partial last
    tile of the vocabulary: 2100 rows and 1100 words are two of each."""
    g = torch.Generator().manual_seed(2)
    hidden, weight = 3 * torch.randn(2100, 16, generator=g), torch.randn(1100, 16, generator=g)
    targets = torch.randint(0, 1100, (2100,), generator=g)
    targets[2090:] = -100
    expected = F.cross_entropy(hidden @ weight.t(), targets, ignore_index=-100, reduction="sum")
    with torch.inference_mode():
        got = chunked_cross_entropy(hidden, weight, targets)
    assert got.item() == pytest.approx(expected.item(), rel=1e-6)
    top = (hidden @ weight.t()).argmax(1)
    assert (top >= 1024).any() and (top < 1024).any()  # rows whose maximum lies in either tile


def largest_power_of_two_within(limit):
    return 1 << (limit.bit_length() - 1)


@pytest.mark.parametrize("vocab", [96, 8192, 32000, 128256])
def test_loss_chunks_of_each_device(vocab):
    """The chunk choice as a pure function, the GPU's included: at most 16M logits a chunk on a GPU, 8M on a CPU
    under autograd, 2048 x 1024 tiles on a CPU without it once the vocabulary exceeds a tile."""
    for grad in (False, True):
        assert loss_module.loss_chunks(vocab, True, grad) == (False, largest_power_of_two_within(2**24 // vocab))
    assert loss_module.loss_chunks(vocab, False, True) == (False, largest_power_of_two_within(2**23 // vocab))
    tiled = loss_module.loss_chunks(vocab, False, False)
    assert tiled == ((True, 2048) if vocab > 1024 else (False, largest_power_of_two_within(2**23 // vocab)))
    assert loss_module.loss_chunks(vocab, False, False, vocab_chunk=4096)[1] == (512 if vocab > 4096 else tiled[1])


def test_gpu_chunks_run_on_a_cpu(monkeypatch):
    """The GPU's choice (4096-row chunks of a 4096 vocabulary, under autograd and without) over 5000 rows, on a
    CPU: loss and gradients equal one full cross-entropy."""
    choose = loss_module.loss_chunks
    chosen = []

    def as_on_a_gpu(vocab_size, on_cuda, grad, vocab_chunk=1024):
        chosen.append(choose(vocab_size, True, grad, vocab_chunk))
        return chosen[-1]

    monkeypatch.setattr(loss_module, "loss_chunks", as_on_a_gpu)
    g = torch.Generator().manual_seed(4)
    hidden = torch.randn(5000, 8, generator=g, requires_grad=True)
    weight = torch.randn(4096, 8, generator=g)
    targets = torch.randint(0, 4096, (5000,), generator=g)
    expected = F.cross_entropy(hidden @ weight.t(), targets, reduction="sum")
    got = chunked_cross_entropy(hidden, weight, targets)
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(torch.autograd.grad(got, hidden)[0], torch.autograd.grad(expected, hidden)[0])
    with torch.inference_mode():
        assert chunked_cross_entropy(hidden, weight, targets).item() == pytest.approx(expected.item(), rel=1e-6)
    assert chosen == [(False, 4096)] * 2


@pytest.mark.parametrize("model_type", ["llama", "mistral"])
def test_bf16_logits_on_a_cpu_are_as_close_to_float64_as_transformers_bf16(tmp_path, model_type):
    """test_cuda's bf16 comparison where PyTorch runs it without a GPU: our bf16 model (rotation, norms, SDPA and
    Mistral's masked window blocks in bf16) and transformers' bf16 model, each against transformers in float64."""
    import copy
    from transformers import AutoModelForCausalLM
    hf = hf_model(model_type, rope_scaling=LONGROPE_DICT, max_position_embeddings=128)
    path = save_hf(hf, str(tmp_path / model_type))
    tokens = tokens_for(40)

    def relative_error(x, ref):
        return float((x.double() - ref).norm() / ref.norm())

    with torch.no_grad():
        ref = copy.deepcopy(hf).double()(tokens, use_cache=False).logits
        theirs = AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16, attn_implementation="sdpa").eval()
        theirs = relative_error(theirs(tokens, use_cache=False).logits, ref)
        ours_model = load_model(path, device="cpu", dtype=torch.bfloat16)
        ours = relative_error(ours_model.logits(tokens), ref)
        float32 = relative_error(load_model(path, device="cpu").logits(tokens), ref)
    assert ours_model.lm_head.weight.dtype == torch.bfloat16 and float32 < 1e-5
    assert 1e-4 < ours < 2e-2 and ours < 2 * theirs, (ours, theirs)  # bf16 really ran, and as well as theirs


def test_model_loss_equals_full_cross_entropy(hf_checkpoint, monkeypatch):
    monkeypatch.setattr(model_module, "chunked_cross_entropy", functools.partial(chunked_cross_entropy, chunk_size=5))
    hf, path = hf_checkpoint("mistral", "safetensors")
    ours, tokens = load_model(path, device="cpu"), tokens_for(20)
    logits = hf_logits(hf, tokens)
    with torch.inference_mode():
        shifted = ours.loss(tokens)
        targets = tokens.clone()
        targets[0, :7] = -100
        targets[1, 15:] = -100
        aligned = ours.loss(tokens, targets, reduction="sum")
    expected = F.cross_entropy(logits[:, :-1].reshape(-1, 96), tokens[:, 1:].reshape(-1))
    assert shifted.item() == pytest.approx(expected.item(), rel=1e-5)
    expected_sum = F.cross_entropy(logits.reshape(-1, 96), targets.reshape(-1), ignore_index=-100, reduction="sum")
    assert aligned.item() == pytest.approx(expected_sum.item(), rel=1e-5)


@pytest.mark.parametrize("gradient_checkpointing", [False, True])
def test_loss_gradients_equal_full_logits(hf_checkpoint, monkeypatch, gradient_checkpointing):
    monkeypatch.setattr(model_module, "chunked_cross_entropy", functools.partial(chunked_cross_entropy, chunk_size=4))
    _, path = hf_checkpoint("llama", "safetensors")
    ours, tokens = load_model(path, device="cpu").train(), tokens_for(18)
    targets = tokens.roll(-1, dims=1)
    targets[:, -1] = -100
    targets[0, 3] = -100
    F.cross_entropy(ours.logits(tokens).reshape(-1, 96), targets.reshape(-1), ignore_index=-100).backward()
    expected = {name: p.grad.clone() for name, p in ours.named_parameters()}
    ours.zero_grad()
    ours.gradient_checkpointing = gradient_checkpointing
    ours.loss(tokens, targets).backward()
    for name, p in ours.named_parameters():
        torch.testing.assert_close(p.grad, expected[name], rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.skipif(not model_module.cpp_compiler(), reason="torch.compile needs a C++ compiler")
def test_compiled_layers_equal_transformers_and_keep_their_graph_across_ropes(hf_checkpoint):
    """search.py --compile: compiled blocks give transformers' logits; a new rescaling (the next candidate) reuses
    the compiled graph; generation (KV cache) and autograd stay eager."""
    from torch._dynamo.utils import counters
    torch._dynamo.reset()
    counters.clear()
    hf, path = hf_checkpoint("llama", "safetensors")
    eager, compiled = load_model(path, device="cpu"), load_model(path, device="cpu").compile_layers()
    tokens = tokens_for(48)  # past the original length (32), so the rescalings differ
    with torch.no_grad():
        assert (compiled.logits(tokens) - hf_logits(hf, tokens)).abs().max().item() < 1e-4
        graphs = counters["stats"]["unique_graphs"]
        assert graphs >= 1
        factors = tuple(float(f) for f in torch.linspace(1, 3, 8))
        for rope in (RopeScaling("yarn", 2.0, 32), RopeScaling("longrope", 2.0, 32, long_factor=factors, n_hat=4)):
            eager.set_rope(rope)
            compiled.set_rope(rope)
            diff = (compiled.logits(tokens) - eager.logits(tokens)).abs().max().item()
            assert diff < 1e-4
            assert counters["stats"]["unique_graphs"] == graphs  # no recompilation for a new rope
        assert torch.equal(compiled.generate(tokens[:, :6], 5), eager.generate(tokens[:, :6], 5))
    assert counters["stats"]["unique_graphs"] == graphs  # generation ran eager
    compiled.loss(tokens).backward()  # autograd: eager, so gradients exist
    assert compiled.layers[0].mlp.down_proj.weight.grad is not None
    assert counters["stats"]["unique_graphs"] == graphs


def test_compile_without_a_compiler_is_one_clear_error(hf_checkpoint, monkeypatch):
    _, path = hf_checkpoint("llama", "safetensors")
    monkeypatch.setattr(model_module.shutil, "which", lambda name: None)
    with pytest.raises(ValueError, match="needs a C.. compiler"):
        load_model(path, device="cpu").compile_layers()


@torch.no_grad()
def greedy_by_recomputation(hf, prompt, steps):
    tokens = prompt
    for _ in range(steps):
        tokens = torch.cat([tokens, hf_logits(hf, tokens)[:, -1].argmax(-1, keepdim=True)], dim=1)
    return tokens[:, prompt.shape[1]:]


@pytest.mark.parametrize("model_type", ["llama", "mistral"])
def test_generate_equals_full_recomputation(hf_checkpoint, model_type):
    hf, path = hf_checkpoint(model_type, "safetensors")  # Mistral: window 8 < 10 prompt + 12 new tokens
    ours, prompt = load_model(path, device="cpu"), tokens_for(10, seed=4)
    expected = greedy_by_recomputation(hf, prompt, 12)
    assert torch.equal(ours.generate(prompt, 12), expected)
    assert len(set(expected.flatten().tolist())) > 2  # not a constant sequence that any cache bug would also give
    first = int(expected[0, 0])
    stopped = ours.generate(prompt[:1], 12, eos_id=first)
    assert stopped.tolist() == [[first]]


def freeze_transformers_rope_at(hf, seq_len):
    """transformers' model with its rotary embedding fixed to what its own RoPE function gives for `seq_len`
    tokens, whatever the positions asked for: a full forward pass with one rescaling, as generation should use."""
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
    inv_freq, scale = ROPE_INIT_FUNCTIONS[hf.config.rope_parameters["rope_type"]](hf.config, None, seq_len=seq_len)
    angles = torch.arange(128).float()[:, None] * inv_freq.float()[None, :]  # (positions, hd/2)
    angles = torch.cat([angles, angles], dim=-1)
    cos, sin = angles.cos() * scale, angles.sin() * scale
    hf.model.rotary_emb.forward = lambda x, position_ids: (cos[position_ids], sin[position_ids])
    return hf


@pytest.mark.parametrize("rope_dict,max_len", [({"rope_type": "dynamic", "factor": 2.0}, 32), (LONGROPE_DICT, 128)])
def test_generate_chooses_the_rescaling_for_prompt_plus_new_tokens(tmp_path, rope_dict, max_len):
    """A 20-token prompt and 24 new tokens cross the original 32: dynamic NTK's base and LongRoPE's factor set
    (short -> long) are those of 44 tokens for every position, the prompt's included. The reference is
    transformers' full forward pass, recomputed for each new token, with its RoPE function evaluated at 44 tokens;
    choosing the rescaling for the prompt alone (20) or anew at each step gives other tokens."""
    hf = hf_model(rope_scaling=rope_dict, max_position_embeddings=max_len)
    ours = load_model(save_hf(hf, str(tmp_path / "m")), device="cpu")
    prompt, new = tokens_for(20, seed=6), 24
    expected = greedy_by_recomputation(freeze_transformers_rope_at(hf, 20 + new), prompt, new)
    assert torch.equal(ours.generate(prompt, new), expected)
    # the rescaling for the prompt alone gives other tokens: the comparison above can fail
    assert not torch.equal(greedy_by_recomputation(freeze_transformers_rope_at(hf, 20), prompt, new), expected)


def test_generate_with_long_factors_equals_transformers_generate(tmp_path):
    """A prompt already past the original length: transformers' longrope picks the long factors at every step of
    its own cached generation, the same choice as ours, so the two agree token for token."""
    hf = hf_model(rope_scaling=LONGROPE_DICT, max_position_embeddings=128)
    ours = load_model(save_hf(hf, str(tmp_path / "m")), device="cpu")
    prompt = tokens_for(40, seed=7)
    with torch.no_grad():
        expected = hf.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=20, do_sample=False,
                               eos_token_id=None, pad_token_id=0)[:, 40:]
    assert expected.shape == (2, 20) and len(set(expected.flatten().tolist())) > 2
    assert torch.equal(ours.generate(prompt, 20), expected)


@pytest.mark.parametrize("model_type", ["llama", "mistral"])
def test_prefill_in_two_pieces_equals_one(hf_checkpoint, model_type):
    """A block of queries that does not start at position 0 (the masked attention path) against one pass."""
    _, path = hf_checkpoint(model_type, "safetensors")
    ours, tokens = load_model(path, device="cpu"), tokens_for(30, seed=5)
    cache = model_module.KVCache(ours.config, 2, 30, "cpu", torch.float32)
    with torch.no_grad():
        first = ours(tokens[:, :13], 0, cache, rope_len=30)
        second = ours(tokens[:, 13:], 13, cache, rope_len=30)
        whole = ours(tokens)
    torch.testing.assert_close(torch.cat([first, second], dim=1), whole, rtol=1e-5, atol=1e-5)


MEMORY_SCRIPT = textwrap.dedent("""
    import json, resource, sys, torch
    sys.path.insert(0, {repo!r})
    from model import ModelConfig, Transformer
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=32000, hidden_size=32, n_layers=1, n_heads=2, n_kv_heads=2, head_dim=16,
                      intermediate_size=64, max_position_embeddings=16384)
    model = Transformer(cfg).eval()
    tokens = torch.randint(0, 32000, (1, 16384))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with torch.inference_mode():
        loss = model.loss(tokens).item()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({{"loss": loss, "growth_mb": (after - before) / 1024}}))
""")


def test_perplexity_at_16k_tokens_never_builds_full_logits():
    """Full float32 logits for 16k tokens x 32000 words would be 2 GB; the chunked loss stays far below."""
    result = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT.format(repo=REPO)], capture_output=True, text=True,
                            timeout=300, env={**os.environ, "OMP_NUM_THREADS": "2"})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert 9.0 < report["loss"] < 12.0  # about ln(32000) = 10.4 for a random model: the loss really ran
    assert report["growth_mb"] < 600, report


# ----------------------------------------------------------------------------------------------------------------
# Broken checkpoints: one clear ValueError each


def rewrite_weights(path, change):
    file = os.path.join(path, "model.safetensors")
    state = load_file(file)
    change(state)
    save_file(state, file, metadata={"format": "pt"})


def expect_error(path, *fragments):
    with pytest.raises(ValueError) as error:
        load_model(path, device="cpu")
    for fragment in fragments:
        assert fragment in str(error.value), str(error.value)


def test_missing_folder(tmp_path):
    expect_error(str(tmp_path / "nowhere"), "model folder", "does not exist")
    expect_error(str(tmp_path), "neither config.json", "nor params.json")


def test_missing_unexpected_and_misshapen_keys(hf_checkpoint):
    _, path = hf_checkpoint("llama", "safetensors")
    rewrite_weights(path, lambda s: s.pop("model.layers.1.mlp.up_proj.weight"))
    expect_error(path, "missing model.layers.1.mlp.up_proj.weight")

    _, path = hf_checkpoint("llama", "safetensors", seed=1)
    rewrite_weights(path, lambda s: s.update({"model.layers.0.self_attn.rotary_bias": torch.zeros(3)}))
    expect_error(path, "unexpected model.layers.0.self_attn.rotary_bias")

    _, path = hf_checkpoint("llama", "safetensors", seed=2)
    rewrite_weights(path, lambda s: s.update({"model.layers.0.self_attn.k_proj.weight": torch.zeros(32, 64)}))
    expect_error(path, "model.layers.0.self_attn.k_proj.weight", "(32, 64)", "(64, 64)")


@pytest.mark.parametrize("damage", ["garbage", "truncated-header", "truncated-data", "empty"])
def test_corrupt_safetensors(hf_checkpoint, damage):
    _, path = hf_checkpoint("llama", "safetensors")
    file = os.path.join(path, "model.safetensors")
    data = open(file, "rb").read()
    damaged = {"garbage": b"\x07not a safetensors file at all" * 10, "truncated-header": data[:100],
               "truncated-data": data[:len(data) // 2], "empty": b""}[damage]
    open(file, "wb").write(damaged)
    expect_error(path, "model.safetensors", "cannot be read")


def test_missing_shard(hf_checkpoint):
    _, path = hf_checkpoint("llama", "sharded")
    shards = sorted(f for f in os.listdir(path) if f.endswith(".safetensors"))
    os.remove(os.path.join(path, shards[1]))
    expect_error(path, shards[1], "missing")


def test_bad_config(hf_checkpoint):
    _, path = hf_checkpoint("llama", "safetensors")
    config_file = os.path.join(path, "config.json")
    config = json.load(open(config_file))
    json.dump({**config, "model_type": "gpt2"}, open(config_file, "w"))
    expect_error(path, "model_type 'gpt2' is not supported")
    json.dump({**config, "rope_parameters": {"rope_type": "proportional", "factor": 8.0}}, open(config_file, "w"))
    expect_error(path, "rope_type 'proportional' is not supported")
    json.dump({k: v for k, v in config.items() if k != "hidden_size"}, open(config_file, "w"))
    expect_error(path, "config.json lacks the field", "hidden_size")
    open(config_file, "w").write("{not json")
    expect_error(path, "config.json is not valid JSON")
    os.remove(os.path.join(path, "model.safetensors"))
    json.dump(config, open(config_file, "w"))
    expect_error(path, "no weights")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_float32_equals_transformers_on_cpu(hf_checkpoint):
    hf, path = hf_checkpoint("mistral", "safetensors")
    ours, tokens = load_model(path, device="cuda", dtype=torch.float32), tokens_for(24)
    with torch.no_grad():
        got = ours.logits(tokens.cuda()).cpu()
    assert (got - hf_logits(hf, tokens)).abs().max() < 1e-3
    assert torch.equal(ours.generate(tokens[:, :10].cuda(), 12).cpu(), greedy_by_recomputation(hf, tokens[:, :10], 12))


def test_describe_names_the_original_length_of_an_extended_model():
    """config.json of a model extended to 64k says 65536; its original length is the rope's, not that."""
    from model import ModelConfig, describe
    cfg = ModelConfig(vocab_size=96, hidden_size=64, n_layers=2, n_heads=4, n_kv_heads=2, head_dim=16,
                      intermediate_size=128, max_position_embeddings=65536)
    extended = describe(cfg, RopeScaling(method="longrope", factor=512.0, original_max_len=128,
                                         long_factor=(1.0,) * 8, short_factor=(1.0,) * 8))
    assert extended.endswith("context length 65536, original length 128")
    assert describe(cfg).endswith("original length 65536") and "context" not in describe(cfg)
    assert describe(cfg, RopeScaling()).endswith("original length 65536")
