"""Checkpoint folders in and out: which model families load, how their config.json maps onto ModelConfig, and how
their weight files map onto the network of model.py.

Every family here is the Llama network of model.py with a few switches, written down once in FAMILIES: Llama 2 and
3.x, Mistral (a sliding window), Qwen2 / Qwen2.5 (biases on the q/k/v projections) and Phi-3 / Phi-3.5 / Phi-4-mini
(fused qkv_proj and gate_up_proj weights, LongRoPE factors in the config, Phi-4-mini rotating only part of each head).

Hugging Face folders (config.json + model.safetensors[.index.json] or pytorch_model*.bin) and Meta's original Llama 2
folders (params.json + consolidated.*.pth, whose interleaved q/k layout is converted to rotate-half once, in
`meta_to_rotate_half`). Loading is strict and goes through an explicit key map: every expected tensor found, every
found tensor used, shapes asserted, an error naming the key. A fused weight is split into its parts once, at load,
and fused again by `save_model`, so a saved folder is the family's own format and loads in transformers' own class.
The model is built on the meta device and mmap'd tensors are assigned, so a 7B model needs about one copy of its
weights in memory. `export_model` (search.py --export) copies a Hugging Face folder with searched factors in its
config.json.
"""

import glob
import json
import os
import shutil
import sys
from dataclasses import dataclass, replace

import torch

import common
import longrope
from longrope import RopeScaling, check_rope_dict, rope_from_hf, to_hf
from model import ModelConfig, Transformer

TINY_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tiny")


@dataclass(frozen=True)
class Family:
    """What a family changes in the Llama network and its checkpoint; sizes, tied embeddings and the rope dict
    come from each config.json."""

    architecture: str  # transformers' class, written to config.json
    qkv_bias: bool = False  # q/k/v projections carry biases (o_proj does not)
    fused: bool = False  # one qkv_proj (q, k, v rows) and one gate_up_proj (gate, up rows) weight per layer
    partial_rotary: bool = False  # reads partial_rotary_factor: only the first channels of each head rotate
    window: bool = False  # config.json's sliding_window applies to every layer


FAMILIES = {
    "llama": Family("LlamaForCausalLM"),  # Llama 2, Llama 3.x
    "mistral": Family("MistralForCausalLM", window=True),
    "qwen2": Family("Qwen2ForCausalLM", qkv_bias=True),  # Qwen2, Qwen2.5
    "phi3": Family("Phi3ForCausalLM", fused=True, partial_rotary=True, window=True),  # Phi-3, 3.5, 4-mini
}
FUSED = {  # Phi-3's fused weight inside model.layers.{i} -> the weights it stacks along its rows, in order
    "self_attn.qkv_proj": ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"),
    "mlp.gate_up_proj": ("mlp.gate_proj", "mlp.up_proj"),
}


def config_from_hf(cfg):
    """ModelConfig from a Hugging Face config.json dict of one of FAMILIES."""
    family = FAMILIES.get(cfg.get("model_type"))
    if family is None:
        raise ValueError(f"model_type '{cfg.get('model_type')}' is not supported; expected one of "
                         f"{', '.join(FAMILIES)}")
    if cfg.get("attention_bias") or cfg.get("mlp_bias") or cfg.get("hidden_act", "silu") != "silu":
        raise ValueError("only models without attention_bias / mlp_bias and with SiLU (SwiGLU) MLPs are supported")
    rope_params = cfg.get("rope_parameters") or cfg.get("rope_scaling") or {}
    # transformers reads rope_theta and partial_rotary_factor from the rope dict first, then from the config itself
    partial = float(rope_params.get("partial_rotary_factor") or cfg.get("partial_rotary_factor") or 1.0)
    if partial != 1.0 and not family.partial_rotary:
        raise ValueError(f"partial_rotary_factor {partial} is not supported for {cfg['model_type']}: transformers' "
                         f"{family.architecture} rotates whole heads")
    layer_types = cfg.get("layer_types") or []
    if cfg.get("use_sliding_window") and cfg.get("sliding_window") and not layer_types:
        # Qwen2: the layers from max_window_layers on slide
        layer_types = ["sliding_attention"] * (cfg["num_hidden_layers"] - cfg.get("max_window_layers", 28))
    if "sliding_attention" in layer_types:
        raise ValueError("sliding windows on some layers only (layer_types / use_sliding_window) are not supported")
    n_heads = cfg["num_attention_heads"]
    config = ModelConfig(
        vocab_size=cfg["vocab_size"],
        hidden_size=cfg["hidden_size"],
        n_layers=cfg["num_hidden_layers"],
        n_heads=n_heads,
        n_kv_heads=cfg.get("num_key_value_heads") or n_heads,
        head_dim=cfg.get("head_dim") or cfg["hidden_size"] // n_heads,
        intermediate_size=cfg["intermediate_size"],
        norm_eps=cfg.get("rms_norm_eps", 1e-6),
        rope_theta=float(rope_params.get("rope_theta") or cfg.get("rope_theta") or 10000.0),
        max_position_embeddings=cfg.get("max_position_embeddings", 4096),
        sliding_window=cfg.get("sliding_window") if family.window else None,
        tie_word_embeddings=bool(cfg.get("tie_word_embeddings", False)),
        bos_token_id=cfg.get("bos_token_id"),
        eos_token_id=cfg.get("eos_token_id"),
        pad_token_id=cfg.get("pad_token_id"),
        model_type=cfg["model_type"],
        qkv_bias=family.qkv_bias,
        partial_rotary_factor=partial,
    )
    if config.rotary_dim % 2 or config.rotary_dim == 0:
        raise ValueError(f"partial_rotary_factor {partial} of head dimension {config.head_dim} leaves "
                         f"{config.rotary_dim} rotated channels; rotation needs an even, non-zero number")
    return config


def rope_dict_from_hf(cfg):
    """The rope scaling dict of a config.json as transformers reads it, whichever key this transformers version
    wrote it under; None for plain RoPE."""
    rope = dict(cfg.get("rope_parameters") or cfg.get("rope_scaling") or {})
    kind = rope.get("rope_type", rope.get("type", "default"))
    if cfg.get("model_type") == "phi3":
        if kind in ("su", "yarn"):  # transformers' Phi3Config reads both as longrope
            kind = rope["rope_type"] = "longrope"
        if kind not in ("default", "longrope"):
            raise ValueError(f"rope_type '{kind}' is not supported for phi3: transformers' Phi3 reads only longrope")
        if kind == "longrope":  # Phi-3 keeps its original length beside the dict, and it wins (default 4096)
            rope["original_max_position_embeddings"] = cfg.get("original_max_position_embeddings", 4096)
    return None if kind == "default" else rope


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
# Key maps: checkpoint key -> the parameter names it holds (several for a fused weight, stacked along its rows)

_LAYER_KEYS = {  # Hugging Face name inside model.layers.{i} -> Meta name inside layers.{i}
    "self_attn.q_proj": "attention.wq", "self_attn.k_proj": "attention.wk", "self_attn.v_proj": "attention.wv",
    "self_attn.o_proj": "attention.wo", "mlp.gate_proj": "feed_forward.w1", "mlp.down_proj": "feed_forward.w2",
    "mlp.up_proj": "feed_forward.w3", "input_layernorm": "attention_norm", "post_attention_layernorm": "ffn_norm",
}
# Meta shards a model over several files (model parallel): the dimension each weight is split along; None: copied
_META_SPLIT = {"tok_embeddings": 1, "output": 0, "wq": 0, "wk": 0, "wv": 0, "wo": 1, "w1": 0, "w2": 1, "w3": 0}


def hf_key_map(cfg):
    """Hugging Face checkpoint key -> our parameter names (ours are Hugging Face's Llama names without `model.`)."""
    family = FAMILIES[cfg.model_type]
    keys = {"model.embed_tokens.weight": ("embed_tokens.weight",), "model.norm.weight": ("norm.weight",)}
    if not cfg.tie_word_embeddings:
        keys["lm_head.weight"] = ("lm_head.weight",)
    fused = FUSED if family.fused else {}
    parts_of = {name: (name,) for name in _LAYER_KEYS if not any(name in parts for parts in fused.values())}
    parts_of.update(fused)
    for i in range(cfg.n_layers):
        for name, parts in parts_of.items():
            keys[f"model.layers.{i}.{name}.weight"] = tuple(f"layers.{i}.{part}.weight" for part in parts)
        if family.qkv_bias:
            for name in ("q_proj", "k_proj", "v_proj"):
                keys[f"model.layers.{i}.self_attn.{name}.bias"] = (f"layers.{i}.self_attn.{name}.bias",)
    return keys


def meta_key_map(cfg):
    """Meta checkpoint key -> our parameter name."""
    keys = {"tok_embeddings.weight": ("embed_tokens.weight",), "norm.weight": ("norm.weight",),
            "output.weight": ("lm_head.weight",)}
    for i in range(cfg.n_layers):
        for ours, meta in _LAYER_KEYS.items():
            keys[f"layers.{i}.{meta}.weight"] = (f"layers.{i}.{ours}.weight",)
    return keys


def meta_to_rotate_half(w, n_heads):
    """Meta rotates channel pairs (2j, 2j+1) of each head; Hugging Face pairs (j, j + hd/2) ("rotate half").

    Reordering the output rows of wq/wk so that row 2j goes to j and row 2j+1 to j + hd/2 makes both layouts
    compute the same attention scores (the same permutation transformers' conversion script applies).
    """
    out_dim, in_dim = w.shape
    return w.view(n_heads, out_dim // n_heads // 2, 2, in_dim).transpose(1, 2).reshape(out_dim, in_dim)


# ----------------------------------------------------------------------------------------------------------------
# Reading files


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


def _read_hf(path):
    """(ModelConfig, tensors, key map, rope of the config) of a Hugging Face folder."""
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
    where = f"{path}/config.json"
    check_rope_dict(rope_dict_from_hf(hf), where, cfg.rotary_dim, cfg.max_position_embeddings, hf.get("n_hat", 0))
    rope = rope_from_hf(rope_dict_from_hf(hf), cfg.rotary_dim, cfg.max_position_embeddings, where)
    if rope.method == "longrope" and hf.get("n_hat"):  # ours, written by save_model / search.py --export
        rope = replace(rope, n_hat=hf["n_hat"])
    return cfg, state, hf_key_map(cfg), rope


def _read_meta(path, max_len):
    """(ModelConfig, tensors, key map, rope) of a Meta folder, its q/k weights already in rotate-half order."""
    params = _read_json(os.path.join(path, "params.json"))
    # Llama 3's folders differ in more than weights: a tiktoken tokenizer.model and a scaled rope
    if "use_scaled_rope" in params or params.get("vocab_size", 0) >= 128000:
        raise ValueError(f"{path} is Meta's Llama 3 format; convert it to Hugging Face format with transformers' "
                         f"convert_llama_weights_to_hf (--llama_version 3.1 or the one it is) and load that folder")
    files = sorted(glob.glob(os.path.join(path, "consolidated.*.pth")))
    if not files:
        raise ValueError(f"{path} has a params.json but no consolidated.*.pth weights")
    state = _merge_meta_shards([_read_tensors(f) for f in files])
    state.pop("rope.freqs", None)  # Meta's precomputed frequencies, recomputed here
    if "tok_embeddings.weight" not in state:
        raise ValueError(f"{path}: Meta checkpoint lacks tok_embeddings.weight")
    cfg = config_from_meta(params, state["tok_embeddings.weight"].shape[0], max_len)
    for i in range(cfg.n_layers):
        for w, heads in (("wq", cfg.n_heads), ("wk", cfg.n_kv_heads)):
            key = f"layers.{i}.attention.{w}.weight"
            if key in state and state[key].shape[0] % (2 * heads) == 0:  # a wrong shape is reported below
                state[key] = meta_to_rotate_half(state[key], heads)
    return cfg, state, meta_key_map(cfg), RopeScaling(original_max_len=cfg.max_position_embeddings)


# ----------------------------------------------------------------------------------------------------------------
# Loading and saving


def resolve_model_dir(path):
    return TINY_DIR if path in (None, "tiny") else path


def _listed(what, keys):
    return f"{what} {', '.join(keys[:5])}" + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")


def load_model(path="tiny", device=None, dtype=None, rope=None, max_len=None):
    """Loads a checkpoint folder (Hugging Face format of one of FAMILIES, or Meta's Llama 2) into our Transformer.

    device defaults to CUDA when present; dtype to bfloat16 on CUDA, float32 on CPU. The config's own rope scaling
    is used unless `rope` is given. `max_len` overrides the original context length of a Meta checkpoint.
    """
    path = resolve_model_dir(path)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = dtype or (torch.bfloat16 if device.type == "cuda" else torch.float32)
    if not os.path.isdir(path):
        raise ValueError(f"model folder {path} does not exist")
    if os.path.exists(os.path.join(path, "config.json")):
        cfg, state, key_map, file_rope = _read_hf(path)
    elif os.path.exists(os.path.join(path, "params.json")):
        cfg, state, key_map, file_rope = _read_meta(path, max_len)
    else:
        raise ValueError(f"{path} has neither config.json (Hugging Face) nor params.json (Meta)")

    missing = sorted(set(key_map) - set(state))
    unexpected = sorted(set(state) - set(key_map))
    if missing or unexpected:
        parts = ([_listed("missing", missing)] if missing else []) + (
            [_listed("unexpected", unexpected)] if unexpected else [])
        raise ValueError(f"checkpoint {path} does not match its config: {'; '.join(parts)}")

    with torch.device("meta"):
        model = Transformer(cfg, rope=rope or file_rope)
    expected = dict(model.named_parameters())
    ours = {}
    for key, names in key_map.items():
        rows = [expected[name].shape[0] for name in names]
        shape = (sum(rows), *expected[names[0]].shape[1:])
        if tuple(state[key].shape) != shape:
            stacked = f" ({' + '.join(n.split('.')[-2] for n in names)} stacked)" if len(names) > 1 else ""
            raise ValueError(f"checkpoint {path}: {key} has shape {tuple(state[key].shape)}, "
                             f"expected {shape}{stacked}")
        for name, part in zip(names, torch.split(state[key], rows)):  # views: a fused weight is not copied
            ours[name] = part.to(dtype)
    if cfg.tie_word_embeddings:
        ours["lm_head.weight"] = ours["embed_tokens.weight"]
    model.load_state_dict(ours, strict=True, assign=True)
    if cfg.tie_word_embeddings:
        model.lm_head.weight = model.embed_tokens.weight
    return model.to(device).eval()


def hf_config_dict(cfg, rope=None):
    """config.json for the family's transformers class (LlamaForCausalLM, Phi3ForCausalLM, ...)."""
    family = FAMILIES[cfg.model_type]
    d = {
        "architectures": [family.architecture],
        "model_type": cfg.model_type, "vocab_size": cfg.vocab_size, "hidden_size": cfg.hidden_size,
        "num_hidden_layers": cfg.n_layers, "num_attention_heads": cfg.n_heads, "num_key_value_heads": cfg.n_kv_heads,
        "head_dim": cfg.head_dim, "intermediate_size": cfg.intermediate_size, "rms_norm_eps": cfg.norm_eps,
        "rope_theta": cfg.rope_theta, "max_position_embeddings": cfg.max_position_embeddings,
        "tie_word_embeddings": cfg.tie_word_embeddings, "bos_token_id": cfg.bos_token_id,
        "eos_token_id": cfg.eos_token_id, "pad_token_id": cfg.pad_token_id, "hidden_act": "silu",
        "torch_dtype": "float32",
    }
    if family.window:
        d["sliding_window"] = cfg.sliding_window
    if family.partial_rotary:
        d["partial_rotary_factor"] = cfg.partial_rotary_factor
    if cfg.model_type == "phi3":  # transformers' Phi3Config takes it from here, not from the rope dict
        d["original_max_position_embeddings"] = rope.original_max_len if rope else cfg.max_position_embeddings
        if rope is not None and rope.method not in ("none", "longrope"):
            raise ValueError(f"transformers' Phi3 reads only longrope rope dicts, not '{rope.method}'; save this "
                             f"model with a factor file or without rescaling")
    if rope is not None and rope.method != "none":
        d["rope_scaling"] = to_hf(rope, cfg.rotary_dim)
        d["max_position_embeddings"] = int(round(rope.factor * rope.original_max_len))
        if rope.method == "longrope":
            d["n_hat"] = rope.n_hat  # ours; transformers keeps it as an unused attribute
    return d


def save_model(model, out_dir, rope=None, dtype=None):
    """Writes the family's Hugging Face format (config.json + model.safetensors), atomically, loadable by
    transformers; split weights are fused again. The config carries `rope` (default: the model's own)."""
    from safetensors.torch import save_file
    os.makedirs(out_dir, exist_ok=True)
    cfg = model.config
    params = dict(model.named_parameters())

    def tensor(names):
        parts = [params[name].detach().to(dtype or params[name].dtype) for name in names]
        return (parts[0] if len(parts) == 1 else torch.cat(parts)).contiguous().cpu()

    state = {key: tensor(names) for key, names in hf_key_map(cfg).items()}
    config = hf_config_dict(cfg, model.rope if rope is None else rope)
    config["torch_dtype"] = str(next(iter(state.values())).dtype).replace("torch.", "")
    save_file(state, os.path.join(out_dir, "model.safetensors.tmp"), metadata={"format": "pt"})
    os.replace(os.path.join(out_dir, "model.safetensors.tmp"), os.path.join(out_dir, "model.safetensors"))
    with open(os.path.join(out_dir, "config.json.tmp"), "w") as f:
        json.dump(config, f, indent=2)
    os.replace(os.path.join(out_dir, "config.json.tmp"), os.path.join(out_dir, "config.json"))
    return out_dir


MODEL_FILES = (".safetensors", ".bin", ".json", ".model", ".txt", ".tiktoken")  # weights, tokenizer, generation config


def export_model(model_dir, factors_path, out_dir):
    """A copy of a Hugging Face model folder whose config.json carries the searched rope dict."""
    model_dir = resolve_model_dir(model_dir)
    config_path = os.path.join(model_dir, "config.json")
    if not os.path.exists(config_path):
        raise ValueError(f"{model_dir} has no config.json; export needs a Hugging Face model folder")
    if os.path.abspath(out_dir) == os.path.abspath(model_dir):
        raise ValueError(f"export folder {out_dir} is the model folder itself; choose another")
    with open(config_path) as f:
        config = json.load(f)
    cfg = config_from_hf(config)
    rope = longrope.load_factors(factors_path, cfg.rotary_dim)
    original = longrope.rope_from_hf(rope_dict_from_hf(config), cfg.rotary_dim,
                                     cfg.max_position_embeddings).original_max_len
    if rope.original_max_len != original:
        raise ValueError(f"{factors_path} was searched for original length {rope.original_max_len} but "
                         f"{config_path} says {original}")
    os.makedirs(out_dir, exist_ok=True)
    for name in sorted(os.listdir(model_dir)):
        src, dst = os.path.join(model_dir, name), os.path.join(out_dir, name)
        if name == "config.json" or not os.path.isfile(src) or not name.endswith(MODEL_FILES):
            continue  # training states, logs and the like stay behind
        if os.path.exists(dst):
            os.remove(dst)
        try:
            os.link(src, dst)  # weights: a hard link costs no disk space and survives moving either folder
        except OSError:
            shutil.copy2(src, dst)
    extended = hf_config_dict(cfg, rope)
    config.pop("rope_parameters", None)  # transformers 5's key; `rope_scaling` below replaces it
    # partial_rotary_factor may have been inside the replaced rope_parameters only
    keys = ("rope_scaling", "rope_theta", "max_position_embeddings", "n_hat", "partial_rotary_factor")
    config.update({k: extended[k] for k in keys if k in extended})
    common.save_json(os.path.join(out_dir, "config.json"), config)
    if rope.n_hat > 0:
        print(f"warning: n_hat = {rope.n_hat} is stored in config.json but transformers does not apply it (its "
              f"first {rope.n_hat} positions get scaled too); here, apply it with "
              f"model.set_rope(longrope.load_factors('{factors_path}', {cfg.rotary_dim}))", file=sys.stderr)
    return out_dir
