"""Algorithm 1 of LongRoPE (Ding et al. 2024, arXiv 2402.13753, Section 3.2): the evolutionary search itself, apart
from any model. Every frequency i of RoPE gets its own rescale factor lambda_i, and the first n_hat positions keep
their original angles (Eq. 3). A candidate is those factors (on a 0.01 grid) and n_hat; its fitness is whatever
`score(candidate)` yields, a loss per document (search.py makes it the model's perplexity at the target length):

    P_0  = the seeds (PI, NTK and YaRN factors for the scale s), plus mutations of them   (seed_population)
    for each iteration:
        evaluate every new candidate                                                    (score_children)
        Top-k   = the k best candidates so far                                          (select_parents)
        P_i     = Top-k + N1 mutations + N2 crossovers of Top-k                         (mutate, crossover)
        every child is kept on the 0.01 grid in [1, 1.25 s], made non-decreasing       (make_monotone)
        and is never one already evaluated                                              (fresh)

Early rejection (racing, ours; `race`): with a margin set, a new candidate is read one document at a time and
dropped once its mean loss so far exceeds the worst parent's on the same documents by more than the margin. Under a
launcher the processes share each generation's candidates (`score_generation`): the same result for any number.
A LongRoPE2 space (`SearchSpace.critical_dim`) takes LongRoPE2's mutation and crossover (longrope2.py).
"""

import math
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

import longrope2
import parallel
from logbook import Logbook, perplexity

N_HAT_CANDIDATES = (0, 1, 2, 4, 8, 12, 16, 20, 24, 28, 32, 64, 128, 256)  # Section 3.2's set for n_hat
GRID = 100  # factors live on a 0.01 grid, held as integer hundredths so duplicates compare exactly
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
