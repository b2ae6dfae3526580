"""LongRoPE2's search (Shang et al. 2025, "LongRoPE2: Near-Lossless LLM Context Window Scaling", arXiv 2502.20082):
what it changes in LongRoPE's evolutionary search (search.py), as options of `search.py`.

1. **The critical dimension.** RoPE pair i turns with period 2 pi b^(2i/d). Pairs whose period is longer than the
   pre-training length L never completed a turn in training: they are the insufficiently trained ones, and only
   they are searched. The official default is the pair index cd = ceil((d/2) log_b(L / 2 pi)) - 1 (`critical_dim`);
   `--critical-dim N` chooses another (the official LLaMA3 example fixes 33 where the formula gives 34).
2. **The search space.** Pairs i >= cd take factors on the 0.01 grid in [s, S] (s = target / original length,
   S = `--length-scale`, the official example 2 s), strictly increasing with i. Pairs i < cd are not searched:
   they follow NTK's rule tied to the critical pair, lambda_i = lambda_cd^(i/cd) (`tie_low_factors`, official
   `ntk_left`), re-applied after every mutation and crossover. There is no n_hat.
   Mutation redraws each searched factor with probability 0.3 uniformly on the grid between its neighbours, the
   last at most 4 above the one before (`mutate_steps`); crossover copies parent 1 and takes parent 2's value at a
   pair with probability 0.3 x 0.5, piling swaps onto the same child until it is new and increasing
   (`CrossoverDraws`). The initial population starts from 8 NTK-shaped seeds (`seed_steps`).
3. **Needle-driven perplexity.** The fitness is the loss on the answer tokens only of a needle planted in each
   long document (one needle per sample, at spread depths; `needle_samples`, `needle_loss`), not on every token.
4. **The attention scale** sqrt(1 + ln s / ln L), computed from s = target / original and fixed for every candidate
   (`attention_scale`; independent of S).

Official code (microsoft/LongRoPE, folder `examples/longrope2/` and the shared files it edits):
`evolution/search.py` (critical dimension, search space), `evolution/algorithms/dim_mono.py`
(`DimMonoGeneticAlgorithm.mutate` / `.crossover`, `ntk_left`), `evolution/algorithms/genetic_base.py` (the
initial population; read in the first author's fork J-shang/LongRoPE, branch dev/nishang/omni),
`examples/longrope2/pg19_needle_llama3.py` (the needle data), `evaluation/perplexity.py` (`compute_perplexity`,
loss on `cus_labels` only), `rope/longrope.py` (`LongRoPEScaledRotaryEmbedding`, mscale "su").

    python search.py --model tiny --target 8x --longrope2 --out factors2.json
    python search.py --model tiny --target 8x --critical-dim 8 --length-scale 12 --needle-fitness --out f.json
"""

import math
import random
from dataclasses import dataclass

import torch

GRID = 100  # the 0.01 grid of search.py: factors as integer hundredths
MUTATION_PROB = 0.3  # dim_mono.py: each searched pair is redrawn with this probability
CROSSOVER_VISIT, CROSSOVER_SWAP = 0.3, 0.5  # dim_mono.py: a pair is visited, then takes parent 2's value
LAST_STEP = 4.0  # dim_mono.py: the last pair at most this much above the one before it
N_SEEDS = 8  # genetic_base.py (fork): the first 8 individuals are NTK-shaped seeds


# ----------------------------------------------------------------------------------------------------------------
# The critical dimension and the attention scale


def critical_dim(rotary_dim, base, original):
    """The official default (`evolution/search.py`): the 0-based pair index ceil((d/2) log_b(L / 2 pi)) - 1, one
    below the first pair whose period 2 pi b^(2i/d) exceeds the pre-training length L."""
    return math.ceil(rotary_dim / 2 * math.log(original / (2 * math.pi)) / math.log(base)) - 1


def check_critical_dim(cd, n_factors, given):
    """A critical dimension leaves at least one searched pair: 0 <= cd < d/2."""
    if not 0 <= cd < n_factors:
        how = "--critical-dim" if given else "the critical dimension ceil((d/2) log_b(L / 2 pi)) - 1"
        raise ValueError(f"{how} is {cd} but must be a pair index from 0 to {n_factors - 1} (the model rotates "
                         f"{n_factors} pairs){'' if given else '; set --critical-dim'}")
    return cd


def attention_scale(factor, original):
    """LongRoPE2's attention scale (official `rope/longrope.py`, mscale policy "su", the default): sqrt(1 + ln s /
    ln L) with s = target / original length; 1 when s <= 1. It multiplies cos and sin, as in longrope.py."""
    return 1.0 if factor <= 1 else math.sqrt(1 + math.log(factor) / math.log(original))


# ----------------------------------------------------------------------------------------------------------------
# The search space: pairs below cd tied to the critical pair, those from cd on searched


def tie_low_factors(factors, cd):
    """Official `ntk_left`: lambda_i = lambda_cd^(i/cd) for i < cd, a geometric ramp from 1 up to the critical
    pair's factor (NTK's shape); the pairs from cd on are kept."""
    factors = list(factors)
    return [factors[cd] ** (i / cd) for i in range(cd)] + factors[cd:]


def tie_low_steps(steps, cd):
    """The same on the grid: what a candidate records (the rope uses the exact values, `tie_low_factors`)."""
    exact = tie_low_factors([s / GRID for s in steps], cd)
    return tuple(int(round(f * GRID)) for f in exact[:cd]) + tuple(int(s) for s in steps[cd:])


def increasing(steps, cd):
    """Official: `np.all(np.diff(factors) > 0)`. The tied pairs rise geometrically up to lambda_cd > 1, so only the
    searched ones need checking (their grid values; a tied pair's rounded step may repeat near lambda = 1)."""
    searched = steps[cd:]
    return all(b > a for a, b in zip(searched, searched[1:]))


def mutate_steps(steps, cd, lower, upper, rng, prob=MUTATION_PROB):
    """`DimMonoGeneticAlgorithm.mutate`: each pair i >= cd, in order, with probability `prob` takes a value drawn
    uniformly on the grid between its neighbours, [ceil(lambda_{i-1}), floor(lambda_{i+1})], or for the last pair
    [ceil(lambda_{i-1}), floor(lambda_{i-1} + 4)], clamped to [lower, upper] (s and S in hundredths); the tied pairs
    follow the new lambda_cd. Returns the steps, or None when they are not strictly increasing (the official loop
    draws again; algorithm1.fresh does)."""
    steps = list(steps)
    n = len(steps)
    for i in range(cd, n):
        if rng.random() >= prob:
            continue
        if i > cd:
            below = steps[i - 1]
        elif cd:  # the pair below is tied to this one's current value (exactly, not on the grid)
            below = math.ceil(GRID * (steps[cd] / GRID) ** ((cd - 1) / cd) - 1e-9)
        else:
            below = lower
        above = steps[i + 1] if i + 1 < n else below + int(LAST_STEP * GRID)
        lo, hi = max(below, lower), min(above, upper)
        if lo <= hi:
            steps[i] = int(rng.integers(lo, hi + 1))
    steps = tie_low_steps(steps, cd)
    return steps if increasing(steps, cd) else None


class CrossoverDraws:
    """`DimMonoGeneticAlgorithm.crossover` as successive draws: each call makes one more pass over the pairs
    i >= cd of a child that started as parent 1, taking parent 2's value at a pair with probability 0.3 x 0.5.
    Swaps pile up from one call to the next, as in the official loop of `max_crossover_try` passes; a call
    returns the child when it is strictly increasing, else None. Equal parents give None at once (official)."""

    def __init__(self, a, b, cd, rng):
        self.child, self.other, self.cd, self.rng = list(a), list(b), cd, rng
        self.same = list(a) == list(b)

    def __call__(self):
        if self.same:
            return None
        for i in range(self.cd, len(self.child)):
            if self.rng.random() < CROSSOVER_VISIT and self.rng.random() < CROSSOVER_SWAP:
                self.child[i] = self.other[i]
        steps = tie_low_steps(self.child, self.cd)
        return steps if increasing(steps, self.cd) else None


def seed_steps(n_factors, cd, factor, lower, upper):
    """The initial seeds (fork `genetic_base.run_genetic_algorithm`, `ntk_init`): for sigma_j = s + j s / 10,
    j = 0..7, the pairs from cd on are sigma_j + 0.1 k (k = 0, 1, ...) and those below follow sigma_j^(i/cd). A
    seed that leaves [s, S] is left out; ValueError if none fits."""
    seeds = []
    for j in range(N_SEEDS):
        sigma = factor + j * factor / 10
        searched = [int(round((sigma + 0.1 * k) * GRID)) for k in range(n_factors - cd)]
        if searched[0] >= lower and searched[-1] <= upper:
            seeds.append(tie_low_steps([searched[0]] * cd + searched, cd))
    if not seeds:
        raise ValueError(f"--length-scale {upper / GRID:g} leaves no room for LongRoPE2's seeds: the first, s + 0.1 k "
                         f"over {n_factors - cd} pairs, reaches {factor + 0.1 * (n_factors - cd - 1):.2f}")
    return seeds


# ----------------------------------------------------------------------------------------------------------------
# Needle-driven perplexity


@dataclass(frozen=True)
class Needle:
    """One fitness sample: a document of the search length with a passkey planted in it, ending in the question
    and its answer; only the last `answer` tokens (the key's) are scored."""
    tokens: torch.Tensor  # (length,)
    answer: int
    depth: float

    def sum(self):  # search.py fingerprints its documents by their token sum
        return self.tokens.sum()


def needle_samples(documents, tokenizer, seed=0):
    """One needle per document, at depths spread evenly from its start (0) to its end (1): the passkey sentence of
    the prompt the model was taught to answer (`common.passkey_needle`, `PASSKEY_QUESTION`) planted at the line
    boundary nearest the depth, the document's text around it, the question and the key at the end, all in
    exactly the document's length (official `pg19_needle_llama3.py`: 10 documents x 10 depths, the needle snapped to
    a line end, the answer last). Keys: 5 digits, seeded."""
    from common import PASSKEY_QUESTION, passkey_needle
    rng = random.Random(f"needles-{seed}")
    samples = []
    for j, doc in enumerate(documents):
        key = str(rng.randint(10000, 99999))
        depth = j / (len(documents) - 1) if len(documents) > 1 else 0.5
        needle = tokenizer.encode(" " + passkey_needle(key) + "\n")
        question = tokenizer.encode(" " + PASSKEY_QUESTION)
        spoken = tokenizer.encode(" " + key)
        digits = tokenizer.encode(key)
        answer = len(digits) if spoken[-len(digits):] == digits else len(spoken)  # the key's own tokens
        room = len(doc) - len(needle) - len(question) - len(spoken)
        if room < 1:
            raise ValueError(f"a needle takes {len(needle) + len(question) + len(spoken)} tokens (passkey sentence, "
                             f"question and key) but the target length is {len(doc)}; use a longer target")
        text = doc[:room].tolist()
        at = _line_end_near(text, tokenizer, depth * room)
        ids = text[:at] + needle + text[at:] + question + spoken
        samples.append(Needle(torch.tensor(ids, dtype=torch.long), answer, depth))
    return samples


def _line_end_near(ids, tokenizer, position):
    """The position just after the line end nearest `position` (official: a token that is '\\n', ',\\n' or '.\\n'),
    or `position` itself in a document without line ends; never before a leading <s>."""
    first = 1 if ids and ids[0] == tokenizer.bos_id else 0
    ends = {t for t in set(ids) if tokenizer.decode([t]).endswith("\n")}
    cuts = [i + 1 for i, t in enumerate(ids) if t in ends] + [first]
    return min(cuts, key=lambda c: (abs(c - position), c))


@torch.inference_mode()
def needle_loss(model, rope, needles):
    """The fitness: mean over samples of each sample's mean loss (nats) on its answer tokens only, one forward over
    the whole sample (official `compute_perplexity` with `cus_labels`: every other label -100)."""
    model.set_rope(rope)
    device = next(model.parameters()).device
    total = 0.0
    for needle in needles:
        tokens = needle.tokens.to(device)
        targets = torch.full_like(tokens, -100)
        targets[-needle.answer - 1:-1] = tokens[-needle.answer:]  # position t predicts token t + 1
        total += float(model.loss(tokens[None], targets[None]))
    return total / len(needles)
