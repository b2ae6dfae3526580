"""longrope.py against transformers' RoPE initialization functions, closed forms from the papers, and a naive
per-position implementation of LongRoPE's n_hat (Eq. 3)."""

import json
import math
import os
import warnings
from dataclasses import replace

import pytest
import torch
from transformers import LlamaConfig
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding, apply_rotary_pos_emb

from conftest import hf_logits, hf_model, save_hf
from longrope import (RopeScaling, apply_rope, inverse_frequencies, load_factors, make_rope, parse_rope,
                      rescale_factors, rope_cos_sin, rope_frequencies, rope_from_hf, save_factors, to_hf)
from model import load_model

HEAD_DIM, BASE, ORIGINAL = 64, 10000.0, 4096


def hf_rope_config(rope_dict=None, head_dim=HEAD_DIM, base=BASE, max_position_embeddings=ORIGINAL):
    """A config object that transformers' RoPE functions read; only its rope fields matter."""
    return LlamaConfig(hidden_size=head_dim * 4, num_attention_heads=4, head_dim=head_dim, rope_theta=base,
                       max_position_embeddings=max_position_embeddings, rope_scaling=rope_dict)


def hf_frequencies(rope_dict, seq_len=None, **config):
    cfg = hf_rope_config(rope_dict, **config)
    if rope_dict is None:
        return LlamaRotaryEmbedding.compute_default_rope_parameters(cfg)
    return ROPE_INIT_FUNCTIONS[rope_dict["rope_type"]](cfg, None, seq_len=seq_len)


def assert_same_frequencies(ours, theirs):
    (inv_freq, scale), (hf_inv_freq, hf_scale) = ours, theirs
    torch.testing.assert_close(inv_freq, hf_inv_freq.float(), rtol=1e-6, atol=1e-6)
    assert scale == pytest.approx(hf_scale, rel=1e-6)


def monotone_factors(n, low, high, seed):
    g = torch.Generator().manual_seed(seed)
    return tuple(sorted((low + (high - low) * torch.rand(n, generator=g)).tolist()))


# ----------------------------------------------------------------------------------------------------------------
# Every method's frequencies and attention scale equal transformers'


@pytest.mark.parametrize("head_dim,base", [(64, 10000.0), (128, 500000.0), (16, 1000.0)])
def test_none_is_transformers_default_rope(head_dim, base):
    ours = rope_frequencies(RopeScaling("none"), head_dim, base, seq_len=100)
    assert_same_frequencies(ours, hf_frequencies(None, head_dim=head_dim, base=base))
    expected = torch.tensor([base ** (-2 * i / head_dim) for i in range(head_dim // 2)], dtype=torch.float64)
    torch.testing.assert_close(ours[0].double(), expected, rtol=1e-6, atol=0)


@pytest.mark.parametrize("factor", [2.0, 8.0, 3.5])
def test_pi_is_transformers_linear(factor):
    ours = rope_frequencies(RopeScaling("pi", factor, ORIGINAL), HEAD_DIM, BASE, seq_len=int(ORIGINAL * factor))
    assert_same_frequencies(ours, hf_frequencies({"rope_type": "linear", "factor": factor}))
    assert rescale_factors(RopeScaling("pi", factor, ORIGINAL), HEAD_DIM, BASE, 1) == pytest.approx(
        [factor] * (HEAD_DIM // 2), rel=1e-6)


@pytest.mark.parametrize("factor", [1.0, 2.0])
@pytest.mark.parametrize("seq_len", [1000, ORIGINAL, 3 * ORIGINAL + 17, 16 * ORIGINAL])
def test_dynamic_ntk_is_transformers_dynamic(factor, seq_len):
    ours = rope_frequencies(RopeScaling("dynamic-ntk", factor, ORIGINAL), HEAD_DIM, BASE, seq_len)
    assert_same_frequencies(ours, hf_frequencies({"rope_type": "dynamic", "factor": factor}, seq_len))
    plain = inverse_frequencies(HEAD_DIM, BASE)
    if seq_len <= ORIGINAL:  # within the original length nothing is rescaled
        torch.testing.assert_close(ours[0], plain)
    else:
        assert ours[0][-1] < plain[-1] * 0.9


def test_dynamic_ntk_at_the_original_length_is_exact_for_any_factor():
    """At seq_len = original length the dynamic base is base * 1 whatever the factor: written s L / L0 - (s - 1),
    large factors cancel to 0 or 2 in floating point (NaN tables at 1.8e16); the closed form at 1 is the plain
    frequencies, and just past it the base grows as base * (s / L0 + 1)^(d / (d - 2)) (one extra token)."""
    plain = inverse_frequencies(HEAD_DIM, BASE)
    for factor in (3.0, 1e6, 1e17):  # rope dicts stop at 1e6 (MAX_FACTOR); a RopeScaling may hold more
        rope = RopeScaling("dynamic-ntk", factor, ORIGINAL)
        torch.testing.assert_close(rope_frequencies(rope, HEAD_DIM, BASE, ORIGINAL)[0], plain, rtol=0, atol=0)
        grown = BASE * (factor / ORIGINAL + 1) ** (HEAD_DIM / (HEAD_DIM - 2))
        expected = [grown ** (-2 * i / HEAD_DIM) for i in range(HEAD_DIM // 2)]
        assert rope_frequencies(rope, HEAD_DIM, BASE, ORIGINAL + 1)[0].double().tolist() == pytest.approx(
            expected, rel=1e-5)


@pytest.mark.parametrize("factor", [2, 8, 32])
@pytest.mark.parametrize("head_dim", [64, 128])
def test_static_ntk_is_dynamic_ntk_at_the_target_length(factor, head_dim):
    """NTK-aware scaling with s is transformers' dynamic NTK (factor 1) frozen at s * original length."""
    ours = rope_frequencies(RopeScaling("ntk", float(factor), ORIGINAL), head_dim, BASE, seq_len=10)
    reference = hf_frequencies({"rope_type": "dynamic", "factor": 1.0}, factor * ORIGINAL, head_dim=head_dim)
    assert_same_frequencies(ours, reference)
    closed_form_base = BASE * factor ** (head_dim / (head_dim - 2))
    expected = [closed_form_base ** (-2 * i / head_dim) for i in range(head_dim // 2)]
    assert ours[0].double().tolist() == pytest.approx(expected, rel=1e-5)
    lambdas = rescale_factors(RopeScaling("ntk", float(factor), ORIGINAL), head_dim, BASE, 10)
    assert lambdas == pytest.approx([factor ** (2 * i / (head_dim - 2)) for i in range(head_dim // 2)], rel=1e-5)


@pytest.mark.parametrize("factor,original,head_dim,base", [
    (8.0, 4096, 64, 10000.0), (16.0, 4096, 128, 10000.0), (4.0, 32, 16, 1000.0), (32.0, 8192, 128, 500000.0)])
def test_yarn_is_transformers_yarn(factor, original, head_dim, base):
    rope = RopeScaling("yarn", factor, original)
    ours = rope_frequencies(rope, head_dim, base, seq_len=int(factor * original))
    rope_dict = {"rope_type": "yarn", "factor": factor, "original_max_position_embeddings": original}
    theirs = hf_frequencies(rope_dict, head_dim=head_dim, base=base, max_position_embeddings=int(factor * original))
    assert_same_frequencies(ours, theirs)
    assert ours[1] == pytest.approx(0.1 * math.log(factor) + 1, rel=1e-12)
    lambdas = rescale_factors(rope, head_dim, base, 1)
    assert lambdas[0] == pytest.approx(1.0) and lambdas[-1] == pytest.approx(factor, rel=1e-5)


def test_yarn_options_from_a_config_dict():
    rope_dict = {"rope_type": "yarn", "factor": 8.0, "original_max_position_embeddings": 2048,
                 "beta_fast": 16, "beta_slow": 2, "attention_factor": 1.3}
    ours = rope_frequencies(rope_from_hf(rope_dict, HEAD_DIM, 16384), HEAD_DIM, BASE, 16384)
    assert_same_frequencies(ours, hf_frequencies(rope_dict, max_position_embeddings=16384))
    assert ours[1] == 1.3


@pytest.mark.parametrize("seq_len", [1, 2048, ORIGINAL, ORIGINAL + 1, 8 * ORIGINAL])
@pytest.mark.parametrize("with_factor", [True, False])
def test_longrope_is_transformers_longrope(seq_len, with_factor):
    short, long = monotone_factors(HEAD_DIM // 2, 1.0, 1.5, 0), monotone_factors(HEAD_DIM // 2, 1.0, 40.0, 1)
    rope = RopeScaling("longrope", 8.0, ORIGINAL, long_factor=long, short_factor=short)
    rope_dict = {"rope_type": "longrope", "short_factor": list(short), "long_factor": list(long),
                 "original_max_position_embeddings": ORIGINAL}
    if with_factor:
        rope_dict["factor"] = 8.0
    theirs = hf_frequencies(rope_dict, seq_len, max_position_embeddings=8 * ORIGINAL)
    assert_same_frequencies(rope_frequencies(rope, HEAD_DIM, BASE, seq_len), theirs)
    assert_same_frequencies(rope_frequencies(rope_from_hf(rope_dict, HEAD_DIM, 8 * ORIGINAL), HEAD_DIM, BASE, seq_len),
                            theirs)
    expected = long if seq_len > ORIGINAL else short
    assert rescale_factors(rope, HEAD_DIM, BASE, seq_len) == pytest.approx(expected, rel=1e-6)
    assert theirs[1] == pytest.approx(math.sqrt(1 + math.log(8.0) / math.log(ORIGINAL)), rel=1e-12)


@pytest.mark.parametrize("rope_dict,max_len", [
    ({"rope_type": "yarn", "factor": 1.0, "original_max_position_embeddings": 4096}, 4096),
    ({"rope_type": "yarn", "factor": 1.5, "original_max_position_embeddings": 4096}, 6144),
    ({"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 65536}, 65536),  # ramp past the top
    ({"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 1000}, 4000),  # base 10: clamped high
    ({"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 1500000}, 1500000),  # zero-width ramp
    ({"rope_type": "yarn", "factor": 4.0, "beta_fast": 1.5}, 4096),  # beta_slow's default 1 lies below it
    ({"rope_type": "longrope", "original_max_position_embeddings": 4096, "short_factor": [1.0] * 8,
      "long_factor": [2.0] * 8}, 2048),  # no factor, a shorter config length: s = 0.5, attention scale 1
    ({"rope_type": "longrope", "original_max_position_embeddings": 1024, "factor": 2.0, "attention_factor": 0.9,
      "short_factor": [1.0] * 8, "long_factor": [2.0] * 8}, 4096),  # factor and attention_factor, not 4096 / 1024
    ({"rope_type": "longrope", "original_max_position_embeddings": 1024, "factor": 1.5,
      "short_factor": [1.0] * 8, "long_factor": [2.0] * 8}, 4096),
    ({"rope_type": "default"}, 4096), ({"rope_theta": 100.0}, 4096),  # no rope_type at all: transformers' default
    ({"type": "linear", "factor": 2.0}, 4096),  # the older key
])
@pytest.mark.parametrize("seq_len", [1000, 5000])
def test_edge_configs_equal_transformers(rope_dict, max_len, seq_len):
    """Corners of each method: factors at or just above 1, ramps clamped at either end, absent keys."""
    original = rope_dict.get("original_max_position_embeddings", 0)
    base = 100.0 if original > 10000 else 10.0 if original == 1000 else BASE
    head_dim = 16
    rope = rope_from_hf(rope_dict, head_dim, max_len)
    kind = rope_dict.get("rope_type", rope_dict.get("type", "default"))
    config = dict(head_dim=head_dim, base=base, max_position_embeddings=max_len)
    theirs = hf_frequencies(None if kind == "default" else {**rope_dict, "rope_type": kind}, seq_len, **config)
    assert_same_frequencies(rope_frequencies(rope, head_dim, base, seq_len), theirs)
    if kind == "default":
        assert rope == RopeScaling(original_max_len=max_len)


def test_yarn_below_factor_1_keeps_attention_unscaled():
    """A RopeScaling built directly may compress (s < 1): transformers' yarn then leaves the attention scale at 1."""
    rope_dict = {"rope_type": "yarn", "factor": 0.5, "original_max_position_embeddings": 4096}
    assert_same_frequencies(rope_frequencies(RopeScaling("yarn", 0.5, 4096), HEAD_DIM, BASE, 1000),
                            hf_frequencies(rope_dict, 1000, max_position_embeddings=2048))


def test_plain_rope_stretched_by_make_rope_is_still_plain():
    """'none' evaluated at 4x carries factor 4 (make_rope's target) and must still be transformers' default RoPE."""
    rope = make_rope("none", ORIGINAL, 4 * ORIGINAL)
    assert rope.factor == 4.0
    assert_same_frequencies(rope_frequencies(rope, HEAD_DIM, BASE, 4 * ORIGINAL), hf_frequencies(None))
    assert make_rope("pi", 2048) == RopeScaling("pi", 1.0, 2048)  # no target: no stretching
    longrope_without_short = RopeScaling("longrope", 4.0, 32, long_factor=(2.0,) * 8)
    short_dict = {"rope_type": "longrope", "factor": 4.0, "original_max_position_embeddings": 32,
                  "short_factor": [1.0] * 8, "long_factor": [2.0] * 8}
    assert_same_frequencies(rope_frequencies(longrope_without_short, 16, BASE, 20),
                            hf_frequencies(short_dict, 20, head_dim=16, max_position_embeddings=128))


def test_attention_factor_overrides_each_method():
    for method in ("pi", "yarn", "longrope"):
        rope = RopeScaling(method, 4.0, ORIGINAL, attention_factor=0.7)
        assert rope_frequencies(rope, HEAD_DIM, BASE, 8 * ORIGINAL)[1] == 0.7


@pytest.mark.parametrize("rope_dict", [
    {"rope_type": "linear", "factor": 4.0},
    {"rope_type": "dynamic", "factor": 2.0},
    {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 1024},
    {"rope_type": "longrope", "factor": 4.0, "original_max_position_embeddings": 1024,
     "short_factor": [1.0] * 32, "long_factor": [1.0 + i / 4 for i in range(32)]},
    {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 1024, "attention_factor": 1.2},
    {"rope_type": "longrope", "factor": 2.0, "original_max_position_embeddings": 1024, "attention_factor": 0.8,
     "short_factor": [1.0] * 32, "long_factor": [1.0 + i / 4 for i in range(32)]},
    {"rope_type": "longrope", "factor": 2.0, "original_max_position_embeddings": 1024,
     "short_factor": [1.0] * 32, "long_factor": [1.0 + i / 4 for i in range(32)]},
])
@pytest.mark.parametrize("seq_len", [512, 3000])
def test_config_dict_round_trip(rope_dict, seq_len):
    """rope_from_hf reads a config's dict as transformers does; to_hf writes back a dict transformers reads alike."""
    max_len = 4096 if "original_max_position_embeddings" in rope_dict else 1024
    theirs = hf_frequencies(rope_dict, seq_len, max_position_embeddings=max_len)
    rope = rope_from_hf(rope_dict, HEAD_DIM, max_len)
    assert_same_frequencies(rope_frequencies(rope, HEAD_DIM, BASE, seq_len), theirs)
    written = to_hf(rope, HEAD_DIM)
    assert_same_frequencies(hf_frequencies(written, seq_len, max_position_embeddings=max_len), theirs)


@pytest.mark.parametrize("betas", [dict(beta_fast=16, beta_slow=2), dict(beta_fast=16), dict(beta_slow=4)])
def test_yarn_betas_survive_a_round_trip_through_to_hf(betas):
    """A yarn config read and written back must give transformers the same frequencies: beta_fast 16 dropped on
    export is 160% off at the ramp's channels."""
    rope_dict = {"rope_type": "yarn", "factor": 8.0, "original_max_position_embeddings": 2048, **betas}
    theirs = hf_frequencies(rope_dict, max_position_embeddings=16384)
    written = to_hf(rope_from_hf(rope_dict, HEAD_DIM, 16384), HEAD_DIM)
    assert_same_frequencies(hf_frequencies(written, max_position_embeddings=16384), theirs)
    default = hf_frequencies({k: v for k, v in rope_dict.items() if not k.startswith("beta")},
                             max_position_embeddings=16384)
    off = torch.maximum(default[0] / theirs[0], theirs[0] / default[0]) - 1
    assert off.max() > 0.15  # the betas matter: losing them is visible


@pytest.mark.parametrize("rope_dict,message", [
    ([1, 2], "the rope dict must be a JSON object, got [1, 2]"),
    ({"rope_type": 3, "factor": 2.0}, "rope_type must be a string, got 3"),
    ({"rope_type": "linear"}, "lacks 'factor' in its linear rope dict"),
    ({"type": "su", "short_factor": [1.0] * 8, "original_max_position_embeddings": 4096},  # Phi-3's first name
     "lacks 'long_factor' in its longrope rope dict"),
    ({"rope_type": "dynamic", "factor": 0.5}, "factor must be a number from 1 (transformers' rule) to 1,000,000, got 0.5"),
    ({"rope_type": "yarn", "factor": 4.0, "beta_fast": 0}, "beta_fast must be a finite positive number, got 0"),
    ({"rope_type": "yarn", "factor": 4.0, "beta_slow": "1"}, "beta_slow must be a finite positive number, got '1'"),
    ({"rope_type": "yarn", "factor": 4.0, "beta_fast": 2, "beta_slow": 3},
     "beta_fast must be at least beta_slow (3), got 2"),
    ({"rope_type": "yarn", "factor": 4.0, "beta_slow": 32.5}, "beta_fast must be at least beta_slow (32.5), got 32"),
    ({"type": "linear"}, "lacks 'factor' in its linear rope dict"),
    ({"rope_type": "dynamic"}, "lacks 'factor' in its dynamic rope dict"),
    ({"rope_type": "linear", "factor": 2.0, "long_factor": [1.0]}, "long_factor has 1 values but rotary dimension 64 needs 32 (one per rotated frequency)"),
    ({"rope_type": "yarn", "factor": 4.0, "attention_factor": float("nan")},
     "attention_factor must be a finite positive number, got nan"),
    ({"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": "2k"},
     "original_max_position_embeddings must be an integer of at least 2, got '2k'"),
    ({"rope_type": "linear", "factor": 2.0, "short_factor": [1.0] * 8},
     "short_factor has 8 values but rotary dimension 64 needs 32 (one per rotated frequency)"),
    ({"rope_type": "longrope", "short_factor": [1.0] * 32, "long_factor": [1.0] * 32},
     "lacks 'original_max_position_embeddings' in its longrope rope dict"),
])
def test_bad_rope_dicts_fail_when_read_with_one_sentence(rope_dict, message):
    with pytest.raises(ValueError) as error:
        rope_from_hf(rope_dict, HEAD_DIM, 4096, where="config.json")
    assert str(error.value).startswith("config.json") and str(error.value).endswith(message)


def test_the_largest_factor_and_attention_factor_allowed_are_read():
    """The bounds are inclusive: factor 1e6 (MAX_FACTOR) and attention_factor 1000 give finite tables."""
    for rope_dict in ({"rope_type": "linear", "factor": 1e6}, {"rope_type": "dynamic", "factor": 1e6},
                      dict(VALID, attention_factor=1000.0)):
        rope = rope_from_hf(rope_dict, 16, 64)
        assert rope.factor == rope_dict.get("factor", 4.0) and rope.attention_factor == rope_dict.get("attention_factor")
        assert_usable(rope, 64)


@pytest.mark.parametrize("max_len", [0, -5, 4096.0, None, True])
def test_max_position_embeddings_is_checked(max_len):
    with pytest.raises(ValueError, match=f"rope dict: max_position_embeddings must be a positive integer, got {max_len}"):
        rope_from_hf({"rope_type": "linear", "factor": 2.0}, HEAD_DIM, max_len)


def test_edges_of_the_checks_are_accepted(tmp_path):
    """The bounds themselves are valid: n_hat equal to the target length, factor 1, original length 2."""
    assert load_factors(write_factor_file(tmp_path, n_hat=128, max_position_embeddings=128), 16).n_hat == 128
    assert load_factors(write_factor_file(tmp_path, n_hat=0), 16).n_hat == 0
    rope = rope_from_hf({"rope_type": "yarn", "factor": 1, "original_max_position_embeddings": 2, "beta_fast": 3,
                         "beta_slow": 3, "attention_factor": 1e-3}, HEAD_DIM, 2)
    assert (rope.factor, rope.original_max_len, rope.beta_fast, rope.beta_slow) == (1.0, 2, 3.0, 3.0)
    assert rope_frequencies(rope, HEAD_DIM, BASE, 2)[1] == 1e-3
    assert rope_from_hf(None, HEAD_DIM, 1) == RopeScaling(original_max_len=1)
    assert rope_from_hf({"type": "linear", "factor": 2}, HEAD_DIM, 64) == RopeScaling("pi", 2.0, 64)


def test_factors_given_as_lists_are_stored_as_tuples():
    """A search hands over lists; the rope must stay hashable (the model caches cos/sin tables by rope)."""
    rope = RopeScaling("longrope", 4.0, 32, long_factor=[1.0, 2.0, 3.0, 4.0], short_factor=[1, 1, 1, 1])
    assert rope.long_factor == (1.0, 2.0, 3.0, 4.0) and hash(rope) == hash(replace(rope))
    assert rope == RopeScaling("longrope", 4.0, 32, long_factor=(1.0, 2.0, 3.0, 4.0), short_factor=(1.0,) * 4)


def test_to_hf_refuses_static_ntk_and_writes_nothing_for_plain_rope():
    assert to_hf(RopeScaling("none"), HEAD_DIM) is None
    with pytest.raises(ValueError, match="^transformers has no static NTK rope type; use dynamic-ntk or a factor file$"):
        to_hf(RopeScaling("ntk", 4.0), HEAD_DIM)


# ----------------------------------------------------------------------------------------------------------------
# cos/sin tables and the rotation itself


@pytest.mark.parametrize("rope_dict,seq_len", [
    (None, 40), ({"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32}, 100),
    ({"rope_type": "longrope", "factor": 4.0, "original_max_position_embeddings": 32,
      "short_factor": [1.0 + i / 20 for i in range(8)], "long_factor": [1.0 + i for i in range(8)]}, 100),
    ({"rope_type": "longrope", "factor": 4.0, "original_max_position_embeddings": 32,
      "short_factor": [1.0 + i / 20 for i in range(8)], "long_factor": [1.0 + i for i in range(8)]}, 30),
])
def test_cos_sin_and_rotation_equal_transformers(rope_dict, seq_len):
    cfg = hf_rope_config(rope_dict, head_dim=16, base=1000.0, max_position_embeddings=128)
    x = torch.randn(1, 2, seq_len, 16, generator=torch.Generator().manual_seed(0))
    hf_cos, hf_sin = LlamaRotaryEmbedding(cfg)(x, torch.arange(seq_len)[None])
    rope = rope_from_hf(rope_dict, 16, 128)
    cos, sin = rope_cos_sin(rope, 16, 1000.0, torch.arange(seq_len), seq_len)
    torch.testing.assert_close(cos, hf_cos[0], rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(sin, hf_sin[0], rtol=1e-6, atol=1e-6)
    hf_q, _ = apply_rotary_pos_emb(x, x, hf_cos, hf_sin)
    torch.testing.assert_close(apply_rope(x, cos, sin), hf_q, rtol=1e-6, atol=1e-6)


def naive_angles(rope, head_dim, base, seq_len):
    """Eq. 3 of LongRoPE, one position and one frequency at a time, in float64."""
    lambdas = rope.long_factor if seq_len > rope.original_max_len else rope.short_factor
    angles = torch.zeros(seq_len, head_dim // 2, dtype=torch.float64)
    for p in range(seq_len):
        for i in range(head_dim // 2):
            theta = base ** (-2 * i / head_dim)
            angles[p, i] = p * theta if p < rope.n_hat else p * theta / lambdas[i]
    return angles


def naive_rotate(x, angles, scale):
    """Rotate-half RoPE by hand: channel j pairs with channel j + hd/2, both multiplied by the attention scale."""
    half = x.shape[-1] // 2
    out = torch.empty_like(x)
    for j in range(half):
        c, s = angles[:, j].cos() * scale, angles[:, j].sin() * scale
        out[..., j] = x[..., j] * c - x[..., j + half] * s
        out[..., j + half] = x[..., j] * s + x[..., j + half] * c
    return out


LONG_ROPE = RopeScaling("longrope", 4.0, 32, long_factor=tuple(1.0 + 2.0 * i for i in range(8)),
                        short_factor=tuple(1.0 + 0.1 * i for i in range(8)))


@pytest.mark.parametrize("n_hat", [0, 5, 20])
def test_n_hat_keeps_the_first_positions_unscaled(n_hat):
    rope, seq_len = replace(LONG_ROPE, n_hat=n_hat), 100
    scale = math.sqrt(1 + math.log(4.0) / math.log(32))
    angles = naive_angles(rope, 16, 1000.0, seq_len)
    cos, sin = rope_cos_sin(rope, 16, 1000.0, torch.arange(seq_len), seq_len)
    torch.testing.assert_close(cos.double(), torch.cat([angles.cos(), angles.cos()], -1) * scale, atol=2e-5, rtol=0)
    torch.testing.assert_close(sin.double(), torch.cat([angles.sin(), angles.sin()], -1) * scale, atol=2e-5, rtol=0)
    q = torch.randn(2, 3, seq_len, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(apply_rope(q, cos, sin), naive_rotate(q, angles, scale), atol=1e-4, rtol=0)
    # the split is where Eq. 3 puts it: position n_hat - 1 unscaled, n_hat scaled
    plain = rope_cos_sin(RopeScaling("none", original_max_len=32), 16, 1000.0, torch.arange(seq_len), seq_len)[1]
    if n_hat:
        torch.testing.assert_close(sin[n_hat - 1], plain[n_hat - 1] * scale)
    first_scaled = max(n_hat, 1)  # position 0 has angle 0 whatever the factors
    assert (sin[first_scaled] - plain[first_scaled] * scale).abs().max() > 1e-2


@pytest.mark.parametrize("seq_len", [1, 17, 32])
def test_n_hat_leaves_short_sequences_alone(seq_len):
    """Eq. 3's n_hat belongs to the long factors: a sequence that fits the original 32 tokens gets transformers'
    short-factor tables at every position, the first n_hat included (the recovery search scores such sequences)."""
    rope_dict = to_hf(LONG_ROPE, 16)
    cfg = hf_rope_config(rope_dict, head_dim=16, base=1000.0, max_position_embeddings=128)
    x = torch.zeros(1, 1, seq_len, 16)
    hf_cos, hf_sin = LlamaRotaryEmbedding(cfg)(x, torch.arange(seq_len)[None])
    cos, sin = rope_cos_sin(replace(LONG_ROPE, n_hat=24), 16, 1000.0, torch.arange(seq_len), seq_len)
    torch.testing.assert_close(cos, hf_cos[0], rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(sin, hf_sin[0], rtol=1e-6, atol=1e-6)
    # and past the original length the same n_hat does act, on the same first positions
    long_cos, _ = rope_cos_sin(replace(LONG_ROPE, n_hat=24), 16, 1000.0, torch.arange(40), 40)
    plain_cos, _ = rope_cos_sin(LONG_ROPE, 16, 1000.0, torch.arange(40), 40)
    assert (long_cos[1:24] - plain_cos[1:24]).abs().max() > 1e-2


def test_n_hat_in_a_forward_pass_equals_transformers_with_naive_tables(tmp_path):
    """transformers' Llama, its rotary embedding replaced by the naive Eq. 3 tables, against our model."""
    rope_dict = to_hf(LONG_ROPE, 16)
    hf = hf_model(rope_scaling=rope_dict, max_position_embeddings=128)
    ours = load_model(save_hf(hf, str(tmp_path / "m")), device="cpu")
    seq_len, n_hat = 48, 12
    tokens = torch.randint(0, 96, (2, seq_len), generator=torch.Generator().manual_seed(2))
    angles = torch.cat([naive_angles(replace(LONG_ROPE, n_hat=n_hat), 16, 1000.0, seq_len)] * 2, -1)
    scale = math.sqrt(1 + math.log(4.0) / math.log(32))
    tables = ((angles.cos() * scale).float()[None], (angles.sin() * scale).float()[None])
    hf.model.rotary_emb.forward = lambda x, position_ids: tables
    expected = hf_logits(hf, tokens)
    ours.set_rope(replace(ours.rope, n_hat=n_hat))
    with torch.no_grad():
        got = ours.logits(tokens)
        without_n_hat = replace(ours.rope, n_hat=0)
        ours.set_rope(without_n_hat)
        plain = ours.logits(tokens)
    assert (got - expected).abs().max() < 1e-4
    assert (plain - expected).abs().max() > 1e-2  # n_hat changes the result: the comparison above can fail


# ----------------------------------------------------------------------------------------------------------------
# Building a RopeScaling from names and factor files


def test_make_rope_and_parse_rope():
    assert make_rope("pi", 4096, 16384) == RopeScaling("pi", 4.0, 4096)
    assert make_rope("yarn", 4096, factor=8) == RopeScaling("yarn", 8.0, 4096)
    assert make_rope("pi", 4096, 1024).factor == 1.0  # never compresses below the original length
    assert make_rope("dynamic-ntk", 4096, 65536).factor == 1.0  # the length sets the scale
    assert parse_rope("ntk", 64, 4096, 32768) == RopeScaling("ntk", 8.0, 4096)
    for bad in ("longrope", "linear", "NTK"):
        with pytest.raises(ValueError, match=f"unknown rope method '{bad}'"):
            parse_rope(bad, 64, 4096)
    with pytest.raises(ValueError, match="unknown rope method 'rope2'"):
        RopeScaling("rope2")
    with pytest.raises(ValueError, match="positive"):
        RopeScaling("pi", factor=-2.0)
    with pytest.raises(ValueError, match="rope factor must be a positive number, got 0.0"):
        RopeScaling("pi", factor=0.0)
    with pytest.raises(ValueError, match="expected one of none, pi, ntk, dynamic-ntk, yarn, llama3, longrope or a .json"):
        RopeScaling("rope2")


def test_factor_file_round_trip(tmp_path):
    rope = RopeScaling("longrope", 8.0, 32, long_factor=monotone_factors(8, 1.0, 12.0, 3),
                       short_factor=monotone_factors(8, 1.0, 1.2, 4), n_hat=6)
    path = save_factors(str(tmp_path / "llama-256.json"), rope, 16, searched_length=256, perplexity=7.5)
    loaded = load_factors(path, 16)
    assert loaded.method == "longrope" and loaded.n_hat == 6 and loaded.name == "llama-256"
    assert loaded.long_factor == rope.long_factor and loaded.short_factor == rope.short_factor
    assert (loaded.factor, loaded.original_max_len, loaded.attention_factor) == (8.0, 32, None)
    assert loaded.extra["searched_length"] == 256 and loaded.extra["perplexity"] == 7.5
    assert parse_rope(path, 16, 32) == loaded
    with open(path) as f:
        record = json.load(f)
    assert record["max_position_embeddings"] == 256 and record["rope_scaling"]["rope_type"] == "longrope"
    # the tables of the loaded factors are transformers' longrope rotary embedding of the file's rope dict, except
    # the first n_hat positions of a long sequence, which keep transformers' plain angles (times the scale)
    config = dict(head_dim=16, base=1000.0, max_position_embeddings=record["max_position_embeddings"])
    scale = math.sqrt(1 + math.log(8.0) / math.log(32))
    for seq_len in (20, 200):
        x, positions = torch.zeros(1, 1, seq_len, 16), torch.arange(seq_len)
        hf_cos, hf_sin = LlamaRotaryEmbedding(hf_rope_config(record["rope_scaling"], **config))(x, positions[None])
        plain_cos, plain_sin = LlamaRotaryEmbedding(hf_rope_config(None, **config))(x, positions[None])
        if seq_len > 32:
            hf_cos[0, :6], hf_sin[0, :6] = plain_cos[0, :6] * scale, plain_sin[0, :6] * scale
        cos, sin = rope_cos_sin(loaded, 16, 1000.0, positions, seq_len)
        torch.testing.assert_close(cos, hf_cos[0], rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(sin, hf_sin[0], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("seq_len", [24, 48])
def test_factor_file_gives_transformers_logits(tmp_path, seq_len):
    """A factor file's rope dict handed to transformers' LlamaConfig(rope_scaling=...) is the same model as ours
    after load_factors (n_hat = 0, which transformers has no notion of)."""
    rope = RopeScaling("longrope", 4.0, 32, long_factor=monotone_factors(8, 1.0, 16.0, 5),
                       short_factor=monotone_factors(8, 1.0, 1.5, 6))
    path = save_factors(str(tmp_path / "factors.json"), rope, 16)
    with open(path) as f:
        record = json.load(f)
    hf = hf_model(rope_scaling=record["rope_scaling"], max_position_embeddings=record["max_position_embeddings"])
    plain = hf_model()  # same weights, no rescaling: saved so that the factors come only from the file
    ours = load_model(save_hf(plain, str(tmp_path / "plain")), device="cpu")
    tokens = torch.randint(0, 96, (2, seq_len), generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        unscaled = ours.logits(tokens)
        ours.set_rope(load_factors(path, 16))
        got = ours.logits(tokens)
    expected = hf_logits(hf, tokens)
    assert (got - expected).abs().max() < 1e-4
    assert (unscaled - expected).abs().max() > 1e-2


# ----------------------------------------------------------------------------------------------------------------
# Bad factor files: one clear sentence each


def write_factor_file(tmp_path, short=None, long=None, text=None, rope=None, **record):
    path = tmp_path / "factors.json"
    if text is None:
        rope_dict = {"rope_type": "longrope", "original_max_position_embeddings": 32, "factor": 4.0,
                     "short_factor": [1.0] * 8 if short is None else short,
                     "long_factor": [1.0 + i for i in range(8)] if long is None else long, **(rope or {})}
        text = json.dumps({"rope_scaling": rope_dict, **record})  # writes NaN as the bare word NaN
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("kwargs,message", [
    (dict(long=[1.0] * 7), "long_factor has 7 values but rotary dimension 16 needs 8"),
    (dict(short=[1.0] * 9), "short_factor has 9 values but rotary dimension 16 needs 8"),
    (dict(long=[1.0] * 7 + [float("nan")]), "long_factor must hold finite positive numbers, found nan"),
    (dict(short=[1.0, -2.0] + [3.0] * 6), "short_factor must hold finite positive numbers, found -2.0"),
    (dict(short=[0.0] * 8), "short_factor must hold finite positive numbers, found 0.0"),
    (dict(long=["1.0"] * 8), "long_factor must be a list of numbers"),
    (dict(n_hat=-3), "n_hat must be an integer from 0 to the target length 32, got -3"),
    (dict(n_hat=True), "n_hat must be an integer from 0 to the target length 32, got True"),
    (dict(n_hat=1000000000, max_position_embeddings=128), "n_hat must be an integer from 0 to the target length 128, got 1000000000"),
    (dict(n_hat=2.5), "n_hat must be an integer from 0 to the target length 32, got 2.5"),
    (dict(n_hat=8, max_position_embeddings="x"), "max_position_embeddings must be a positive integer, got 'x'"),
    (dict(max_position_embeddings=0), "max_position_embeddings must be a positive integer, got 0"),
    (dict(rope=dict(attention_factor=-1)), "attention_factor must be a finite positive number, got -1"),
    (dict(rope=dict(attention_factor="x")), "attention_factor must be a finite positive number, got 'x'"),
    (dict(rope=dict(original_max_position_embeddings=1)),
     "original_max_position_embeddings must be an integer of at least 2, got 1"),
    (dict(rope=dict(original_max_position_embeddings=-32)),
     "original_max_position_embeddings must be an integer of at least 2, got -32"),
    (dict(rope=dict(original_max_position_embeddings=32.0)),
     "original_max_position_embeddings must be an integer of at least 2, got 32.0"),
    (dict(rope=dict(factor=0)), "factor must be a number from 1 (transformers' rule) to 1,000,000, got 0"),
    (dict(rope=dict(factor=float("inf"))), "factor must be a number from 1 (transformers' rule) to 1,000,000, got inf"),
    (dict(rope=dict(factor=True)), "factor must be a number from 1 (transformers' rule) to 1,000,000, got True"),
    (dict(rope=dict(attention_factor=3.4028235677973366e+38)),
     "attention_factor must be at most 1,000, got 3.4028235677973366e+38"),
    (dict(rope=dict(factor=2e6)), "factor must be a number from 1 (transformers' rule) to 1,000,000, got 2000000.0"),
    (dict(rope=dict(short_factor=None)), "lacks 'short_factor' in its longrope rope dict"),
    (dict(rope=dict(factor=None, original_max_position_embeddings=None)),
     "lacks 'original_max_position_embeddings' in its longrope rope dict"),
    (dict(long=[1.0] * 7 + [True]), "long_factor must be a list of numbers"),
    (dict(text='{"rope_scaling": {"rope_type": "longrope", "original_max_position_embeddings": 8, '
               '"short_factor": [1], "long_factor": [1]}}'),
     "long_factor has 1 values but rotary dimension 16 needs 8 (one per rotated frequency)"),
    (dict(text="{'rope_scaling': "), "is not valid JSON"),
    (dict(text='{"rope_scaling": {"rope_type": "yarn", "factor": 4}}'),
     "no 'rope_scaling' dict with rope_type 'longrope'"),
    (dict(text='[1, 2, 3]'), "no 'rope_scaling' dict"),
    (dict(text='{"rope_scaling": {"rope_type": "longrope", "short_factor": [1], "long_factor": [1]}}'),
     "lacks 'original_max_position_embeddings'"),
])
def test_bad_factor_files_raise_one_clear_sentence(tmp_path, kwargs, message):
    path = write_factor_file(tmp_path, **kwargs)
    with pytest.raises(ValueError) as error:
        load_factors(path, 16)
    assert message in str(error.value)
    assert path in str(error.value)  # names the file
    assert len(str(error.value).splitlines()) == 1


def test_factor_file_keys_transformers_also_reads(tmp_path):
    """`rope_parameters` (transformers 5's name) and the older `type` key are read like `rope_scaling`/`rope_type`;
    n_hat defaults to 0; provenance lands in `extra`, the rope dict and n_hat do not."""
    rope_dict = {"type": "longrope", "original_max_position_embeddings": 32, "factor": 4.0,
                 "short_factor": [1.0] * 8, "long_factor": [2.0] * 8}
    path = write_factor_file(tmp_path, text=json.dumps({"rope_parameters": rope_dict, "perplexity": 3.0}))
    rope = load_factors(path, 16)
    assert (rope.method, rope.long_factor, rope.n_hat) == ("longrope", (2.0,) * 8, 0)
    assert rope.extra == {"rope_parameters": rope_dict, "perplexity": 3.0}
    rope = load_factors(write_factor_file(tmp_path, n_hat=3, note="x"), 16)
    assert rope.n_hat == 3 and rope.extra == {"note": "x"}
    saved = load_factors(save_factors(str(tmp_path / "pi.json"), RopeScaling("pi", 4.0, 32), 16), 16)
    assert (saved.method, saved.long_factor, saved.short_factor) == ("longrope", (1.0,) * 8, (1.0,) * 8)


def test_missing_factor_file(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_factors(str(tmp_path / "nope.json"), 16)


def test_non_monotone_factors_warn(tmp_path):
    path = write_factor_file(tmp_path, long=[1.0, 3.0, 2.0] + [4.0] * 5)
    with pytest.warns(UserWarning, match="long_factor is not monotone"):
        rope = load_factors(path, 16)
    with pytest.warns(UserWarning, match="^short_factor is not monotone") as caught:
        rope_from_hf(json.load(open(write_factor_file(tmp_path, short=[2.0] + [1.0] * 7)))["rope_scaling"], 16, 128)
    assert caught[0].filename == __file__  # the warning points at the code that read the dict
    assert rope.long_factor[1:3] == (3.0, 2.0)  # kept as written
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_factors(write_factor_file(tmp_path), 16)  # monotone: silent


# ----------------------------------------------------------------------------------------------------------------
# Any file, any dict: a valid rope or one sentence (hypothesis)

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

ANY_VALUE = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.sampled_from([0, 1, 2, -32, 32]),
                      st.floats(allow_nan=True), st.text(max_size=4), st.lists(st.floats(-5, 50), max_size=3))
FACTOR_LISTS = st.one_of(st.lists(st.floats(0.5, 40.0), min_size=8, max_size=8),
                         st.lists(st.one_of(st.floats(allow_nan=True), st.booleans(), st.integers(-3, 50),
                                            st.text(max_size=2)), max_size=9), ANY_VALUE)
VALID = {"rope_type": "longrope", "factor": 4.0, "original_max_position_embeddings": 32, "short_factor": [1.0] * 8,
         "long_factor": [1.0 + i for i in range(8)]}


def rope_dicts(kinds=("longrope", "yarn", "linear", "dynamic", "default", "llama2", 7)):
    """A valid rope dict with up to three keys replaced, added or removed: most examples reach the deep checks."""
    values = {"rope_type": st.sampled_from(kinds), "short_factor": FACTOR_LISTS, "long_factor": FACTOR_LISTS}
    keys = ["rope_type", "factor", "original_max_position_embeddings", "attention_factor", "beta_fast", "beta_slow",
            "short_factor", "long_factor"]
    changes = st.dictionaries(st.sampled_from(keys), st.one_of(st.just("remove"), ANY_VALUE), max_size=3)
    return st.builds(lambda kind, edits, lists: {k: v for k, v in {**VALID, "rope_type": kind, **lists, **edits}.items()
                                                 if v != "remove"},
                     st.sampled_from(kinds), changes,
                     st.fixed_dictionaries({}, optional={k: values[k] for k in ("short_factor", "long_factor")}))


def assert_usable(rope, max_len):
    """Nothing fails later: the tables at a short and a long length are finite and of the right shape."""
    for seq_len in (3, max(2 * rope.original_max_len, 4)):
        cos, sin = rope_cos_sin(rope, 16, 1000.0, torch.arange(3), seq_len)
        assert cos.shape == (3, 16) and bool(torch.isfinite(cos).all() and torch.isfinite(sin).all())


def assert_one_sentence(error, *names):
    text = str(error)
    assert len(text.splitlines()) == 1 and text.strip() and all(name in text for name in names), text


# 200 examples in the suite; PROPERTY_EXAMPLES=1000 for the heavier run (docs/mutation.md, at its end)
@settings(max_examples=int(os.environ.get("PROPERTY_EXAMPLES", 200)), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(rope_dict=rope_dicts(kinds=("longrope", "longrope", "longrope", "yarn")),
       record=st.fixed_dictionaries({}, optional={"n_hat": ANY_VALUE, "max_position_embeddings": ANY_VALUE}),
       container=st.sampled_from(["rope_scaling", "rope_parameters", "rope_scaling"]))
def test_any_factor_file_loads_or_fails_with_one_sentence(rope_dict, record, container):
    import tempfile
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "factors.json")
        with open(path, "w") as f:
            json.dump({container: rope_dict, **record}, f)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rope = load_factors(path, 16)
        except ValueError as e:
            assert_one_sentence(e, path)
            return
    assert rope.method == "longrope" and 0 <= rope.n_hat
    assert_usable(rope, rope.original_max_len)


@settings(max_examples=int(os.environ.get("PROPERTY_EXAMPLES", 200)), deadline=None)
@given(rope_dict=st.one_of(rope_dicts(), ANY_VALUE), max_len=st.one_of(st.integers(1, 5000), ANY_VALUE))
def test_any_rope_dict_reads_or_fails_with_one_sentence(rope_dict, max_len):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rope = rope_from_hf(rope_dict, 16, max_len, where="config.json")
    except ValueError as e:
        assert_one_sentence(e)
        return
    assert_usable(rope, max_len)
