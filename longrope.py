"""Rotary position embedding (RoPE) and every way of rescaling it to reach longer contexts.

LongRoPE (Ding et al., 2024, arXiv 2402.13753) writes every RoPE extension method in one form (Section 2.1, Eq. 2):
position n and frequency index i rotate by the angle  n * theta_i / lambda_i,  with theta_i = base^(-2i/d)
and one rescale factor lambda_i per frequency. The methods differ only in their lambdas:

    none         lambda_i = 1
    pi           lambda_i = s                               (linear Position Interpolation)
    ntk          lambda_i = s^(2i/(d-2))                    (NTK-aware: base * s^(d/(d-2)))
    dynamic-ntk  ntk, with s taken from the current sequence length
    yarn         a ramp between 1 (fast frequencies) and s (slow ones), plus an attention scale 0.1 ln s + 1
    llama3       Llama 3.1's rule: wavelengths under L/high_freq_factor keep lambda = 1, those over
                 L/low_freq_factor get s, a smooth blend in between; no attention scale
    longrope     lambda_i found by evolutionary search (Section 3.2); the first n_hat positions keep the
                 original angles (Eq. 3); attention scale sqrt(1 + ln s / ln L_original); one set of factors for
                 short sequences and one for long ones (Section 3.3).

Each method is a pure function of the frequencies returning (inverse frequencies, attention scale); the cos/sin
tables are rebuilt from them for the length at hand, in float32, and are never saved in a checkpoint.
The layout is Hugging Face's rotate-half: the first half of the rotated channels pairs with the second half.
Some models rotate only the first rotary_dim = head_dim * partial_rotary_factor channels of each head (Phi-4-mini):
every `head_dim` argument below is then that rotary dimension, d = rotary_dim, and a factor file holds one
factor per rotated frequency (rotary_dim / 2).
The factor file is a JSON holding the rope dict exactly as transformers reads it (`rope_type: "longrope"`,
`short_factor`, `long_factor`, `original_max_position_embeddings`, `factor`, `attention_factor`), plus `n_hat`
and provenance fields of our own.
"""

import json
import math
import os
import warnings
from dataclasses import dataclass, field, replace

import torch

METHODS = ("none", "pi", "ntk", "dynamic-ntk", "yarn", "llama3", "longrope")
MAX_FACTOR = 1e6  # a million times the original length: past it, powers of the factor overflow a float
MAX_ATTENTION_FACTOR = 1e3  # LongRoPE's and YaRN's are near 1 (1.2 at s = 64); 3.4e38 overflows float32 tables


@dataclass(frozen=True)
class RopeScaling:
    """How positions are rescaled. `factor` is s = target length / original_max_len."""

    method: str = "none"
    factor: float = 1.0
    original_max_len: int = 4096
    long_factor: tuple | None = None  # longrope: lambda_i for sequences longer than original_max_len
    short_factor: tuple | None = None  # longrope: lambda_i for sequences that fit original_max_len
    attention_factor: float | None = None  # overrides the method's own attention scale
    n_hat: int = 0  # longrope: the first n_hat positions are not interpolated
    beta_fast: float = 32.0  # yarn ramp bounds, in rotations over original_max_len
    beta_slow: float = 1.0
    truncate: bool = True  # yarn: round the ramp's ends to whole channels (transformers' default)
    low_freq_factor: float = 1.0  # llama3: wavelengths beyond L / low_freq_factor are interpolated by s
    high_freq_factor: float = 4.0  # llama3: wavelengths below L / high_freq_factor are kept
    name: str = ""  # label for tables and figures; defaults to the method
    extra: dict = field(default_factory=dict, compare=False, hash=False)  # provenance read from a factor file

    def __post_init__(self):
        for name in ("long_factor", "short_factor"):  # lists (from JSON or a search) become tuples: hashable
            if getattr(self, name) is not None:
                object.__setattr__(self, name, tuple(float(v) for v in getattr(self, name)))
        if self.method not in METHODS:
            raise ValueError(f"unknown rope method '{self.method}'; expected one of {', '.join(METHODS)} or a .json factor file")
        if not (math.isfinite(self.factor) and self.factor > 0):
            raise ValueError(f"rope factor must be a positive number, got {self.factor}")

    @property
    def label(self):
        return self.name or self.method

    def uses_long_factors(self, seq_len):
        """transformers' rule: long factors once the sequence no longer fits the original length."""
        return seq_len > self.original_max_len


def inverse_frequencies(head_dim, base):
    """theta_i = base^(-2i/d), i = 0 .. d/2-1, computed exactly as transformers does (float32)."""
    exponents = torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim
    return 1.0 / (base ** exponents)


def yarn_attention_scale(factor, mscale=1.0):
    """YaRN's attention temperature sqrt(1/t) = 0.1 * mscale * ln s + 1 (Peng et al. 2023; mscale = 1 there)."""
    return 1.0 if factor <= 1 else 0.1 * mscale * math.log(factor) + 1.0


def _yarn_inverse_frequencies(head_dim, base, rope):
    s, L = rope.factor, rope.original_max_len

    def dim_for_rotations(rotations):  # the channel whose wavelength fits `rotations` times into L
        return head_dim * math.log(L / (rotations * 2 * math.pi)) / (2 * math.log(base))

    low, high = dim_for_rotations(rope.beta_fast), dim_for_rotations(rope.beta_slow)
    if rope.truncate:
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, head_dim - 1)
    if low == high:
        high += 0.001  # avoid a zero-width ramp
    ramp = ((torch.arange(head_dim // 2, dtype=torch.float32) - low) / (high - low)).clamp(0, 1)
    keep = 1 - ramp  # 1: high frequency, kept (extrapolated); 0: low frequency, interpolated by s
    powers = base ** (torch.arange(0, head_dim, 2).float() / head_dim)
    inv_freq = (1.0 / (s * powers)) * (1 - keep) + (1.0 / powers) * keep
    return inv_freq, yarn_attention_scale(s)


def _llama3_inverse_frequencies(head_dim, base, rope):
    """Llama 3.1 (Dubey et al. 2024): by wavelength, the same three bands as YaRN's ramp, written as transformers
    and Meta's reference code write them (the same float32 operations, so the same values)."""
    theta = inverse_frequencies(head_dim, base)
    s, L = rope.factor, rope.original_max_len
    wavelength = 2 * math.pi / theta
    long_bound, short_bound = L / rope.low_freq_factor, L / rope.high_freq_factor
    inv_freq = torch.where(wavelength > long_bound, theta / s, theta)
    smooth = (L / wavelength - rope.low_freq_factor) / (rope.high_freq_factor - rope.low_freq_factor)
    blended = (1 - smooth) * inv_freq / s + smooth * inv_freq
    medium = (wavelength >= short_bound) & (wavelength <= long_bound)
    return torch.where(medium, blended, inv_freq)


def longrope_attention_scale(factor, original_max_len):
    """sqrt(1 + ln s / ln L), which keeps attention entropy as the window grows: not in the paper, but the official
    code's default (`_calc_mscale_su`), Phi-3's, and transformers' default attention_factor for longrope."""
    return 1.0 if factor <= 1.0 else math.sqrt(1 + math.log(factor) / math.log(original_max_len))


def rope_frequencies(rope, head_dim, base, seq_len):
    """Returns (inverse frequencies [head_dim/2] float32, attention scale) for a sequence of `seq_len` tokens."""
    theta = inverse_frequencies(head_dim, base)
    s = rope.factor
    if rope.method == "none":
        inv_freq, scale = theta, 1.0
    elif rope.method == "pi":
        inv_freq, scale = theta / s, 1.0
    elif rope.method == "ntk":
        inv_freq, scale = inverse_frequencies(head_dim, base * s ** (head_dim / (head_dim - 2))), 1.0
    elif rope.method == "dynamic-ntk":
        # transformers' `dynamic`: the scale grows with the sequence, never shrinks below the original length
        length = max(seq_len, rope.original_max_len)
        # s L / L0 - (s - 1), as s (L / L0 - 1) + 1: exactly 1 at L = L0 whatever s (the first form cancels)
        grown = base * (s * (length / rope.original_max_len - 1) + 1) ** (head_dim / (head_dim - 2))
        inv_freq, scale = inverse_frequencies(head_dim, grown), 1.0
    elif rope.method == "yarn":
        inv_freq, scale = _yarn_inverse_frequencies(head_dim, base, rope)
    elif rope.method == "llama3":
        inv_freq, scale = _llama3_inverse_frequencies(head_dim, base, rope), 1.0
    else:  # longrope
        factors = rope.long_factor if rope.uses_long_factors(seq_len) else rope.short_factor
        if factors is None:
            factors = [1.0] * (head_dim // 2)
        exponents = torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim
        inv_freq = 1.0 / (torch.tensor(factors, dtype=torch.float32) * base**exponents)
        scale = longrope_attention_scale(s, rope.original_max_len)
    if rope.attention_factor is not None:
        scale = rope.attention_factor
    return inv_freq, float(scale)


def rescale_factors(rope, head_dim, base, seq_len):
    """lambda_i = theta_i / theta'_i: the per-frequency factors of any method (for plots and search seeds)."""
    inv_freq, _ = rope_frequencies(rope, head_dim, base, seq_len)
    return (inverse_frequencies(head_dim, base).double() / inv_freq.double()).tolist()


def rope_cos_sin(rope, head_dim, base, positions, seq_len, device=None):
    """cos, sin tables [len(positions), head_dim] in float32, attention scale folded in (as transformers does).

    `seq_len` is the length the rescaling is chosen for (one choice per forward pass or per generation, so a KV
    cache never mixes short and long factors). Positions below n_hat keep the original angles (LongRoPE Eq. 3).
    """
    inv_freq, scale = rope_frequencies(rope, head_dim, base, seq_len)
    positions = positions.to(device=device, dtype=torch.float32)
    angles = positions[:, None] * inv_freq.to(device)[None, :]  # (T, hd/2)
    if rope.method == "longrope" and rope.n_hat > 0 and rope.uses_long_factors(seq_len):
        original = positions[:, None] * inverse_frequencies(head_dim, base).to(device)[None, :]
        angles = torch.where(positions[:, None] < rope.n_hat, original, angles)
    angles = torch.cat((angles, angles), dim=-1)  # (T, hd): rotate-half pairs channel j with j + hd/2
    return angles.cos() * scale, angles.sin() * scale


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rope(x, cos, sin):
    """x (B, nh, T, hd); cos/sin (T, rotary_dim), or (B, 1, T, rotary_dim) for a rescaling per row: the first
    rotary_dim channels of each head rotate, the rest pass through unchanged (partial rotary). The product runs in
    x's dtype, like transformers."""
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    rotary_dim = cos.shape[-1]
    if rotary_dim == x.shape[-1]:
        return x * cos + rotate_half(x) * sin
    rotated, passed = x[..., :rotary_dim], x[..., rotary_dim:]
    return torch.cat((rotated * cos + rotate_half(rotated) * sin, passed), dim=-1)


# ----------------------------------------------------------------------------------------------------------------
# Building a RopeScaling from a name, a factor file or a Hugging Face config.


def make_rope(method, original_max_len, target_len=None, factor=None):
    """A baseline method stretched from original_max_len to target_len (or by `factor`)."""
    if factor is None:
        factor = max(target_len / original_max_len, 1.0) if target_len else 1.0
    if method == "dynamic-ntk":
        factor = 1.0  # the length itself sets the scale; transformers' `factor` would stretch it further
    # llama3 keeps its RopeScaling defaults: Meta's low_freq_factor 1 and high_freq_factor 4
    return RopeScaling(method=method, factor=float(factor), original_max_len=int(original_max_len))


def parse_rope(spec, head_dim, original_max_len, target_len=None):
    """'none' | 'pi' | 'ntk' | 'dynamic-ntk' | 'yarn' | 'llama3' | path/to/factors.json."""
    if spec.endswith(".json"):
        return load_factors(spec, head_dim)
    if spec not in METHODS or spec == "longrope":
        raise ValueError(f"unknown rope method '{spec}'; expected one of none, pi, ntk, dynamic-ntk, yarn, llama3 or a "
                         f".json factor file")
    return make_rope(spec, original_max_len, target_len)


def _check_factors(values, what):
    """Factors check_rope_dict has accepted, as a tuple; a warning where they are not monotone."""
    if any(b < a for a, b in zip(values, values[1:])):
        warnings.warn(f"{what} is not monotone non-decreasing (LongRoPE's search keeps it so)", stacklevel=3)
    return tuple(float(v) for v in values)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)  # JSON's true is no number


def _is_integer(value):
    return isinstance(value, int) and not isinstance(value, bool)


def check_rope_dict(rope_dict, where, head_dim, max_position_embeddings, n_hat=0):
    """Every value a rope dict (and a factor file's n_hat) carries, checked before anything is computed from it,
    so that a bad file fails at load with one sentence naming `where` and the key, never later at use."""
    def fail(key, expected, value):
        raise ValueError(f"{where}: {key} must be {expected}, got {value!r}")

    if rope_dict is not None and not isinstance(rope_dict, dict):
        raise ValueError(f"{where}: the rope dict must be a JSON object, got {rope_dict!r}")
    rope_dict = rope_dict or {}
    kind = rope_dict.get("rope_type", rope_dict.get("type", "default"))
    if not isinstance(kind, str):
        fail("rope_type", "a string", kind)
    kind = "longrope" if kind == "su" else kind
    required = {"linear": ("factor",), "dynamic": ("factor",),  # yarn's factor may be missing (transformers)
                "longrope": ("short_factor", "long_factor", "original_max_position_embeddings")}
    for key in required.get(kind, ()):
        if rope_dict.get(key) is None:  # JSON's null is no value either
            raise ValueError(f"{where} lacks '{key}' in its {kind} rope dict")
    original = rope_dict.get("original_max_position_embeddings")
    # ln(original length) divides LongRoPE's attention scale: 1 token would divide by zero
    if original is not None and not (_is_integer(original) and original >= 2):
        fail("original_max_position_embeddings", "an integer of at least 2", original)
    factor = rope_dict.get("factor")
    if factor is not None and not (_is_number(factor) and 1 <= factor <= MAX_FACTOR):
        fail("factor", f"a number from 1 (transformers' rule) to {MAX_FACTOR:,.0f}", factor)
    for key in ("attention_factor", "beta_fast", "beta_slow"):
        value = rope_dict.get(key)
        if value is not None and not (_is_number(value) and math.isfinite(value) and value > 0):
            fail(key, "a finite positive number", value)
    if (rope_dict.get("attention_factor") or 1) > MAX_ATTENTION_FACTOR:  # it multiplies float32 cos and sin
        fail("attention_factor", f"at most {MAX_ATTENTION_FACTOR:,.0f}", rope_dict["attention_factor"])
    beta_fast, beta_slow = rope_dict.get("beta_fast") or 32, rope_dict.get("beta_slow") or 1  # transformers' defaults
    if beta_fast < beta_slow:
        fail("beta_fast", f"at least beta_slow ({beta_slow})", beta_fast)
    for key in ("long_factor", "short_factor"):
        values = rope_dict.get(key)
        if values is None:
            continue
        if not isinstance(values, list) or not all(_is_number(v) for v in values):
            raise ValueError(f"{where}: {key} must be a list of numbers")
        if len(values) != head_dim // 2:
            raise ValueError(f"{where}: {key} has {len(values)} values but rotary dimension {head_dim} needs "
                             f"{head_dim // 2} (one per rotated frequency)")
        bad = [v for v in values if not (math.isfinite(v) and v > 0)]
        if bad:
            raise ValueError(f"{where}: {key} must hold finite positive numbers, found {bad[0]}")
    if not (_is_integer(max_position_embeddings) and max_position_embeddings >= 1):
        fail("max_position_embeddings", "a positive integer", max_position_embeddings)
    if not (_is_integer(n_hat) and 0 <= n_hat <= max_position_embeddings):
        fail("n_hat", f"an integer from 0 to the target length {max_position_embeddings}", n_hat)


def rope_from_hf(rope_dict, head_dim, max_position_embeddings, where="rope dict"):
    """The rope dict of a config.json (`rope_scaling` or `rope_parameters`) as a RopeScaling.

    Every key transformers reads for a rope type is read here the same way (rope_theta and partial_rotary_factor by
    the model config); keys it ignores are ignored; a rope type it has and this code lacks is refused."""
    check_rope_dict(rope_dict, where, head_dim, max_position_embeddings)
    if not rope_dict:
        return RopeScaling(original_max_len=max_position_embeddings)
    kind = rope_dict.get("rope_type", rope_dict.get("type", "default"))
    kind = "longrope" if kind == "su" else kind  # the first Phi-3 configs called LongRoPE "su"
    original = int(rope_dict.get("original_max_position_embeddings") or max_position_embeddings)
    if kind == "default":
        return RopeScaling(original_max_len=max_position_embeddings)
    if kind == "linear":
        return RopeScaling("pi", float(rope_dict["factor"]), original)
    if kind == "dynamic":
        return RopeScaling("dynamic-ntk", float(rope_dict["factor"]), max_position_embeddings)
    if kind == "yarn":
        factor = float(rope_dict.get("factor") or max_position_embeddings / original)
        attention_factor = rope_dict.get("attention_factor")
        mscale, mscale_all_dim = rope_dict.get("mscale"), rope_dict.get("mscale_all_dim")
        if attention_factor is None and mscale and mscale_all_dim:  # DeepSeek's configs; one alone is ignored
            attention_factor = yarn_attention_scale(factor, mscale) / yarn_attention_scale(factor, mscale_all_dim)
        return RopeScaling(
            "yarn", factor, original, attention_factor=attention_factor,
            beta_fast=float(rope_dict.get("beta_fast") or 32), beta_slow=float(rope_dict.get("beta_slow") or 1),
            truncate=bool(rope_dict.get("truncate", True)))
    if kind == "llama3":
        for key in ("factor", "low_freq_factor", "high_freq_factor"):
            if rope_dict.get(key) is None:
                raise ValueError(f"rope_type 'llama3' needs '{key}' in the rope dict")
        return RopeScaling("llama3", float(rope_dict["factor"]), original,
                           low_freq_factor=float(rope_dict["low_freq_factor"]),
                           high_freq_factor=float(rope_dict["high_freq_factor"]))
    if kind == "longrope":
        factor = rope_dict.get("factor") or max_position_embeddings / original
        return RopeScaling(
            "longrope", float(factor), original,
            long_factor=_check_factors(rope_dict["long_factor"], "long_factor"),
            short_factor=_check_factors(rope_dict["short_factor"], "short_factor"),
            attention_factor=rope_dict.get("attention_factor"))
    raise ValueError(f"rope_type '{kind}' is not supported; expected default, linear, dynamic, yarn, llama3, longrope "
                     f"or su (longrope)")


def to_hf(rope, head_dim):
    """The rope dict transformers reads (`rope_scaling` in config.json); None for plain RoPE."""
    if rope.method == "none":
        return None
    if rope.method == "pi":
        return {"rope_type": "linear", "factor": rope.factor}
    if rope.method == "ntk":
        raise ValueError("transformers has no static NTK rope type; use dynamic-ntk or a factor file")
    if rope.method == "dynamic-ntk":
        return {"rope_type": "dynamic", "factor": rope.factor}
    if rope.method == "yarn":
        d = {"rope_type": "yarn", "factor": rope.factor, "original_max_position_embeddings": rope.original_max_len,
             "beta_fast": rope.beta_fast, "beta_slow": rope.beta_slow}
        if rope.attention_factor is not None:
            d["attention_factor"] = rope.attention_factor
        if not rope.truncate:
            d["truncate"] = False
        return d
    if rope.method == "llama3":
        return {"rope_type": "llama3", "factor": rope.factor, "low_freq_factor": rope.low_freq_factor,
                "high_freq_factor": rope.high_freq_factor, "original_max_position_embeddings": rope.original_max_len}
    identity = [1.0] * (head_dim // 2)
    d = {
        "rope_type": "longrope",
        "short_factor": list(rope.short_factor or identity),
        "long_factor": list(rope.long_factor or identity),
        "original_max_position_embeddings": rope.original_max_len,
        "factor": rope.factor,
    }
    if rope.attention_factor is not None:
        d["attention_factor"] = rope.attention_factor
    return d


def save_factors(path, rope, head_dim, **provenance):
    """Writes a factor file (atomically): transformers' rope dict, our n_hat, and where the factors came from."""
    record = {
        "rope_scaling": to_hf(replace(rope, method="longrope"), head_dim),
        "max_position_embeddings": int(round(rope.factor * rope.original_max_len)),
        "n_hat": int(rope.n_hat),
        **provenance,
    }
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(record, f, indent=1)
    os.replace(tmp, path)
    return path


def load_factors(path, head_dim):
    """Reads and validates a factor file; every problem is one sentence naming the file."""
    try:
        with open(path) as f:
            record = json.load(f)
    except FileNotFoundError:
        raise ValueError(f"factor file {path} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"factor file {path} is not valid JSON ({e})") from None
    rope_dict = record.get("rope_scaling") or record.get("rope_parameters") if isinstance(record, dict) else None
    if not isinstance(rope_dict, dict) or rope_dict.get("rope_type", rope_dict.get("type")) not in ("longrope", "su"):
        raise ValueError(f"factor file {path} has no 'rope_scaling' dict with rope_type 'longrope'")
    where = f"factor file {path}"
    max_len = record.get("max_position_embeddings", rope_dict.get("original_max_position_embeddings"))
    n_hat = record.get("n_hat", 0)
    check_rope_dict(rope_dict, where, head_dim, max_len, n_hat)
    rope = rope_from_hf(rope_dict, head_dim, max_len, where)
    name = os.path.splitext(os.path.basename(path))[0]
    extra = {k: v for k, v in record.items() if k not in ("rope_scaling", "n_hat")}
    return replace(rope, n_hat=n_hat, name=name, extra=extra)
