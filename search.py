"""LongRoPE's evolutionary search for non-uniform RoPE rescale factors (Ding et al. 2024, arXiv 2402.13753).

Section 3.2, Algorithm 1: every frequency i of RoPE gets its own rescale factor lambda_i, and the first n_hat
positions keep their original angles (Eq. 3). Both are found by an evolutionary search whose fitness is the
perplexity of the unchanged model on a few long documents at the target length (`evolve`):

    P_0  = PI, NTK and YaRN factors for the scale s, plus mutations of them        (seed_population)
    for each iteration:
        evaluate every new candidate                                                (evaluate_loss)
        Top-k   = the k best candidates so far                                      (select_parents)
        P_i     = Top-k + N1 mutations + N2 crossovers of Top-k                     (mutate, crossover)
        every child is kept on the 0.01 grid in [1, 1.25 s], made non-decreasing   (make_monotone)
        and is never one already evaluated                                          (fresh)

Section 3.3: `--recover` repeats the search at the original length for the short factors, which take over when a
sequence fits the original window, so the extended model keeps its short-context quality. What a search looks for,
long or short factors, at which length and from which seeds, is its SearchPlan (`plan`).

`--longrope2` (or `--critical-dim`, `--length-scale`, `--needle-fitness`): LongRoPE2's search (Shang et al. 2025,
arXiv 2502.20082; `longrope2.py`): only the pairs past the critical dimension are searched, in [s, S] and strictly
increasing, the others tied to it; the fitness is the loss on the answer of needles planted in the documents.

`--early-reject MARGIN` (racing, ours: the same search for fewer forward passes): a new candidate is scored one
document at a time and dropped once its mean loss so far exceeds the worst parent's on the same documents by more
than MARGIN nats (`race`). It could only have become a parent by doing much better on the documents left. P_0
races in blocks of k against the k-th best scored in full before each block (`score_children`).
Under `torchrun --nproc_per_node N search.py ...` each process scores every N-th candidate of a generation and the
losses are gathered (`score_generation`): the same result for any N.

    python search.py --model tiny --target 8x --out factors.json          # search the long factors
    python search.py --model tiny --recover --factors factors.json --out factors_rec.json
    python search.py --model tiny --factors factors_rec.json --export tiny_8x   # a folder transformers loads

The state (history, population, RNG) is saved after every iteration (`Logbook`); `--resume` continues to the result
an uninterrupted run with the same seed reaches.
"""

import argparse
import math
import os
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from tqdm import tqdm

import common
import longrope
import longrope2
import parallel
from checkpoint import export_model
from logbook import Logbook, history_csv_path, perplexity
from longrope import RopeScaling
from model import load_model, resolve_model_dir

N_HAT_CANDIDATES = (0, 1, 2, 4, 8, 12, 16, 20, 24, 28, 32, 64, 128, 256)  # Section 3.2's set for n_hat
GRID = 100  # factors live on a 0.01 grid, held as integer hundredths so duplicates compare exactly
SEED_METHODS = ("pi", "ntk", "yarn")  # the default; --seeds may add dynamic-ntk and llama3
MUTATION_STEP = 0.15  # standard deviation of a mutation's log-factor change (about +-15%)


@dataclass
class Settings:
    population: int = 64  # Section 4.1 / official code: 64 candidates, 40 iterations, top 32 parents,
    iterations: int = 40  # 16 mutations and 16 crossovers per iteration, mutation probability 0.3
    parents: int = 32
    mutations: int = 16
    crossovers: int = 16
    mutation_prob: float = 0.3
    seed: int = 0
    early_reject: float | None = None  # ours: the racing margin in nats (None: every candidate sees every document)

    def fingerprint(self):
        """The settings a saved search records; options left unset are left out, so their state files stay as they
        were before the options existed."""
        return {k: v for k, v in vars(self).items() if v is not None}


@dataclass(frozen=True)
class Candidate:
    steps: tuple  # lambda_i * 100 as integers, non-decreasing
    n_hat: int = 0

    @property
    def factors(self):
        return tuple(step / GRID for step in self.steps)


def candidate_of(entry):
    """The candidate a history entry records."""
    return Candidate(tuple(entry["steps"]), entry["n_hat"])


@dataclass(frozen=True)
class SearchSpace:
    n_factors: int  # head_dim / 2
    upper: int  # 1.25 * s in hundredths: the paper's upper bound for every lambda_i (LongRoPE2: S)
    n_hat_choices: tuple = (0,)
    lower: int = GRID  # the lower bound of the searched factors (LongRoPE2: s)
    critical_dim: int | None = None  # LongRoPE2: pairs from this one on are searched, those below tied to it

    def snap(self, factors, n_hat=0):
        """Any factors (a seed method, a factor file) as a candidate of this space."""
        steps = [min(max(int(round(f * GRID)), GRID), self.upper) for f in factors]
        return Candidate(make_monotone(steps), n_hat)


def search_space(factor, head_dim, target_len, search_n_hat=True):
    n_hat = tuple(n for n in N_HAT_CANDIDATES if n < target_len) if search_n_hat else (0,)
    return SearchSpace(head_dim // 2, max(int(math.floor(1.25 * factor * GRID + 1e-6)), GRID), n_hat)


# ----------------------------------------------------------------------------------------------------------------
# Algorithm 1


def evolve(score, space, seeds, settings, logbook=None, stop_after=None, ranks=(0, 1)):
    """Algorithm 1. `score(candidate)` yields the candidate's loss on each fitness document in turn (the fitness is
    their mean); returns the state: every candidate scored (`history`), the final population (indices into it, best
    first) and the best loss after each iteration (`curve`).

    `logbook` (Logbook) saves the state after each iteration, or resumes a saved one. `stop_after` ends the run after
    that many iterations, as a kill would (for tests). `ranks` = (this process, processes) shares the scoring of
    each generation (score_generation)."""
    logbook = logbook or Logbook()
    last = settings.iterations if stop_after is None else min(settings.iterations, stop_after)
    with logbook.open(settings, space) as state:
        history, rng = state["history"], restore_rng(state["rng"])
        seen = {candidate_of(h) for h in history}
        while state["iteration"] < last:
            iteration = state["iteration"] + 1
            if iteration == 0:  # P_0: the seeds, then mutations of them
                parents = []
                children = seed_population(seeds, space, settings.population, rng, settings.mutation_prob, seen)
            else:
                parents = select_parents(history, state["population"], settings.parents)  # Top-k
                children = next_generation(history, parents, space, settings, rng, seen)  # N1 mutations + N2 crossovers
            results = score_children(score, children, history, parents, settings, ranks)  # evaluate (and race)
            population = parents + record(history, children, results, iteration, settings)
            end_iteration(state, iteration, population, rng, logbook)
    return state


# ----------------------------------------------------------------------------------------------------------------
# Its steps


def make_monotone(steps):
    """Repair: lambda_i must not decrease with i (Section 3.2's monotone constraint: low frequencies, with their
    long wavelengths, need at least as much interpolation as high ones). Sorting keeps every value a parent gave."""
    return tuple(sorted(int(s) for s in steps))


def seed_population(seeds, space, size, rng, mutation_prob, seen):
    """P_0: the seed methods themselves, then mutations of them in turn until the population is full."""
    population = []
    for name, candidate in seeds:
        if candidate not in seen:
            seen.add(candidate)
            population.append((candidate, f"seed-{name}"))
    originals = list(population)
    while len(population) < size:
        parent, origin = originals[len(population) % len(originals)]
        child = fresh(lambda: mutate(parent, space, rng, mutation_prob), seen)
        if child is None:
            break  # the space is smaller than the population
        population.append((child, f"{origin}-mutation"))
    return population


def mutate(parent, space, rng, mutation_prob):
    """Each lambda_i, with probability p, is multiplied by exp(N(0, MUTATION_STEP)) and put back on the grid inside
    the space; the order is then repaired. n_hat, with probability p, jumps to another candidate value.

    A relative step moves slow and fast frequencies alike. The official code instead redraws a factor between its
    two neighbours, which cannot move the inside of a plateau, only its ends (PI's factors are all s, YaRN's slow
    half too); on the tiny model that rule ended 4% below the YaRN seed where this one ended 8% below, at the same
    budget. A LongRoPE2 space (`critical_dim` set) uses LongRoPE2's own mutation (`longrope2.mutate_steps`), which
    returns None for a child that is not strictly increasing."""
    if space.critical_dim is not None:
        steps = longrope2.mutate_steps(parent.steps, space.critical_dim, space.lower, space.upper, rng, mutation_prob)
        return None if steps is None else Candidate(steps)
    steps = list(parent.steps)
    for i in range(len(steps)):
        if rng.random() < mutation_prob:
            steps[i] = min(max(int(round(steps[i] * math.exp(rng.normal(0.0, MUTATION_STEP)))), GRID), space.upper)
    n_hat = parent.n_hat
    others = [n for n in space.n_hat_choices if n != n_hat]
    if others and rng.random() < mutation_prob:
        n_hat = int(others[rng.integers(len(others))])
    return Candidate(make_monotone(steps), n_hat)


def crossover(a, b, rng):
    """Each lambda_i and n_hat from either parent with equal chance; the mix may break the order: repair it."""
    from_b = rng.random(len(a.steps)) < 0.5
    steps = [y if take else x for x, y, take in zip(a.steps, b.steps, from_b)]
    n_hat = b.n_hat if rng.random() < 0.5 else a.n_hat
    return Candidate(make_monotone(steps), n_hat)


def crossover_draws(a, b, space, rng):
    """Successive crossover draws of parents a and b for `fresh`: each an independent `crossover`, or in a LongRoPE2
    space one more pass of LongRoPE2's crossover on the same child (`longrope2.CrossoverDraws`)."""
    if space.critical_dim is None:
        return lambda: crossover(a, b, rng)
    draws = longrope2.CrossoverDraws(a.steps, b.steps, space.critical_dim, rng)
    return lambda: None if (steps := draws()) is None else Candidate(steps)


def fresh(draw, seen, tries=200):
    """A candidate never evaluated before: the official code rejects duplicates of the whole history and draws
    again (the paper does not say). A draw of None (a LongRoPE2 child that is not increasing) is drawn again too."""
    for _ in range(tries):
        child = draw()
        if child is not None and child not in seen:
            seen.add(child)
            return child
    return None


def select_parents(history, population, k):
    """Top-k: the k lowest losses of the population (ties: the earlier candidate), best first."""
    return sorted(population, key=lambda i: (history[i]["loss"], i))[:k]


def next_generation(history, parents, space, settings, rng, seen):
    """N1 mutations and N2 crossovers of the parents, each new and monotone."""
    children = []
    for _ in range(settings.mutations):
        parent = candidate_of(history[parents[rng.integers(len(parents))]])
        child = fresh(lambda: mutate(parent, space, rng, settings.mutation_prob), seen)
        if child is not None:
            children.append((child, "mutation"))
    for _ in range(settings.crossovers):
        if len(parents) < 2:
            break
        i, j = sorted(rng.choice(len(parents), 2, replace=False))
        a, b = candidate_of(history[parents[i]]), candidate_of(history[parents[j]])
        child, origin = fresh(crossover_draws(a, b, space, rng), seen, tries=20), "crossover"
        if child is None:  # identical parents, or every mix already seen: mutate instead (official code)
            child, origin = fresh(lambda: mutate(a, space, rng, settings.mutation_prob), seen), "mutation"
        if child is not None:
            children.append((child, origin))
    return children


@torch.inference_mode()
def evaluate_loss(model, rope, documents):
    """Fitness: mean next-token loss (nats) of the unchanged model with `rope` over equal-length documents."""
    model.set_rope(rope)
    device = next(model.parameters()).device
    return sum(float(model.loss(doc[None].to(device))) for doc in documents) / len(documents)


# ----------------------------------------------------------------------------------------------------------------
# Around the steps: scoring a generation (processes sharing it, early rejection), the history


def score_children(score, children, history, parents, settings, ranks=(0, 1)):
    """A generation's results (`score_generation`), with early rejection racing each child against the worst
    parent (`race_cut`). P_0 has no parents yet: its first k members are scored in full, then each next k race the
    k-th best fully scored so far. Only a candidate that trails it can be dropped, and that one could not have been
    among P_0's k best. The cut for a block of k depends only on the blocks before it, so the result is the same
    for any number of processes."""
    if parents or settings.early_reject is None:
        cut = race_cut(history, parents, settings)  # the losses a child must keep up with
        return score_generation(score, children, cut, settings.early_reject, ranks)
    k, results = settings.parents, []
    for start in range(0, len(children), k):
        finished = [losses for losses, dropped in results if not dropped and math.isfinite(sum(losses))]
        finished.sort(key=lambda losses: sum(losses) / len(losses))  # stable: ties keep the earlier candidate
        cut = finished[k - 1] if len(finished) >= k else None
        results += score_generation(score, children[start:start + k], cut, settings.early_reject, ranks)
    return results


def score_generation(score, candidates, cut=None, margin=None, ranks=(0, 1)):
    """Each candidate's losses on the documents it was scored on, and whether racing dropped it (`race`). Under a
    launcher, process r of n scores candidates r, r + n, ... and every process gathers every score
    (`parallel.share`; the official code runs one evaluator process per copy of the model)."""
    return parallel.share(lambda c: race(score(c[0]), cut, margin), candidates, ranks)


def race(losses, cut, margin):
    """Early rejection (racing; ours): reads the candidate's per-document losses one at a time and stops once their
    mean exceeds the mean of `cut` (the worst parent's losses) on the same documents by more than `margin` nats, or
    is not a number. Returns (the losses read, dropped); without a cut, every loss."""
    read = []
    for loss in losses:
        read.append(float(loss))
        n = len(read)
        if cut is not None and n < len(cut) and not sum(read) / n <= sum(cut[:n]) / n + margin:
            return read, True
    return read, False


def race_cut(history, parents, settings):
    """What a new candidate races against: the worst parent's losses, once there are k parents (a child worse than
    all k cannot be selected); None without early rejection, before the first parents, or if that parent failed."""
    if settings.early_reject is None or len(parents) < settings.parents:
        return None
    worst = history[parents[-1]]
    return worst["losses"] if math.isfinite(worst["loss"]) else None


def record(history, candidates, results, iteration, settings):
    """Appends the scored candidates to the history (a dropped one with loss inf, never selected); returns their
    indices. With early rejection each also keeps its per-document losses, what later candidates race against."""
    for (candidate, origin), (losses, dropped) in zip(candidates, results):
        loss = math.inf if dropped else sum(losses) / len(losses)
        if not math.isfinite(loss) and not dropped:
            tqdm.write(f"candidate {len(history)} ({origin}, n_hat {candidate.n_hat}) gave loss {loss}; "
                       f"scored as the worst")
            loss = math.inf
        history.append({"iteration": iteration, "origin": origin, "n_hat": candidate.n_hat, "loss": loss,
                        "ppl": perplexity(loss), "steps": list(candidate.steps),
                        **({} if settings.early_reject is None else {"losses": losses, "dropped": dropped})})
    return list(range(len(history) - len(candidates), len(history)))


def end_iteration(state, iteration, population, rng, logbook):
    """The population sorted best first, the best loss so far on the curve, and the RNG's state with them: a resumed
    search draws what an uninterrupted one would."""
    history = state["history"]
    state.update(iteration=iteration, population=select_parents(history, population, len(population)),
                 rng=rng.bit_generator.state)
    state["curve"].append(history[state["population"][0]]["loss"])
    logbook.save(state)


def restore_rng(rng_state):
    rng = np.random.default_rng()
    rng.bit_generator.state = rng_state
    return rng


def forward_passes(history, documents):
    """Forward passes the search spent: one per candidate and document it was scored on."""
    return sum(len(h["losses"]) if "losses" in h else documents for h in history)


# ----------------------------------------------------------------------------------------------------------------
# What a search looks for


@dataclass
class SearchPlan:
    """One search, as `plan` sets it up: the factors its candidates fill in, the length they are scored at, and
    where the population starts."""
    length: int  # tokens of each fitness document
    factor: float  # s: the factors stretch the original length s times
    original: int  # L, the original length
    space: SearchSpace
    seeds: list  # (name, Candidate): P_0's first members
    base: RopeScaling  # every candidate's rescaling but for the factors it searches
    short: bool = False  # the short factors (recovery, Section 3.3); otherwise the long ones and n_hat
    seed_methods: tuple = SEED_METHODS
    fingerprint: dict = field(default_factory=dict)  # what a resumed search must share, beyond length and documents

    def rope(self, candidate):
        if self.short:
            return replace(self.base, short_factor=candidate.factors)
        factors, cd = candidate.factors, self.space.critical_dim
        if cd is not None:  # LongRoPE2: the pairs below cd exactly lambda_cd^(i/cd), not their grid values
            factors = tuple(longrope2.tie_low_factors(factors, cd))
        return replace(self.base, long_factor=factors, n_hat=candidate.n_hat)


def plan(model, target_len=None, original=None, recover=None, short_len=None, init=None, attention_factor=None,
         seed_methods=SEED_METHODS, search_n_hat=True, critical_dim=None, length_scale=None):
    """What is searched: the long factors and n_hat at target_len, or (recover: a RopeScaling, Section 3.3) its short
    factors at short_len (default: the original length) with the long ones fixed. Returns a SearchPlan.

    `init` (a RopeScaling, e.g. the factors a model was fine-tuned with) adds two seeds, its long factors stretched
    by target_len / its own length: PI on top of them, and YaRN's rule on top of them (`yarn_on_top`), for the
    progressive extension's second search (Section 3.3).
    `attention_factor` fixes the attention scale of every candidate (default: sqrt(1 + ln s / ln L) for this s).
    `seed_methods` are the rescaling methods whose factors at target_len seed the population.
    `search_n_hat=False` keeps n_hat at 0 (the ablation of Table 11).
    `critical_dim` (a pair index, or "auto" for `longrope2.critical_dim`) makes it LongRoPE2's search space
    (`plan_longrope2`): pairs from it on in [s, length_scale] (default 2 s), those below tied to it, no n_hat."""
    rotary_dim, theta = model.config.rotary_dim, model.config.rope_theta
    fingerprint = {"recover": None if recover is None else list(recover.long_factor),
                   "init": None if init is None else list(init.long_factor), "attention_factor": attention_factor,
                   **({} if search_n_hat else {"search_n_hat": False})}
    if recover is not None:
        factor, original = recover.factor, recover.original_max_len
        length = short_len or original
        if length > original:
            raise ValueError(f"the short length {length} exceeds the original length {original}; short factors "
                             f"only apply to sequences that fit it")
        space = search_space(factor, rotary_dim, length, search_n_hat=False)  # n_hat only acts on long sequences
        seeds = [("identity", space.snap([1.0] * (rotary_dim // 2))), ("long", space.snap(recover.long_factor))]
        if recover.short_factor:
            seeds.append(("short", space.snap(recover.short_factor)))
        return SearchPlan(length, factor, original, space, seeds, recover, True, seed_methods, fingerprint)
    original = original or model.rope.original_max_len  # a fine-tuned model's config holds its extended length
    length = target_len
    if length <= original:
        raise ValueError(f"target length {length} must exceed the original length {original}")
    factor = length / original
    if critical_dim is not None:
        if init is not None:
            raise ValueError("--init is not used by LongRoPE2's search (its official code ignores initial factors)")
        return plan_longrope2(model, length, original, critical_dim, length_scale, attention_factor, seed_methods)
    space = search_space(factor, rotary_dim, length, search_n_hat)
    seeds = [(m, space.snap(longrope.rescale_factors(longrope.make_rope(m, original, length), rotary_dim, theta,
                                                     length))) for m in seed_methods]
    if init is not None:
        if init.original_max_len != original or not init.long_factor:
            raise ValueError(f"the initial factors are for original length {init.original_max_len}, not {original}")
        stretch = factor / init.factor
        n_hat = init.n_hat if init.n_hat in space.n_hat_choices else 0
        seeds.append(("init", space.snap([f * stretch for f in init.long_factor], n_hat)))
        on_top = yarn_on_top(init.long_factor, rotary_dim, theta, int(round(init.factor * original)), stretch)
        seeds.append(("init-yarn", space.snap(on_top, n_hat)))
    base = RopeScaling("longrope", factor, original, attention_factor=attention_factor)
    return SearchPlan(length, factor, original, space, seeds, base, False, seed_methods, fingerprint)


def plan_longrope2(model, length, original, critical_dim="auto", length_scale=None, attention_factor=None,
                   seed_methods=SEED_METHODS):
    """LongRoPE2's search (`longrope2.py`): the critical pair cd (the official default, or a given index), factors
    of the pairs from cd on, on the 0.01 grid in [s, S], those below tied to lambda_cd, no n_hat; 8 NTK-shaped seeds;
    the attention scale sqrt(1 + ln s / ln L) for every candidate unless `attention_factor` fixes another."""
    rotary_dim, theta, factor = model.config.rotary_dim, model.config.rope_theta, length / original
    given = critical_dim != "auto"
    cd = int(critical_dim) if given else longrope2.critical_dim(rotary_dim, theta, original)
    longrope2.check_critical_dim(cd, rotary_dim // 2, given)
    scale = 2 * factor if length_scale is None else length_scale  # the official LLaMA3 example: S = 32 = 2 s
    if not (math.isfinite(scale) and scale >= factor):
        raise ValueError(f"--length-scale must be at least the extension ratio s = {factor:g}, got {scale}")
    lower, upper = int(math.ceil(factor * GRID - 1e-6)), int(math.floor(scale * GRID + 1e-6))
    space = SearchSpace(rotary_dim // 2, upper, (0,), lower, cd)
    seeds = [(f"ntk-{j}", Candidate(steps)) for j, steps in
             enumerate(longrope2.seed_steps(rotary_dim // 2, cd, factor, lower, upper))]
    attention = longrope2.attention_scale(factor, original) if attention_factor is None else attention_factor
    base = RopeScaling("longrope", factor, original, attention_factor=attention)
    fingerprint = {"recover": None, "init": None, "attention_factor": attention_factor, "critical_dim": cd,
                   "length_scale": scale}
    return SearchPlan(length, factor, original, space, seeds, base, False, seed_methods, fingerprint)


def yarn_on_top(factors, head_dim, base, length, scale, beta_fast=32.0, beta_slow=1.0):
    """YaRN's "NTK-by-parts" rule (Peng et al. 2023, arXiv 2309.00071) on frequencies already rescaled by `factors`,
    stretching a window of `length` tokens `scale` times: a frequency that turns r times over the window keeps its
    factor if r > beta_fast, is interpolated by `scale` if r < beta_slow, and in between by the paper's ramp
    gamma = (r - beta_slow) / (beta_fast - beta_slow) (transformers ramps over channel indices instead).

    A seed of ours for the second search of Section 3.3, which does not describe its seeds: the model was fine-tuned
    at `length` with `factors`, so the fast frequencies it already handles keep their angles and only the slow ones,
    which never turned in that window, are stretched; PI on top of the same factors (the "init" seed) also slows the
    fast ones down."""
    factors = torch.tensor(factors, dtype=torch.float64)
    turns = length * longrope.inverse_frequencies(head_dim, base).double() / factors / (2 * math.pi)
    gamma = ((turns - beta_slow) / (beta_fast - beta_slow)).clamp(0, 1)
    return (factors / (gamma + (1 - gamma) / scale)).tolist()


# ----------------------------------------------------------------------------------------------------------------
# A search on a model


@dataclass
class Run:
    """Where and how one search runs, apart from what it looks for (SearchPlan) and its shape (Settings)."""
    out: str = "factors.json"  # the factor file; its state and candidate log go next to it
    resume: bool = False  # continue the search saved next to `out` (a new one if there is none)
    stop_after: int | None = None  # end after that many iterations without writing `out`, as a kill would
    write: bool = True  # False: write nothing (processes other than the first, which compute the same state)
    loss_fn: Callable = evaluate_loss  # (model, rope, documents) -> mean loss; train.py passes a sequence-parallel one
    ranks: tuple = (0, 1)  # (this process, processes) sharing the scoring of each generation (data-parallel)
    compare_methods: bool = True  # also score the seed methods themselves, each with its own attention scale
    provenance: dict = field(default_factory=dict)  # recorded in the factor file: command, data, stage


def run_search(model, documents, search_plan, settings, run=None):
    """The search on a loaded model: writes the factor file `run.out` (its state and candidate log next to it) and
    returns the best RopeScaling, or None when `run.stop_after` ended it first."""
    p, run = search_plan, run or Run()
    check_ranks(settings, run.ranks[1])
    started = time.time()
    state_path = os.path.splitext(run.out)[0] + ".state.json"
    needles = isinstance(documents[0], longrope2.Needle)  # LongRoPE2's needle-driven fitness
    config = {"length": p.length, "original": p.original, "factor": p.factor, "samples": len(documents),
              "documents": [int(d.sum()) % 1000003 for d in documents],  # a fingerprint of the documents
              **p.fingerprint, **({"fitness": "needle"} if needles else {})}
    say = print if run.write else lambda *_: None  # one voice for a launched run
    space, cd = p.space, p.space.critical_dim
    what = (f"{space.n_factors} factors on [1, {space.upper / GRID:.2f}] and n_hat in {list(space.n_hat_choices)}"
            if cd is None else f"factors {cd}..{space.n_factors - 1} of {space.n_factors} on [{space.lower / GRID:.2f}, "
                               f"{space.upper / GRID:.2f}], strictly increasing, those below tied to factor {cd}")
    say(f"searching {what} at length {p.length} (s = {p.factor:g}), fitness on {len(documents)} "
        f"{'needles (answer tokens only)' if needles else 'documents'}")

    def score(candidate):  # one document at a time: early rejection may stop after any of them
        rope = p.rope(candidate)
        return (run.loss_fn(model, rope, [doc]) for doc in documents)

    logbook = Logbook(state_path, run.resume, run.write, config)
    state = evolve(score, p.space, p.seeds, settings, logbook, run.stop_after, run.ranks)
    if state["iteration"] < settings.iterations:
        return None
    history = state["history"]
    best = history[state["population"][0]]
    rope = p.rope(candidate_of(best))
    seeds = {f"seed-{name}" for name, _ in p.seeds}
    seed_ppl = {h["origin"][len("seed-"):]: h["ppl"] for h in history if h["origin"] in seeds}
    minutes = (time.time() - started) / 60
    record = {"target_length": int(round(p.factor * p.original)), "original_length": p.original,
              "search_length": p.length, "loss": best["loss"], "ppl": best["ppl"], "seed_ppl": seed_ppl,
              "evaluated": len(history), "forward_passes": forward_passes(history, len(documents)),
              "samples": len(documents), "search": settings.fingerprint(),
              "log": history_csv_path(state_path), **run.provenance, "minutes": round(minutes, 2)}
    if p.short:
        record = {k: v for k, v in p.base.extra.items() if k != "max_position_embeddings"} | {"recovery": record}
    elif run.compare_methods:
        # the seed methods themselves, each with its own attention scale, on the same documents
        record["method_ppl"] = {m: perplexity(run.loss_fn(model, longrope.make_rope(m, p.original, p.length),
                                                          documents)) for m in p.seed_methods}
    if run.write:
        longrope.save_factors(run.out, rope, model.config.rotary_dim, **record)
        print(f"wrote {run.out}, {state_path} and {history_csv_path(state_path)}")
    new = [h for h in history if h["iteration"] > logbook.resumed_at]  # a resumed run scores only the rest
    say(f"best perplexity {best['ppl']:.4f} at length {p.length} (n_hat {rope.n_hat}); seeds: "
        + ", ".join(f"{k} {v:.4f}" for k, v in seed_ppl.items())
        + f"; {len(new)} candidates evaluated ({forward_passes(new, len(documents))} forward passes) in "
          f"{minutes:.1f} min ({len(new) / max(minutes, 1e-9):.3g}/min)")
    return replace(rope, extra=record)


def check_ranks(settings, n_ranks):
    """Processes share a generation's candidates: each needs at least one."""
    fewest = min(settings.population, settings.mutations + settings.crossovers)
    if n_ranks > fewest:
        raise ValueError(f"{n_ranks} processes would share generations of as few as {fewest} candidates (population "
                         f"{settings.population}, {settings.mutations} mutations + {settings.crossovers} crossovers); "
                         f"launch at most {fewest} processes")


# ----------------------------------------------------------------------------------------------------------------
# Command line


def parse_args(argv=None):
    d = Settings()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="tiny", help="model folder (Hugging Face or Meta) or 'tiny' (default: tiny)")
    p.add_argument("--target", help="target length: 8x (times the original length), 1k, 128k, 2m")
    p.add_argument("--original-length", help="original context length (default: the model config's, or its "
                                              "sliding window when that is shorter, as for Mistral-7B)")
    p.add_argument("--sliding-window", default="target",
                   help="Mistral's window while scoring: target (widened to the search length, as the official code "
                        "does), none, model (the checkpoint's) or a length (default: %(default)s)")
    p.add_argument("--population", type=int, default=d.population, help="population size P (default: %(default)s)")
    p.add_argument("--iterations", type=int, default=d.iterations, help="iterations T (default: %(default)s)")
    p.add_argument("--parents", type=int, default=d.parents, help="top-k parents kept (default: %(default)s)")
    p.add_argument("--mutations", type=int, default=d.mutations, help="mutations N1 per iteration (default: %(default)s)")
    p.add_argument("--crossovers", type=int, default=d.crossovers,
                   help="crossovers N2 per iteration (default: %(default)s)")
    p.add_argument("--mutation-prob", type=float, default=d.mutation_prob,
                   help="chance that a mutation changes each factor and n_hat (default: %(default)s)")
    p.add_argument("--seed", type=int, default=d.seed,
                   help="seeds the search and the choice of documents (default: %(default)s)")
    p.add_argument("--early-reject", type=float, metavar="MARGIN",
                   help="racing: score a new candidate one document at a time and drop it once its mean loss so far "
                        "exceeds the worst parent's on the same documents by more than MARGIN nats, e.g. 0.02 "
                        "(default: off, every candidate is scored on every document)")
    p.add_argument("--samples", type=int, default=5, help="documents the fitness is measured on (default: %(default)s)")
    p.add_argument("--data", help="text file/folder or token file (default: the stdlib validation split)")
    p.add_argument("--out", default="factors.json",
                   help="factor file; the state and the candidate log go next to it (default: %(default)s)")
    p.add_argument("--resume", action="store_true",
                   help="continue the search saved next to --out (a new one if there is none)")
    p.add_argument("--recover", action="store_true", help="Section 3.3: search the short factors of --factors")
    p.add_argument("--short-length", help="length of the recovery search (default: the original length)")
    p.add_argument("--factors", help="an existing factor file (for --recover and --export)")
    p.add_argument("--init", help="a factor file whose long factors, stretched to --target (PI and YaRN on top of "
                                  "them), join the seeds (the second search of the progressive extension)")
    p.add_argument("--export", metavar="DIR",
                   help="no search: write a copy of --model whose config.json carries --factors to DIR")
    p.add_argument("--attention-factor", type=float, help="fix LongRoPE's attention scale (default: sqrt(1 + ln s / "
                                                          "ln L), as transformers computes it)")
    p.add_argument("--seeds", default=",".join(SEED_METHODS),
                   help="methods whose factors seed the search: pi, ntk, dynamic-ntk, yarn, llama3 (default: "
                        "%(default)s)")
    p.add_argument("--longrope2", action="store_true",
                   help="LongRoPE2's search (Shang et al. 2025): --critical-dim auto, --length-scale 2s, "
                        "--needle-fitness, and the attention scale sqrt(1 + ln s / ln L) fixed for every candidate")
    p.add_argument("--critical-dim", metavar="auto|N",
                   help="LongRoPE2: search only the pairs from N on, in [s, --length-scale], strictly increasing; "
                        "those below follow lambda_N^(i/N); auto: ceil((d/2) log_b(L / 2 pi)) - 1 (default: off)")
    p.add_argument("--length-scale", type=float, metavar="S",
                   help="LongRoPE2: the largest factor of the searched pairs (default: 2 s, as the official LLaMA3 "
                        "example)")
    p.add_argument("--needle-fitness", action="store_true",
                   help="LongRoPE2: the fitness is the loss on the answer tokens only of a passkey planted in each "
                        "document, at spread depths (default: the loss on every token)")
    p.add_argument("--device", help="cpu or cuda (default: cuda when present)")
    p.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's choice; 1 is fastest for "
                                               "the tiny model on a busy machine)")
    p.add_argument("--compile", action="store_true", help="torch.compile the model's blocks: 6-13%% faster on "
                   "the tiny model at 8x after ~10 s of compiling; losses agree with eager to float rounding")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.export:
        if not args.factors:
            raise ValueError("--export needs --factors FILE, the factors to write into the config")
        out = export_model(args.model, args.factors, args.export)
        print(f"wrote {out} (config.json with rope_type longrope; weights linked from {resolve_model_dir(args.model)})")
        return
    for name in ("population", "iterations", "parents", "samples"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name} must be at least 1, got {getattr(args, name)}")
    if not 0 <= args.mutation_prob <= 1:
        raise ValueError(f"--mutation-prob must lie in [0, 1], got {args.mutation_prob}")
    seed_methods = tuple(args.seeds.split(","))
    unknown = [m for m in seed_methods if m not in ("pi", "ntk", "dynamic-ntk", "yarn", "llama3")]
    if unknown or not seed_methods:
        raise ValueError(f"--seeds takes methods among pi, ntk, dynamic-ntk, yarn, llama3, got '{args.seeds}'")
    if args.recover and not args.factors:
        raise ValueError("--recover needs --factors FILE, the long factors to recover the short context of")
    if not args.recover and not args.target:
        raise ValueError("--target is required (e.g. --target 8x or --target 128k)")
    if args.attention_factor is not None and not (math.isfinite(args.attention_factor) and args.attention_factor > 0):
        raise ValueError(f"--attention-factor must be a positive number, got {args.attention_factor}")
    if args.early_reject is not None and not (math.isfinite(args.early_reject) and args.early_reject >= 0):
        raise ValueError(f"--early-reject must be a margin of at least 0 nats, got {args.early_reject}")
    if args.longrope2:
        args.critical_dim, args.needle_fitness = args.critical_dim or "auto", True
    critical_dim = args.critical_dim
    if critical_dim is not None and critical_dim != "auto":
        try:
            critical_dim = int(critical_dim)
        except ValueError:
            raise ValueError(f"--critical-dim takes auto or a pair index, got '{critical_dim}'") from None
    if args.length_scale is not None and critical_dim is None:
        raise ValueError("--length-scale bounds LongRoPE2's search space: it needs --critical-dim or --longrope2")
    if args.recover and (critical_dim is not None or args.needle_fitness):
        raise ValueError("--recover searches the short factors as LongRoPE does; LongRoPE2's options apply to the "
                         "long factors")
    settings = Settings(args.population, args.iterations, args.parents, args.mutations, args.crossovers,
                        args.mutation_prob, args.seed, args.early_reject)
    rank, n_ranks, device = 0, int(os.environ.get("WORLD_SIZE", "1")), args.device  # torchrun sets WORLD_SIZE
    check_ranks(settings, n_ranks)
    if n_ranks > 1:
        rank, n_ranks, launched_on = parallel.init_distributed()
        device = device or launched_on
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_model(args.model, device=device)
    if args.compile:
        model.compile_layers()
    rotary_dim = model.config.rotary_dim
    recover = longrope.load_factors(args.factors, rotary_dim) if args.recover else None
    init = longrope.load_factors(args.init, rotary_dim) if args.init else None
    original = common.original_length(model, args.original_length)
    if recover is not None:
        length = common.parse_length(args.short_length, recover.original_max_len) if args.short_length else None
        needed = length or recover.original_max_len
    else:
        length = needed = common.parse_length(args.target, original)
    reach = int(round(recover.factor * recover.original_max_len)) if recover else length  # what the factors are for
    common.apply_window(model, common.parse_window(args.sliding_window, reach))
    tokenizer = common.load_tokenizer(args.model)
    docs = common.load_documents(args.data, tokenizer, "validation", model.config.vocab_size)
    documents = common.sample_documents(docs, needed, args.samples, seed=args.seed,
                                        what=args.data or "the stdlib validation split")
    if args.needle_fitness:
        documents = longrope2.needle_samples(documents, tokenizer, seed=args.seed)
    provenance = {"data": args.data or "stdlib-validation", "model": args.model,
                  "command": "python search.py " + shlex.join(argv if argv is not None else sys.argv[1:])}
    search_plan = plan(model, None if recover else length, original, recover, length if recover else None, init,
                       args.attention_factor, seed_methods, critical_dim=critical_dim, length_scale=args.length_scale)
    loss_fn = longrope2.needle_loss if args.needle_fitness else evaluate_loss
    run_search(model, documents, search_plan, settings, Run(args.out, args.resume, write=rank == 0, loss_fn=loss_fn,
                                                            ranks=(rank, n_ranks), provenance=provenance))
    if n_ranks > 1:
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    common.run_cli(main)
