"""Shared test fixtures: tiny random Hugging Face checkpoints that transformers itself writes, as the trusted
reference every model test compares against (float32, eager attention)."""

import json
import math
import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Tiny models gain nothing from threads, and on a busy shared CPU OpenMP's spinning threads make them 100x slower.
torch.set_num_threads(1)

TINY = dict(vocab_size=96, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
            head_dim=16, max_position_embeddings=32, rope_theta=1000.0, rms_norm_eps=1e-5)
# transformers' longrope dict for TINY's 8 frequencies, 4x its 32 positions
LONGROPE_DICT = {"rope_type": "longrope", "original_max_position_embeddings": 32, "factor": 4.0,
                 "short_factor": [1.0, 1.02, 1.05, 1.1, 1.2, 1.3, 1.5, 1.8],
                 "long_factor": [1.0, 1.3, 2.0, 2.9, 4.5, 7.0, 11.0, 17.0]}


def tokens_for(seq_len, batch=2, seed=0, vocab=96):
    return torch.randint(0, vocab, (batch, seq_len), generator=torch.Generator().manual_seed(seed))


def randomize_(model, seed=0):
    """Weights of unit-scale activations: transformers' default init (std 0.02) makes attention almost uniform,
    so a wrong rotation would change the logits by less than any tolerance. Norm weights move off 1 too."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.ndim == 1:
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(p.shape[-1]))
    return model


def hf_config(model_type="llama", **overrides):
    from transformers import LlamaConfig, MistralConfig
    args = dict(TINY, attn_implementation="eager")
    if model_type == "mistral":
        args.update(num_key_value_heads=2, sliding_window=8)
        return MistralConfig(**{**args, **overrides})
    return LlamaConfig(**{**args, **overrides})


def hf_model(model_type="llama", seed=0, **overrides):
    from transformers import LlamaForCausalLM, MistralForCausalLM
    cls = MistralForCausalLM if model_type == "mistral" else LlamaForCausalLM
    return randomize_(cls(hf_config(model_type, **overrides)), seed).eval()


def save_hf(model, path, fmt="safetensors"):
    """Writes a checkpoint folder the way transformers does: `safetensors` (one file), `sharded` (several
    safetensors files and an index), `bin` (pytorch_model.bin) or `bin-sharded` (two .bin files and an index).
    transformers 5 only writes safetensors, so the .bin layouts are written here with torch.save."""
    os.makedirs(path, exist_ok=True)
    if fmt in ("safetensors", "sharded"):
        model.save_pretrained(path, max_shard_size="40KB" if fmt == "sharded" else "50GB")
        return path
    model.config.save_pretrained(path)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    if fmt == "bin":
        torch.save(state, os.path.join(path, "pytorch_model.bin"))
        return path
    keys = sorted(state)
    halves = {"pytorch_model-00001-of-00002.bin": keys[: len(keys) // 2],
              "pytorch_model-00002-of-00002.bin": keys[len(keys) // 2:]}
    for name, part in halves.items():
        torch.save({k: state[k] for k in part}, os.path.join(path, name))
    index = {"metadata": {}, "weight_map": {k: name for name, part in halves.items() for k in part}}
    with open(os.path.join(path, "pytorch_model.bin.index.json"), "w") as f:
        json.dump(index, f)
    return path


@torch.no_grad()
def hf_logits(model, tokens):
    return model(tokens, use_cache=False).logits


@pytest.fixture
def hf_checkpoint(tmp_path):
    """Factory: (transformers model, folder it was saved to)."""
    def make(model_type="llama", fmt="safetensors", seed=0, **overrides):
        model = hf_model(model_type, seed, **overrides)
        return model, save_hf(model, str(tmp_path / f"{model_type}-{fmt}-{seed}"), fmt)
    return make


@pytest.fixture(scope="session")
def micro(tmp_path_factory):
    """A micro byte-level Llama whose original length is 16 tokens, pretrain.py's initialization: every stage of the
    pipeline runs on it in seconds (tests/test_train.py, tests/test_compare.py)."""
    import pretrain
    from model import ModelConfig, Transformer, save_model
    path = str(tmp_path_factory.mktemp("micro16"))
    cfg = ModelConfig(vocab_size=264, **pretrain.SHAPES["micro"], max_position_embeddings=16, rope_theta=10000.0,
                      bos_token_id=pretrain.BOS_ID, eos_token_id=pretrain.EOS_ID)
    torch.manual_seed(0)
    model = Transformer(cfg)
    pretrain.init_weights(model)
    save_model(model, path)
    pretrain.save_byte_tokenizer(path)
    return path
