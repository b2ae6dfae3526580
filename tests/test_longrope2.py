"""LongRoPE2's search (longrope2.py and its options in search.py): the critical dimension against the periods it is
defined by, every candidate inside LongRoPE2's constraints, the needle fitness against a hand computation of the
answer tokens' loss, resumption, and bad input."""

import json
import math
import os
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
import longrope  # noqa: E402
import longrope2  # noqa: E402
import algorithm1  # noqa: E402
import search  # noqa: E402
from model import ModelConfig, Transformer, load_model  # noqa: E402
from test_search import HEAD_DIM, ORIGINAL, TARGET, cli, model_dir, one_thread  # noqa: E402,F401


def first_untrained_pair(head_dim, base, original):
    """The first pair whose period 2 pi b^(2i/d) is longer than the pre-training length, found by walking the
    periods (no logarithm)."""
    return next(i for i in range(head_dim // 2) if 2 * math.pi * base ** (2 * i / head_dim) > original)


@pytest.mark.parametrize("head_dim, base, original, expected", [
    (128, 1e4, 4096, 45),  # Llama-2-7B: the period of pair 46 is 4.2k, of pair 45 3.5k
    (128, 5e5, 8192, 34),  # Llama-3-8B: the research notes' value (the official example then fixes 33)
    (96, 1e4, 4096, 33),  # Phi-3-mini
    (64, 1e4, 128, 10),  # the built-in tiny model
    (HEAD_DIM, 1e4, ORIGINAL, 1),  # the random model below
])
def test_critical_dim_is_the_pair_below_the_first_whose_period_exceeds_the_training_length(head_dim, base, original,
                                                                                           expected):
    assert longrope2.critical_dim(head_dim, base, original) == first_untrained_pair(head_dim, base, original) - 1
    assert longrope2.critical_dim(head_dim, base, original) == expected


def fake_model(head_dim=HEAD_DIM, base=1e4):
    return SimpleNamespace(config=SimpleNamespace(rotary_dim=head_dim, rope_theta=base))


def synthetic(candidate):
    """Two documents, a landscape whose optimum lies inside [s, S] for the searched pairs."""
    best = np.linspace(2.0, 7.5, len(candidate.steps))  # pulls the first searched pairs below s
    loss = float(np.abs(np.array(candidate.factors) - best)[1:].mean())
    return [loss, loss + 0.05 * math.sin(sum(candidate.steps))]


@pytest.mark.parametrize("critical_dim, early_reject", [("auto", None), ("auto", 0.0), (3, None)])
def test_every_candidate_of_a_longrope2_search_obeys_its_constraints(critical_dim, early_reject, tmp_path):
    plan = search.plan(fake_model(), TARGET, ORIGINAL, critical_dim=critical_dim)  # s = 4, S = 8, cd = 1 (auto)
    space, cd = plan.space, plan.space.critical_dim
    assert (cd, space.lower, space.upper, space.n_hat_choices) == (1 if critical_dim == "auto" else 3, 400, 800, (0,))
    settings = search.Settings(population=16, iterations=8, parents=8, mutations=8, crossovers=8, seed=0,
                               early_reject=early_reject)
    path = str(tmp_path / "s.state.json")
    state = algorithm1.evolve(synthetic, space, plan.seeds, settings, search.Logbook(path))
    history = state["history"]
    assert len(history) == 16 + 8 * 16 and {h["origin"] for h in history} >= {"mutation", "crossover"}
    for h in history:
        candidate = algorithm1.candidate_of(h)
        factors = plan.rope(candidate).long_factor
        lam = candidate.steps[cd] / 100
        assert all(factors[i] == lam ** (i / cd) for i in range(cd))  # tied to the critical pair, exactly
        assert factors[cd:] == candidate.factors[cd:]
        searched = candidate.steps[cd:]
        assert all(400 <= v <= 800 for v in searched)  # [s, S]
        assert all(b > a for a, b in zip(searched, searched[1:]))  # strictly increasing
        assert h["n_hat"] == 0
    other = search.plan(fake_model(), TARGET, ORIGINAL, critical_dim=2).space  # another space: refused on resume
    with pytest.raises(ValueError, match="space"):
        algorithm1.evolve(synthetic, other, plan.seeds, settings, search.Logbook(path, resume=True))
    assert state["curve"][-1] < state["curve"][0]  # the search moves


def test_longrope2_mutation_and_seeds_follow_the_official_code():
    rng = np.random.default_rng(0)
    n, cd, lower, upper = 32, 10, 800, 1600  # the tiny model at 8x
    seeds = longrope2.seed_steps(n, cd, 8.0, lower, upper)
    # sigma_j = s + j s / 10 at the critical pair, then + 0.1 per pair; all 8 fit [8, 16] here
    assert [s[cd] for s in seeds] == [800 + 80 * j for j in range(8)]
    assert all(s[cd:] == tuple(range(s[cd], s[cd] + 10 * (n - cd), 10)) for s in seeds)
    parent = seeds[0]
    for _ in range(300):
        child = longrope2.mutate_steps(parent, cd, lower, upper, rng, prob=1.0)
        if child is None:
            continue
        assert child[-2] < child[-1] <= child[-2] + 400  # the last pair at most 4 above the one before
        assert child[:cd] == longrope2.tie_low_steps(child, cd)[:cd]
    # a crossover pass visits a pair with probability 0.3 and then takes parent 2's value with probability 0.5
    shifted = tuple(v + 1 if i >= cd else v for i, v in enumerate(parent))  # any mix of the two is increasing
    swaps = [sum(a != b for a, b in zip(longrope2.CrossoverDraws(parent, shifted, cd, rng)(), parent))
             for _ in range(2000)]
    assert np.mean(swaps) / (n - cd) == pytest.approx(0.15, abs=0.01)
    # with probability 0 nothing moves; a crossover of equal parents is no child
    assert longrope2.mutate_steps(parent, cd, lower, upper, rng, prob=0.0) == parent
    assert longrope2.CrossoverDraws(parent, parent, cd, rng)() is None
    # crossover swaps pile up: every value of a child comes from one of its parents
    other = seeds[3]
    draws = longrope2.CrossoverDraws(parent, other, cd, rng)
    children = [c for c in (draws() for _ in range(20)) if c is not None]
    assert children and all(c[i] in (parent[i], other[i]) for c in children for i in range(cd, n))


def test_needle_fitness_is_the_loss_of_the_answer_tokens_only():
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=258, hidden_size=32, n_layers=2, n_heads=2, n_kv_heads=2, head_dim=HEAD_DIM,
                      intermediate_size=64, max_position_embeddings=ORIGINAL, bos_token_id=256, eos_token_id=257)
    model = Transformer(cfg).eval()
    tokenizer = common.byte_tokenizer()
    text = "".join(f"line {i} of a document\n" for i in range(40)).encode()
    docs = [torch.tensor([256] + list(text[j:j + 299])) for j in (0, 7, 30)]
    needles = longrope2.needle_samples(docs, tokenizer, seed=1)
    rope = longrope.RopeScaling("longrope", 4.0, ORIGINAL, long_factor=(1.0, 2.0, 3.0, 4.0, 4.5, 5.0, 5.5, 6.0))
    hand = []
    for needle, doc in zip(needles, docs):
        ids = needle.tokens.tolist()
        key = tokenizer.decode(ids[-needle.answer:])
        assert len(ids) == len(doc) and needle.answer == 5 and key.isdigit()  # the key's digits, the last tokens
        prompt = tokenizer.decode(ids)
        assert prompt.endswith(f"What is the pass key? The pass key is {key}")
        at = prompt.index(f" The pass key is {key}. Remember it. {key} is the pass key.\n")
        assert at == 0 or prompt[at - 1] == "\n"  # planted at a line boundary (<s> decodes to nothing)
        model.set_rope(rope)
        with torch.no_grad():
            logp = torch.log_softmax(model.logits(needle.tokens[None])[0].double(), -1)  # (T, V)
        answer = range(len(ids) - needle.answer, len(ids))
        hand.append(-sum(float(logp[t - 1, ids[t]]) for t in answer) / needle.answer)
    assert [n.depth for n in needles] == [0.0, 0.5, 1.0]
    assert longrope2.needle_loss(model, rope, needles) == pytest.approx(sum(hand) / len(hand), abs=1e-5)
    with torch.no_grad():
        everything = sum(float(model.loss(n.tokens[None])) for n in needles) / 3
    assert abs(everything - sum(hand) / len(hand)) > 1e-3  # not the loss on every token


def test_attention_scale_is_fixed_by_s_and_l_not_by_the_length_scale():
    for scale in (None, 6.0):
        plan = search.plan(fake_model(), TARGET, ORIGINAL, critical_dim=2, length_scale=scale)
        assert plan.base.attention_factor == math.sqrt(1 + math.log(4) / math.log(32))
        assert plan.space.critical_dim == 2 and plan.space.upper == (600 if scale else 800)


def test_longrope2_search_on_a_real_model_resumes_and_records_its_fitness(model_dir, tmp_path):
    shape = ["--model", model_dir, "--target", "4x", "--population", 6, "--parents", 3, "--mutations", 3,
             "--crossovers", 3, "--samples", 3, "--device", "cpu"]
    options = {"all": ["--longrope2"], "raced": ["--longrope2", "--early-reject", 0], "needles": ["--needle-fitness"],
               "space": ["--critical-dim", 2, "--length-scale", 6]}
    for name, extra in options.items():  # each option, killed after one iteration and resumed
        full, part = tmp_path / f"full-{name}.json", tmp_path / f"part-{name}.json"
        assert cli(*shape, *extra, "--iterations", 3, "--out", full) == 0
        assert cli(*shape, *extra, "--iterations", 1, "--out", part) == 0
        assert cli(*shape, *extra, "--iterations", 3, "--out", part, "--resume") == 0
        state = json.load(open(str(full).replace(".json", ".state.json")))
        assert state == json.load(open(str(part).replace(".json", ".state.json")))
        assert json.load(open(full))["rope_scaling"] == json.load(open(part))["rope_scaling"]
        assert state["config"].get("critical_dim") == {"needles": None, "space": 2}.get(name, 1)
        assert state["config"].get("fitness") == (None if name == "space" else "needle")
    shape.append("--longrope2")
    # the recorded fitness is the needle loss of the saved factors (tied pairs exact) on the search's needles
    record = json.load(open(tmp_path / "full-all.json"))
    rope = longrope.load_factors(str(tmp_path / "full-all.json"), HEAD_DIM)
    assert rope.attention_factor == pytest.approx(math.sqrt(1 + math.log(4) / math.log(32)))
    assert rope.long_factor[0] == 1.0 and rope.long_factor[1] >= 4.0
    model = load_model(model_dir, device="cpu")
    tokenizer = common.load_tokenizer(model_dir)
    docs = common.sample_documents(common.load_documents(None, tokenizer), TARGET, 3, seed=0)
    needles = longrope2.needle_samples(docs, tokenizer, seed=0)
    assert longrope2.needle_loss(model, rope, needles) == pytest.approx(record["loss"], abs=1e-6)
    # another critical dimension is another search
    assert cli(*shape, "--critical-dim", 2, "--iterations", 3, "--out", tmp_path / "part-all.json", "--resume") == 2


@pytest.mark.parametrize("argv, words", [
    (["--target", "4x", "--critical-dim", "8"], "--critical-dim is 8 but must be a pair index from 0 to 7"),
    (["--target", "4x", "--critical-dim", "-1"], "--critical-dim is -1 but must be a pair index from 0 to 7"),
    (["--target", "4x", "--critical-dim", "x"], "--critical-dim takes auto or a pair index, got 'x'"),
    (["--target", "2x", "--longrope2"], "but the target length is 64; use a longer target"),
    (["--target", "4x", "--longrope2", "--length-scale", "3"], "--length-scale must be at least the extension "
                                                               "ratio s = 4, got 3.0"),
    (["--target", "4x", "--length-scale", "8"], "--length-scale bounds LongRoPE2's search space"),
    (["--target", "4x", "--longrope2", "--length-scale", "4"], "leaves no room for LongRoPE2's seeds"),
])
def test_bad_longrope2_input_is_one_sentence_and_exit_code_2(model_dir, argv, words, capsys):
    argv = ["--model", model_dir, "--out", "/tmp/unused.json", "--samples", 1] + argv
    assert cli(*argv) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and err.startswith("error:") and len(err.splitlines()) == 1
