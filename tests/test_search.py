"""The evolutionary search (search.py): its invariants on a synthetic fitness, and the real thing on a small random
Llama whose losses are the fitness, with the exported folder checked against transformers' LlamaForCausalLM."""

import csv
import json
import math
import os
import socket
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import common  # noqa: E402
import longrope  # noqa: E402
import algorithm1  # noqa: E402
import search  # noqa: E402
from model import ModelConfig, Transformer, load_model, save_model  # noqa: E402

HEAD_DIM, ORIGINAL, TARGET = 16, 32, 128  # 8 factors, s = 4: the space is [1.00, 5.00]
SMALL = search.Settings(population=16, iterations=8, parents=8, mutations=8, crossovers=8, seed=0)


def seeds(space):
    factors = {m: longrope.rescale_factors(longrope.make_rope(m, ORIGINAL, TARGET), HEAD_DIM, 10000.0, TARGET)
               for m in search.SEED_METHODS}
    return [(m, space.snap(f)) for m, f in factors.items()]


def synthetic_loss(candidate):
    """A smooth landscape with its optimum inside the space, far from every seed."""
    best = np.linspace(1.5, 4.5, len(candidate.steps))
    return float(np.abs(np.array(candidate.factors) - best).mean() + 0.01 * abs(candidate.n_hat - 8))


def run(score=synthetic_loss, settings=SMALL, state_path=None, resume=False, per_document=False, **kwargs):
    """The search on a scripted fitness: `score(candidate)` is its loss on one document (with `per_document`, its
    list of losses on each document)."""
    space = algorithm1.search_space(TARGET / ORIGINAL, HEAD_DIM, TARGET)
    losses = score if per_document else lambda candidate: [score(candidate)]
    return space, algorithm1.evolve(losses, space, seeds(space), settings, search.Logbook(state_path, resume),
                                **kwargs)


def test_space_and_seeds_follow_the_paper():
    space = algorithm1.search_space(TARGET / ORIGINAL, HEAD_DIM, TARGET)
    assert space.upper == 500  # 1.25 * s = 5.00
    assert space.n_hat_choices == (0, 1, 2, 4, 8, 12, 16, 20, 24, 28, 32, 64)  # only values below the target
    pi, ntk, yarn = (c for _, c in seeds(space))
    assert pi.steps == (400,) * 8
    assert ntk.steps[0] == 100 and ntk.steps[-1] == 400  # s^(2i/(d-2)): 1 at i = 0, s at the last frequency
    assert ntk.steps[3] == round(100 * 4 ** (6 / 14))
    assert yarn.steps[0] == 100 and yarn.steps[-1] == 400 and list(yarn.steps) == sorted(yarn.steps)
    assert space.snap([0.5, 7.0, 2.004, 2.0, 9.0, 1.0, 3.0, 3.0]).steps == (100, 100, 200, 200, 300, 300, 500, 500)


def test_yarn_on_top_keeps_fast_frequencies_and_stretches_slow_ones():
    """The second search's seed: YaRN's ramp over the turns each frequency makes in the fine-tuned window, with the
    fine-tuned factors as the starting point (the YaRN paper's gamma(r), checked channel by channel)."""
    head_dim, base, length, scale = 64, 10000.0, 8192, 8.0
    tuned = [1.0 + 2.5 * i for i in range(32)]
    out = search.yarn_on_top(tuned, head_dim, base, length, scale)
    kinds = set()
    for i, (f, new) in enumerate(zip(tuned, out)):
        turns = length / (2 * math.pi * f * base ** (2 * i / head_dim))  # over the fine-tuned window
        if turns >= 32:
            kinds.add("kept")
            assert new == pytest.approx(f, rel=1e-6)  # the frequencies are float32, as in transformers
        elif turns <= 1:
            kinds.add("stretched")
            assert new == pytest.approx(f * scale, rel=1e-6)
        else:
            kinds.add("ramp")
            gamma = (turns - 1) / 31
            assert 1 / new == pytest.approx(gamma / f + (1 - gamma) / (f * scale), rel=1e-6)
            assert f < new < f * scale
    assert kinds == {"kept", "ramp", "stretched"}
    # and the seed joins the second search next to PI on top of the same factors
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=16, hidden_size=32, n_layers=1, n_heads=2, n_kv_heads=2, head_dim=head_dim,
                      intermediate_size=32, max_position_embeddings=128)
    init = longrope.RopeScaling("longrope", 64.0, 128, tuple(tuned), n_hat=2)
    searched = search.plan(Transformer(cfg), 65536, 128, init=init)
    space, planned = searched.space, dict(searched.seeds)
    assert list(planned) == ["pi", "ntk", "yarn", "init", "init-yarn"]
    assert planned["init-yarn"] == space.snap(out, 2) and planned["init"] == space.snap([f * 8 for f in tuned], 2)


def test_children_are_monotone_and_on_the_grid():
    space = algorithm1.search_space(TARGET / ORIGINAL, HEAD_DIM, TARGET)
    rng = np.random.default_rng(1)
    a, b = algorithm1.Candidate((100, 100, 120, 150, 480, 490, 500, 500), 4), algorithm1.Candidate((300,) * 8, 64)
    repaired, n_hats = 0, []
    for _ in range(500):
        child = algorithm1.crossover(a, b, rng)
        n_hats.append(child.n_hat)
        # every value comes from a parent; where the mix broke the order it was sorted back
        assert list(child.steps) == sorted(child.steps) and child.n_hat in (4, 64)
        assert all(c in a.steps or c in b.steps for c in child.steps)
        repaired += any(c not in (x, y) for c, x, y in zip(child.steps, a.steps, b.steps))
        for parent in (a, b, child):
            m = algorithm1.mutate(parent, space, rng, 0.3)
            assert list(m.steps) == sorted(m.steps) and all(100 <= s <= 500 for s in m.steps)
            assert all(isinstance(s, int) for s in m.steps) and m.n_hat in space.n_hat_choices
    assert repaired > 0  # mixes that broke the order were repaired, not filtered out
    assert 200 < n_hats.count(4) < 300  # n_hat from either parent with equal chance
    assert algorithm1.make_monotone((300, 100, 200, 200)) == (100, 200, 200, 300)
    _, state = run()
    for h in state["history"]:
        assert h["steps"] == sorted(h["steps"]) and 100 <= h["steps"][0] and h["steps"][-1] <= 500
        assert all(abs(f * 100 - round(f * 100)) < 1e-9 for f in algorithm1.Candidate(tuple(h["steps"])).factors)
    keys = [(tuple(h["steps"]), h["n_hat"]) for h in state["history"]]
    assert len(keys) == len(set(keys)) == 16 + 8 * 16  # duplicates of the history are drawn again


def test_n_hat_is_explored():
    """Every seed has n_hat = 0 and crossover only passes parents' values on: only mutation brings other n_hat values
    in. At probability 0.3 about 30% of the children move n_hat, to any other value of Section 3.2's set, and a
    landscape that needs n_hat = 8 gets it."""
    space = algorithm1.search_space(TARGET / ORIGINAL, HEAD_DIM, TARGET)
    rng, parent = np.random.default_rng(3), algorithm1.Candidate((100, 150, 200, 250, 300, 350, 400, 450), 0)
    moved = [algorithm1.mutate(parent, space, rng, 0.3).n_hat for _ in range(2000)]
    share = sum(n != 0 for n in moved) / len(moved)
    assert 0.26 < share < 0.34
    assert set(moved) == set(space.n_hat_choices)
    assert {algorithm1.mutate(parent, space, rng, 1.0).n_hat for _ in range(50)} <= set(space.n_hat_choices) - {0}
    longer = search.Settings(**{**vars(SMALL), "iterations": 16})
    _, state = run(lambda c: synthetic_loss(c) + (c.n_hat != 8), longer)  # n_hat = 8 or a whole nat worse
    assert len({h["n_hat"] for h in state["history"]}) >= 6
    assert state["history"][state["population"][0]]["n_hat"] == 8


def test_mutation_steps_are_log_normal_with_the_documented_spread():
    """Each mutated factor is multiplied by exp(N(0, 0.15)): the log-ratios have mean 0 and spread 0.15."""
    space = algorithm1.search_space(TARGET / ORIGINAL, HEAD_DIM, TARGET)
    rng, parent = np.random.default_rng(5), algorithm1.Candidate((300,) * 8)
    ratios = np.log([s / 300 for _ in range(500) for s in algorithm1.mutate(parent, space, rng, 1.0).steps])
    assert abs(ratios.mean()) < 0.01 and 0.14 < ratios.std() < 0.16


def test_next_generation_keeps_parents_n_hat_labels_children_and_crosses_two_parents():
    space = algorithm1.search_space(TARGET / ORIGINAL, HEAD_DIM, TARGET)
    history = [{"steps": [100, 120, 150, 200, 250, 300, 350, 400], "n_hat": 8, "loss": 1.0},
               {"steps": [110, 130, 160, 210, 260, 310, 360, 410], "n_hat": 12, "loss": 2.0}]
    seen = {algorithm1.Candidate(tuple(h["steps"]), h["n_hat"]) for h in history}
    settings = search.Settings(mutations=40, crossovers=40, mutation_prob=0.3)
    children = algorithm1.next_generation(history, [0, 1], space, settings, np.random.default_rng(6), seen)
    origins = [origin for _, origin in children]
    assert origins == ["mutation"] * 40 + ["crossover"] * 40  # two distinct parents always cross
    kept = sum(child.n_hat in (8, 12) for child, _ in children)
    assert kept > 0.6 * len(children)  # n_hat is inherited, moved only by a mutation
    alone = algorithm1.next_generation(history, [0], space, settings, np.random.default_rng(6), set(seen))
    assert [origin for _, origin in alone] == ["mutation"] * 40  # one parent: nothing to cross
    twins = algorithm1.next_generation([history[0], history[0]], [0, 1], space, settings, np.random.default_rng(6),
                                   set(seen))
    assert [origin for _, origin in twins] == ["mutation"] * 80  # identical parents: mutated instead of crossed


def test_seed_population_stops_when_the_space_runs_out():
    space = algorithm1.SearchSpace(n_factors=1, upper=102, n_hat_choices=(0,))  # three candidates in all
    population = algorithm1.seed_population([("pi", algorithm1.Candidate((100,)))], space, 10, np.random.default_rng(0),
                                        1.0, set())
    assert sorted(c.steps for c, _ in population) == [(100,), (101,), (102,)]


def test_population_holds_the_last_children_and_resumption_checks_the_space(tmp_path):
    space, state = run(state_path=str(tmp_path / "s.state.json"))
    last = [i for i, h in enumerate(state["history"]) if h["iteration"] == SMALL.iterations]
    assert set(last) <= set(state["population"]) and len(state["population"]) == SMALL.parents + len(last)
    other = algorithm1.SearchSpace(space.n_factors, space.upper - 50, space.n_hat_choices)
    with pytest.raises(ValueError, match="space"):
        algorithm1.evolve(lambda c: [synthetic_loss(c)], other, seeds(space), SMALL,
                      search.Logbook(str(tmp_path / "s.state.json"), True))
    with pytest.raises(ValueError, match="documents"):
        algorithm1.evolve(lambda c: [synthetic_loss(c)], space, seeds(space), SMALL,
                      search.Logbook(str(tmp_path / "s.state.json"), True, config={"documents": [1, 2]}))


def test_best_never_worse_than_the_seeds_and_improves():
    _, state = run()
    seed_losses = [h["loss"] for h in state["history"] if h["origin"] in ("seed-pi", "seed-ntk", "seed-yarn")]
    assert len(seed_losses) == 3
    curve = state["curve"]
    assert len(curve) == SMALL.iterations + 1
    assert all(b <= a for a, b in zip(curve, curve[1:]))  # elitism: the parents stay in the population
    assert curve[0] <= min(seed_losses)
    assert curve[-1] < 0.5 * min(seed_losses)  # and the search does find something much better
    assert curve[-1] == min(h["loss"] for h in state["history"])
    assert state["history"][state["population"][0]]["loss"] == curve[-1]


def test_same_seed_same_result_other_seed_other_path():
    _, a = run()
    _, b = run()
    _, c = run(settings=search.Settings(**{**vars(SMALL), "seed": 1}))
    assert a["history"] == b["history"] and a["curve"] == b["curve"]
    assert [h["steps"] for h in a["history"]] != [h["steps"] for h in c["history"]]


def test_killed_and_resumed_search_reaches_the_same_result(tmp_path):
    _, full = run()
    path = str(tmp_path / "f.state.json")
    run(state_path=path, stop_after=3)  # stopped between iterations
    assert json.load(open(path))["iteration"] == 3
    _, resumed = run(state_path=path, resume=True)
    assert resumed["history"] == full["history"] and resumed["curve"] == full["curve"]

    calls = []

    def dies_mid_iteration(candidate):  # a kill in the middle of iteration 5's evaluations
        calls.append(1)
        if len(calls) == 16 + 4 * 16 + 5:
            raise KeyboardInterrupt
        return synthetic_loss(candidate)

    path = str(tmp_path / "g.state.json")
    with pytest.raises(KeyboardInterrupt):
        run(dies_mid_iteration, state_path=path)
    assert json.load(open(path))["iteration"] == 4
    _, resumed = run(state_path=path, resume=True)
    assert resumed["history"] == full["history"] and resumed["population"] == full["population"]
    assert resumed["rng"] == full["rng"]
    _, fresh_start = run(state_path=str(tmp_path / "none.state.json"), resume=True)  # nothing saved: a new search
    assert fresh_start["history"] == full["history"]
    with pytest.raises(ValueError, match="parents"):  # a resumption must keep the search's shape
        run(settings=search.Settings(**{**vars(SMALL), "parents": 4}), state_path=path, resume=True)


def test_nan_candidates_are_scored_worst_and_the_search_goes_on():
    def sometimes_nan(candidate):
        if candidate.n_hat in (4, 8):
            return math.nan
        return math.inf if candidate.steps[0] > 300 else synthetic_loss(candidate)

    _, state = run(sometimes_nan)
    bad = [h for h in state["history"] if h["n_hat"] in (4, 8) or h["steps"][0] > 300]
    assert len(bad) > 3 and all(h["loss"] == math.inf for h in bad)
    assert len(state["curve"]) == SMALL.iterations + 1 and math.isfinite(state["curve"][-1])
    best = state["history"][state["population"][0]]
    assert best["n_hat"] not in (4, 8) and best["loss"] == min(h["loss"] for h in state["history"])


def hopeless_n_hat_64(candidate):
    """Two documents; the second adds the same 0.1 nats to every candidate, so a candidate behind the worst parent on
    the first is behind it on both. Candidates with n_hat = 64 are 5 nats worse than the landscape."""
    loss = synthetic_loss(candidate) + 5.0 * (candidate.n_hat == 64)
    return [loss, loss + 0.1]


def test_early_rejection_drops_only_what_could_not_be_selected_and_keeps_the_result():
    _, full = run(hopeless_n_hat_64, per_document=True)
    _, raced = run(hopeless_n_hat_64, replace(SMALL, early_reject=0.0), per_document=True)
    # the search is the same: same candidates drawn, same parents, same curve, same RNG
    assert [(h["steps"], h["n_hat"], h["origin"]) for h in raced["history"]] == \
           [(h["steps"], h["n_hat"], h["origin"]) for h in full["history"]]
    assert raced["curve"] == full["curve"] and raced["rng"] == full["rng"]
    assert raced["population"][:SMALL.parents] == full["population"][:SMALL.parents]
    dropped = [i for i, h in enumerate(raced["history"]) if h["dropped"]]
    assert len(dropped) == 38 and all(len(raced["history"][i]["losses"]) == 1 for i in dropped)
    assert algorithm1.forward_passes(raced["history"], 2) == 2 * 144 - 38 == algorithm1.forward_passes(full["history"], 2) - 38
    k = SMALL.parents
    for i, (h, f) in enumerate(zip(raced["history"], full["history"])):
        # what a candidate raced: the k best of every earlier iteration (elitism); in P_0, the k-th best of the
        # blocks of k members before its own
        earlier = sorted(g["loss"] for j, g in enumerate(full["history"]) if g["iteration"] < h["iteration"]
                         or (h["iteration"] == 0 and j < i // k * k))
        if h["dropped"]:
            assert h["loss"] == math.inf and f["loss"] > earlier[k - 1]  # it would have lost
            assert h["losses"] == [hopeless_n_hat_64(algorithm1.candidate_of(h))[0]]
        else:
            assert h["loss"] == f["loss"] and h["losses"] == hopeless_n_hat_64(algorithm1.candidate_of(h))
    # every n_hat = 64 child raced against a full set of parents is dropped after its first document
    hopeless = [h for h in raced["history"] if h["n_hat"] == 64]
    assert len(hopeless) == 4 and all(h["dropped"] and h["iteration"] > 0 for h in hopeless)
    # P_0 races too once k of its members are scored in full: only from its (k + 1)-th member on
    first = [h for h in raced["history"] if h["iteration"] == 0]
    assert not any(h["dropped"] for h in first[:k]) and any(h["dropped"] for h in first[k:])
    cut = sorted((h for h in first[:k]), key=lambda h: h["loss"])[-1]["losses"]  # the k-th best of the first k
    assert all(h["dropped"] == (h["losses"][0] > cut[0]) for h in first[k:2 * k])  # margin 0: behind on the first


def test_the_first_population_races_in_blocks_of_k_against_the_kth_best_scored_in_full():
    """P_0 of 24 with k = 8: the first block is scored in full; each next block races the 8th best of all the
    candidates fully scored in the blocks before it, not the worst of them."""
    blocks = [[1, 2, 3, 4, 5, 6, 7, 8], [0.1, 0.2, 0.3, 0.4, 9, 9, 9, 9], [3.5, 4.5, 2, 5, 9, 0.05, 4, 4.01]]
    children = [(x, "seed") for block in blocks for x in block]
    settings = replace(SMALL, population=24, early_reject=0.0)
    results = algorithm1.score_children(lambda x: iter([x, x]), children, [], [], settings)
    dropped = [d for _, d in results]
    assert dropped[:8] == [False] * 8
    assert dropped[8:16] == [False] * 4 + [True] * 4  # behind 8, the 8th best of the first block
    assert dropped[16:] == [False, True, False, True, True, False, False, True]  # behind 4, the 8th best of 12
    assert [len(losses) for losses, _ in results] == [1 if d else 2 for d in dropped]


def noisy(candidate):
    """Three documents that disagree: a candidate dropped on the first may have won on all three."""
    return [synthetic_loss(candidate) + 0.3 * math.sin(sum(candidate.steps) * (d + 1) + candidate.n_hat)
            for d in range(3)]


def test_early_rejection_resumes_to_the_uninterrupted_result(tmp_path):
    settings = replace(SMALL, early_reject=0.05)
    _, full = run(noisy, settings, per_document=True)
    assert 0 < sum(h["dropped"] for h in full["history"]) < len(full["history"])
    path = str(tmp_path / "r.state.json")
    run(noisy, settings, state_path=path, stop_after=3, per_document=True)
    _, resumed = run(noisy, settings, state_path=path, resume=True, per_document=True)
    assert resumed == full
    rows = list(csv.DictReader(open(path.replace(".state.json", ".history.csv"))))
    assert [int(r["documents"]) for r in rows] == [len(h["losses"]) for h in full["history"]]
    assert [int(r["dropped"]) for r in rows] == [int(h["dropped"]) for h in full["history"]]
    for other in (replace(settings, early_reject=0.1), SMALL):  # another margin, or none, is another search
        with pytest.raises(ValueError, match="early_reject"):
            run(noisy, other, state_path=path, resume=True, per_document=True)


# ----------------------------------------------------------------------------------------------------------------
# A real (random) model: the fitness is its loss


def byte_tokenizer_json(path):
    """A tokenizer.json whose token i is byte i (GPT-2's byte-to-character table, no merges)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    others = [b for b in range(256) if b not in printable]
    chars = {b: chr(b) for b in printable} | {b: chr(256 + i) for i, b in enumerate(others)}
    tok = Tokenizer(models.BPE(vocab={c: b for b, c in chars.items()}, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    tok.save(path)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """These models are tiny: one thread is fastest, and on a shared machine more threads only wait for each other."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("random_llama"))
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=258, hidden_size=64, n_layers=2, n_heads=4, n_kv_heads=2, head_dim=HEAD_DIM,
                      intermediate_size=128, max_position_embeddings=ORIGINAL, bos_token_id=256, eos_token_id=257)
    model = Transformer(cfg)
    with torch.no_grad():  # sharper attention than the default init, so positions matter to the loss
        for layer in model.layers:
            layer.self_attn.q_proj.weight.mul_(4.0)
            layer.self_attn.k_proj.weight.mul_(4.0)
    save_model(model, path)
    byte_tokenizer_json(os.path.join(path, "tokenizer.json"))
    return path


def cli(*argv):
    """main() as the command line runs it: returns the exit code (0 when it finished)."""
    try:
        common.run_cli(lambda: search.main([str(a) for a in argv]))
    except SystemExit as e:
        return e.code
    return 0


def test_search_with_a_real_model_loss_resumes_and_records_its_seeds(model_dir, tmp_path, capsys):
    shape = ["--model", model_dir, "--target", "4x", "--population", 6, "--parents", 3, "--mutations", 3,
             "--crossovers", 3, "--samples", 2, "--device", "cpu"]  # the checks below run on the CPU
    assert cli(*shape, "--iterations", 3, "--out", tmp_path / "full.json") == 0
    assert cli(*shape, "--iterations", 1, "--out", tmp_path / "part.json") == 0
    assert cli(*shape, "--iterations", 3, "--out", tmp_path / "part.json", "--resume") == 0
    full, part = (json.load(open(tmp_path / f)) for f in ("full.json", "part.json"))
    assert full["rope_scaling"] == part["rope_scaling"] and full["loss"] == part["loss"] and full["evaluated"] == 24
    assert full["rope_scaling"]["short_factor"] == [1.0] * 8 and full["max_position_embeddings"] == TARGET
    assert full["loss"] <= min(math.log(p) for p in full["seed_ppl"].values()) + 1e-12
    assert set(full["method_ppl"]) == {"pi", "ntk", "yarn"} and "best perplexity" in capsys.readouterr().out

    # the recorded fitness is the model's loss with those factors on the documents the search used
    rope = longrope.load_factors(str(tmp_path / "full.json"), HEAD_DIM)
    model = load_model(model_dir, device="cpu")
    tokenizer = common.load_tokenizer(model_dir)
    docs = common.sample_documents(common.load_documents(None, tokenizer), TARGET, 2, seed=0)
    assert search.evaluate_loss(model, rope, docs) == pytest.approx(full["loss"], abs=1e-6)
    yarn = search.evaluate_loss(model, longrope.make_rope("yarn", ORIGINAL, TARGET), docs)
    assert math.exp(yarn) == pytest.approx(full["method_ppl"]["yarn"], rel=1e-6)


def test_early_rejection_on_a_real_model_counts_forward_passes_and_resumes(model_dir, tmp_path):
    shape = ["--model", model_dir, "--target", "4x", "--population", 6, "--parents", 3, "--mutations", 3,
             "--crossovers", 3, "--samples", 3, "--device", "cpu", "--early-reject", 0]
    assert cli(*shape, "--iterations", 3, "--out", tmp_path / "full.json") == 0
    assert cli(*shape, "--iterations", 1, "--out", tmp_path / "part.json") == 0
    assert cli(*shape, "--iterations", 3, "--out", tmp_path / "part.json", "--resume") == 0
    full, part = (json.load(open(tmp_path / f)) for f in ("full.json", "part.json"))
    state = json.load(open(tmp_path / "full.state.json"))
    assert state == json.load(open(tmp_path / "part.state.json")) and full["rope_scaling"] == part["rope_scaling"]
    history = state["history"]
    dropped = [h for h in history if h["dropped"]]
    assert dropped and full["evaluated"] == len(history) == 24 and full["search"]["early_reject"] == 0
    assert full["forward_passes"] == part["forward_passes"] == sum(len(h["losses"]) for h in history) < 3 * 24
    # every loss recorded is the model's loss on that document with those factors, and the best saw all three
    model = load_model(model_dir, device="cpu")
    docs = common.sample_documents(common.load_documents(None, common.load_tokenizer(model_dir)), TARGET, 3, seed=0)
    rope = longrope.load_factors(str(tmp_path / "full.json"), HEAD_DIM)
    assert search.evaluate_loss(model, rope, docs) == pytest.approx(full["loss"], abs=1e-6)
    for h in dropped[:2]:
        rope = longrope.RopeScaling("longrope", 4.0, ORIGINAL, algorithm1.candidate_of(h).factors, n_hat=h["n_hat"])
        assert h["losses"] == pytest.approx([search.evaluate_loss(model, rope, [d]) for d in docs[:len(h["losses"])]],
                                            abs=1e-6)


def test_each_process_scores_its_share_of_a_generation_and_gathers_the_rest(monkeypatch):
    """Process 1 of 2 scores candidates 1 and 3 of five, round-robin; process 0's scores arrive by all_gather."""
    space = algorithm1.search_space(TARGET / ORIGINAL, HEAD_DIM, TARGET)
    candidates = [(space.snap([1.0 + 0.5 * i] * 8), "mutation") for i in range(5)]
    scored = []

    def score(candidate):
        scored.append(candidate)
        return [synthetic_loss(candidate), 2.0]

    def all_gather_object(out, mine):
        out[:] = [{i: ([float(i)], True) for i in (0, 2, 4)}, mine]

    monkeypatch.setattr(torch.distributed, "get_world_size", lambda: 2)
    monkeypatch.setattr(torch.distributed, "all_gather_object", all_gather_object)
    results = algorithm1.score_generation(score, candidates, ranks=(1, 2))
    assert scored == [candidates[1][0], candidates[3][0]]
    assert results == [([0.0], True), ([synthetic_loss(candidates[1][0]), 2.0], False), ([2.0], True),
                       ([synthetic_loss(candidates[3][0]), 2.0], False), ([4.0], True)]


def test_two_processes_share_the_candidates_and_reach_one_process_result(model_dir, tmp_path):
    """torchrun, 2 CPU processes (gloo): each scores every other candidate of a generation, with early rejection on,
    and the gathered scores give the state, candidate log and factors of one process, bit for bit."""
    shape = ["--model", model_dir, "--target", "4x", "--population", 6, "--parents", 3, "--mutations", 3,
             "--crossovers", 3, "--iterations", 2, "--samples", 3, "--device", "cpu", "--threads", 1,
             "--early-reject", 0]
    assert cli(*shape, "--out", tmp_path / "one.json") == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    launch = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", port,
              os.path.join(ROOT, "search.py"), *map(str, shape), "--out", str(tmp_path / "two.json")]
    done = subprocess.run(launch, env=dict(os.environ, DS_ACCELERATOR="cpu", OMP_NUM_THREADS="1"),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "one.state.json").read_text() == (tmp_path / "two.state.json").read_text()
    assert (tmp_path / "one.history.csv").read_text() == (tmp_path / "two.history.csv").read_text()
    one, two = (json.load(open(tmp_path / f)) for f in ("one.json", "two.json"))
    assert one["rope_scaling"] == two["rope_scaling"] and one["loss"] == two["loss"]
    assert one["forward_passes"] == two["forward_passes"] < 3 * one["evaluated"]  # some were dropped
    assert done.stdout.count("best perplexity") == 1  # the first process speaks for both


def test_more_processes_than_candidates_is_one_sentence_and_exit_code_2(model_dir, monkeypatch, capsys):
    monkeypatch.setenv("WORLD_SIZE", "7")  # as torchrun --nproc_per_node 7 would set it, before any process group
    assert cli("--model", model_dir, "--target", "4x", "--population", 6, "--mutations", 3, "--crossovers", 3,
               "--out", "/tmp/unused.json") == 2
    err = capsys.readouterr().err.strip()
    assert err == ("error: 7 processes would share generations of as few as 6 candidates (population 6, 3 mutations "
                   "+ 3 crossovers); launch at most 6 processes")


def test_recovery_searches_short_factors_and_keeps_the_long_ones(model_dir, tmp_path):
    long_factors = [1.0, 1.2, 1.6, 2.2, 3.0, 4.0, 4.5, 5.0]
    src = str(tmp_path / "long.json")
    longrope.save_factors(src, longrope.RopeScaling("longrope", 4.0, ORIGINAL, tuple(long_factors), n_hat=8),
                          HEAD_DIM, ppl=1.0)
    out = tmp_path / "rec.json"
    assert cli("--model", model_dir, "--recover", "--factors", src, "--population", 6, "--parents", 3,
               "--mutations", 3, "--crossovers", 3, "--iterations", 2, "--samples", 2, "--out", out) == 0
    rec = json.load(open(out))
    assert rec["rope_scaling"]["long_factor"] == long_factors and rec["n_hat"] == 8 and rec["ppl"] == 1.0
    short = rec["rope_scaling"]["short_factor"]
    assert short == sorted(short) and all(1.0 <= f <= 5.0 for f in short)
    assert rec["recovery"]["search_length"] == ORIGINAL
    assert set(rec["recovery"]["seed_ppl"]) == {"identity", "long"}
    # the perplexities it reports are transformers' at the original length, on the documents the search scored,
    # with the written short factors (and with the two seeds' short factors): the search fitted what it claims
    docs = common.sample_documents(common.load_documents(None, common.load_tokenizer(model_dir)), ORIGINAL, 2, seed=0)
    for short_factor, ppl in ((short, rec["recovery"]["ppl"]), ([1.0] * 8, rec["recovery"]["seed_ppl"]["identity"]),
                              (long_factors, rec["recovery"]["seed_ppl"]["long"])):
        theirs = transformers_with_rope(model_dir, tmp_path, dict(rec["rope_scaling"], short_factor=short_factor))
        with torch.no_grad():
            loss = sum(float(theirs(input_ids=d[None], labels=d[None]).loss) for d in docs) / len(docs)
        assert ppl == pytest.approx(math.exp(loss), rel=1e-5)
    assert rec["recovery"]["seed_ppl"]["identity"] != pytest.approx(rec["recovery"]["seed_ppl"]["long"], rel=1e-3)
    with open(rec["recovery"]["log"]) as f:  # and they are the best of every candidate it scored
        logged = [float(line.split(",")[5]) for line in f.read().splitlines()[1:]]
    assert len(logged) == rec["recovery"]["evaluated"] and rec["recovery"]["ppl"] == pytest.approx(min(logged), rel=1e-4)


def transformers_with_rope(model_dir, tmp_path, rope_dict):
    """transformers' LlamaForCausalLM with model_dir's weights and `rope_dict` as its rope scaling."""
    from transformers import LlamaConfig, LlamaForCausalLM
    config = json.load(open(os.path.join(model_dir, "config.json")))
    config.pop("rope_parameters", None)
    config.update(rope_scaling=rope_dict, max_position_embeddings=TARGET)
    folder = tmp_path / "transformers-config"
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config))
    model = LlamaForCausalLM(LlamaConfig.from_pretrained(str(folder), attn_implementation="eager"))
    model.load_state_dict(LlamaForCausalLM.from_pretrained(model_dir).state_dict())
    return model.eval()


def test_exported_folder_gives_transformers_the_same_loss(model_dir, tmp_path, capsys):
    from transformers import LlamaForCausalLM
    factors = str(tmp_path / "f.json")
    rope = longrope.RopeScaling("longrope", 4.0, ORIGINAL, (1.0, 1.3, 2.0, 2.5, 3.1, 4.0, 4.5, 5.0),
                                (1.0, 1.0, 1.1, 1.2, 1.2, 1.5, 2.0, 2.0))
    longrope.save_factors(factors, rope, HEAD_DIM)
    out = tmp_path / "extended"
    assert cli("--model", model_dir, "--factors", factors, "--export", out) == 0
    config = json.load(open(out / "config.json"))
    assert config["max_position_embeddings"] == TARGET and config["rope_scaling"]["rope_type"] == "longrope"
    assert config["rope_scaling"]["long_factor"] == list(rope.long_factor) and "warning" not in capsys.readouterr().err

    ours = load_model(model_dir, device="cpu", rope=longrope.load_factors(factors, HEAD_DIM))
    plain = load_model(model_dir, device="cpu")
    theirs = LlamaForCausalLM.from_pretrained(str(out), dtype=torch.float32).eval()
    tokens = torch.randint(0, 256, (1, 100), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        for length in (100, 30):  # long factors past the original 32 tokens, short ones within it
            x = tokens[:, :length]
            expected = float(ours.loss(x))
            assert float(theirs(input_ids=x, labels=x).loss) == pytest.approx(expected, abs=2e-5)
            assert abs(float(plain.loss(x)) - expected) > 1e-3  # the factors do change the loss

    longrope.save_factors(factors, replace(rope, short_factor=None, n_hat=16), HEAD_DIM)
    assert cli("--model", model_dir, "--factors", factors, "--export", out) == 0
    assert json.load(open(out / "config.json"))["n_hat"] == 16
    assert "transformers does not apply it" in capsys.readouterr().err


@pytest.mark.parametrize("argv, words", [
    (["--target", "8q"], "length '8q'"),
    (["--target", "8x", "--model", "/nonexistent/model"], "/nonexistent/model does not exist"),
    (["--target", "4x", "--samples", "100000"], "100000 are needed"),
    (["--target", "4x", "--early-reject", "-0.5"], "--early-reject must be a margin of at least 0 nats, got -0.5"),
])
def test_bad_input_is_one_sentence_and_exit_code_2(model_dir, argv, words, capsys):
    argv = ["--model", model_dir, "--out", "/tmp/unused.json"] + argv
    assert cli(*argv) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and err.startswith("error:") and len(err.splitlines()) == 1
