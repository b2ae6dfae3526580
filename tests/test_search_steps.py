"""The search's steps one at a time, each against values worked out by hand: the no-n_hat space, racing, the cut
a child races, the candidate log without racing, the seeds a second search takes from its initial factors, and
the processes sharing a generation inside Algorithm 1 (tests/test_search.py runs the whole search)."""

import math
import os
import sys
import threading
from dataclasses import replace

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import longrope  # noqa: E402
import longrope2  # noqa: E402
import parallel  # noqa: E402
import algorithm1  # noqa: E402
import search  # noqa: E402
from model import ModelConfig, Transformer  # noqa: E402

HEAD_DIM, ORIGINAL, TARGET = 16, 32, 128
SMALL = search.Settings(population=8, iterations=3, parents=4, mutations=4, crossovers=4, seed=0)


def landscape(candidate):
    """Two documents: a smooth landscape (optimum inside the space) and the same plus a wave."""
    loss = sum(abs(f - (1.5 + 0.4 * i)) for i, f in enumerate(candidate.factors)) / len(candidate.steps)
    return [loss, loss + 0.2 * math.sin(sum(candidate.steps) + candidate.n_hat)]


def seeds(space):
    return [(m, space.snap(longrope.rescale_factors(longrope.make_rope(m, ORIGINAL, TARGET), HEAD_DIM, 10000.0,
                                                    TARGET))) for m in search.SEED_METHODS]


def test_the_space_has_one_factor_per_rotated_pair_and_a_resumed_search_checks_it(tmp_path):
    """Table 4's space for head_dim 16 at s = 4: 8 factors in [1, 5]; a saved search is resumed only in that space."""
    space = algorithm1.search_space(4.0, HEAD_DIM, TARGET)
    assert (space.n_factors, space.upper, space.lower) == (HEAD_DIM // 2, 500, 100)
    path = str(tmp_path / "s.state.json")
    algorithm1.evolve(landscape, space, seeds(space), SMALL, search.Logbook(path, False), stop_after=1)
    wider = algorithm1.search_space(4.0, 2 * HEAD_DIM, TARGET)
    with pytest.raises(ValueError, match="space"):
        algorithm1.evolve(landscape, wider, [], SMALL, search.Logbook(path, True))


def test_without_the_n_hat_search_every_candidate_keeps_n_hat_zero():
    """Table 11's ablation: n_hat stays 0, not 1 (which keeps position 0 only: the same angles, another label)."""
    assert algorithm1.search_space(4.0, HEAD_DIM, TARGET, search_n_hat=False).n_hat_choices == (0,)
    assert algorithm1.search_space(4.0, HEAD_DIM, TARGET).n_hat_choices == (0, 1, 2, 4, 8, 12, 16, 20, 24, 28, 32, 64)


def test_racing_reads_losses_until_the_mean_falls_behind_the_cut_by_more_than_the_margin():
    cut = [1.0, 1.0, 1.0]
    # behind on the mean of two documents (1.25 > 1.0), not on the first alone: dropped after two
    assert algorithm1.race(iter([1.0, 1.5, 0.1]), cut, 0.0) == ([1.0, 1.5], True)
    # within the margin on every prefix (1.01 <= 1.0 + 0.02): read in full
    assert algorithm1.race(iter([1.01, 1.01, 1.01]), cut, 0.02) == ([1.01, 1.01, 1.01], False)
    assert algorithm1.race(iter([1.03, 1.0, 1.0]), cut, 0.02) == ([1.03], True)
    # a candidate read to the last document is scored, however bad its last loss: its mean goes to the history
    assert algorithm1.race(iter([1.0, 1.0, 5.0]), cut, 0.0) == ([1.0, 1.0, 5.0], False)
    assert algorithm1.race(iter([float("nan"), 1.0, 1.0]), cut, 0.0)[1] is True
    assert algorithm1.race(iter([9.0, 9.0]), None, 0.0) == ([9.0, 9.0], False)


def test_a_child_races_the_worst_parent_unless_that_parent_failed():
    history = [{"loss": 1.0, "losses": [1.0, 1.0]}, {"loss": 2.0, "losses": [1.5, 2.5]},
               {"loss": math.inf, "losses": [math.nan]}]
    racing = replace(SMALL, parents=2, early_reject=0.0)
    assert algorithm1.race_cut(history, [0, 1], racing) == [1.5, 2.5]
    assert algorithm1.race_cut(history, [0, 2], racing) is None  # NaN losses would drop every child
    assert algorithm1.race_cut(history, [0], racing) is None  # fewer than k parents: no cut yet
    assert algorithm1.race_cut(history, [0, 1], SMALL) is None  # racing off


def test_without_racing_the_history_and_log_hold_one_loss_per_candidate(tmp_path):
    space = algorithm1.search_space(TARGET / ORIGINAL, HEAD_DIM, TARGET)
    path = str(tmp_path / "s.state.json")
    state = algorithm1.evolve(landscape, space, seeds(space), SMALL, search.Logbook(path, False))
    assert all("losses" not in h and "dropped" not in h for h in state["history"])
    with open(path.replace(".state.json", ".history.csv")) as f:
        assert f.readline().strip() == "index,iteration,origin,n_hat,loss,ppl,factors"
    assert state["history"][0]["loss"] == sum(landscape(algorithm1.candidate_of(state["history"][0]))) / 2


def test_the_second_search_seeds_carry_the_initial_factors_n_hat():
    """Section 3.3's second search starts from the fine-tuned factors, n_hat included (when the space has it)."""
    torch.manual_seed(0)
    model = Transformer(ModelConfig(vocab_size=64, hidden_size=32, n_layers=1, n_heads=2, n_kv_heads=2, head_dim=16,
                                    intermediate_size=64, max_position_embeddings=ORIGINAL))
    init = longrope.RopeScaling("longrope", 4.0, ORIGINAL, long_factor=tuple(1.0 + 0.4 * i for i in range(8)), n_hat=8)
    p = search.plan(model, 2 * TARGET, ORIGINAL, init=init)
    seeded = dict(p.seeds)
    assert seeded["init"].n_hat == seeded["init-yarn"].n_hat == 8
    assert seeded["init"].steps == tuple(round(200 * (1.0 + 0.4 * i)) for i in range(8))  # stretched 2x
    assert all(c.n_hat == 0 for m, c in p.seeds if m in search.SEED_METHODS)


class ThreadGroup:
    """torch.distributed's all_gather_object for threads standing in for processes (each sets `local.rank`)."""

    def __init__(self, world):
        self.world, self.slots, self.local = world, [None] * world, threading.local()
        self.barrier = threading.Barrier(world, timeout=60)

    def get_world_size(self):
        return self.world

    def all_gather_object(self, out, mine):
        self.slots[self.local.rank] = mine
        self.barrier.wait()
        out[:] = list(self.slots)
        self.barrier.wait()


def test_processes_score_disjoint_shares_of_every_generation_and_reach_one_process_state(monkeypatch):
    """Algorithm 1 in 2 stand-in processes, racing on (so P_0 races in blocks): each scores only its own candidates
    of every generation (none twice, none by both), together every candidate once, and both end with the state of
    one process."""
    space = algorithm1.search_space(TARGET / ORIGINAL, HEAD_DIM, TARGET)
    settings = replace(SMALL, early_reject=0.0)
    alone = algorithm1.evolve(landscape, space, seeds(space), settings)
    group = ThreadGroup(2)
    monkeypatch.setattr(parallel, "dist", group)
    scored, states = [[], []], [None, None]

    def process(rank):
        group.local.rank = rank

        def score(candidate):
            scored[rank].append(candidate)
            return iter(landscape(candidate))
        states[rank] = algorithm1.evolve(score, space, seeds(space), settings, ranks=(rank, 2))

    threads = [threading.Thread(target=process, args=(r,)) for r in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert states[0] == states[1] == alone
    every = [algorithm1.candidate_of(h) for h in alone["history"]]
    assert sorted(scored[0] + scored[1], key=every.index) == every  # each candidate scored once, by one of them
    assert not set(scored[0]) & set(scored[1]) and len(scored[0]) >= len(every) // 2 - 1 and scored[1]


def test_the_first_population_races_only_candidates_scored_in_full():
    """P_0 with k = 2: B's mean over 3 documents (3.0) is worse than C's over the 2 it read (2.05) before it was
    dropped (2.05 > 2.0, B's mean on those 2). The third block races B, the 2nd best scored in full, not C's two
    losses: E (0.45 on the first document, above C's 0.4 but not B's 0.5) is read in full."""
    a, b, c, d, e = (1.0, 1.0, 1.0), (0.5, 3.5, 5.0), (0.4, 3.7, 0.0), (0.5, 3.5, 9.0), (0.45, 0.1, 0.1)
    settings = replace(SMALL, population=5, parents=2, early_reject=0.0)
    results = algorithm1.score_children(lambda x: iter(x), [(x, "seed") for x in (a, b, c, d, e)], [], [], settings)
    assert results == [(list(a), False), (list(b), False), ([0.4, 3.7], True), (list(d), False), (list(e), False)]


def test_a_longrope2_mutation_redraws_each_searched_pair_with_the_search_probability():
    """LongRoPE2's space: with the search's mutation probability 0 a mutation changes nothing; with 1 it redraws
    every searched pair (LongRoPE2's own default, 0.3, would do neither)."""
    import numpy as np
    cd = 3
    space = algorithm1.SearchSpace(8, 1600, lower=800, critical_dim=cd)
    parent = algorithm1.Candidate(longrope2.tie_low_steps([900, 950, 1000, 1050, 1100, 1200, 1300, 1400], cd))
    rng = np.random.default_rng(0)
    assert all(algorithm1.mutate(parent, space, rng, 0.0) == parent for _ in range(20))
    changed = [algorithm1.mutate(parent, space, rng, 1.0) for _ in range(20)]
    assert all(c is None or c.steps[:cd] == longrope2.tie_low_steps(c.steps, cd)[:cd] for c in changed)
    moved = [sum(a != b for a, b in zip(c.steps[cd:], parent.steps[cd:])) for c in changed if c is not None]
    assert len(moved) >= 15 and sum(moved) >= 0.9 * 5 * len(moved)  # nearly all 5 searched pairs, every time
