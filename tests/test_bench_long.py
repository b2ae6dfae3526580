"""bench_long.py, the 2048k-token memory and time table, run on a CPU at a small shape: its records must hold the
values they claim (ours and transformers on the same weights give the same loss; the whole-model extrapolation is
the arithmetic it shows, over the weights a whole model really has), and it stops where its budget says."""

import json

import pytest
import torch

import bench_long


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    path = tmp_path_factory.mktemp("long") / "long.json"
    threads = torch.get_num_threads()
    bench_long.main(["--config", "small", "--device", "cpu", "--lengths", "4k,8k", "--layers", "1",
                     "--whole-up-to", "4k", "--passkey-length", "8k", "--threads", "1", "--budget-s", "1e6",
                     "--json", str(path)])
    torch.set_num_threads(threads)
    with open(path) as f:
        return json.load(f)


def records(table, what):
    return {r["length"]: r for r in table["records"] if r["what"] == what}


def test_ours_and_transformers_share_weights_and_give_the_same_loss(table):
    ours, theirs = records(table, "ours, 1 layers"), records(table, "transformers, 1 layers")
    assert sorted(ours) == sorted(theirs) == [4096, 8192]  # 8k is past the original 4k: the long factors
    for n in ours:
        assert ours[n]["loss"] == pytest.approx(theirs[n]["loss"], abs=1e-4)
        assert ours[n]["weights_gb"] == theirs[n]["weights_gb"]


def test_whole_model_figures_are_the_arithmetic_they_show(table):
    ours, empty = records(table, "ours, 1 layers"), records(table, "ours, no layers")
    whole = records(table, "ours, all 4 layers")[4096]  # a real 4-layer model of the shape
    for n, r in ours.items():
        per_layer = (r["seconds"] - empty[n]["seconds"]) / 1
        assert r["seconds_per_layer"] == pytest.approx(per_layer)
        assert r["whole_model_seconds"] == pytest.approx(empty[n]["seconds"] + 4 * per_layer)
        assert r["whole_model_weights_gb"] == pytest.approx(whole["weights_gb"], rel=1e-9)
        assert r["whole_model_peak_gb"] == pytest.approx(whole["weights_gb"] + r["peak_gb"], rel=1e-9)


def test_passkey_and_refusal_records(table):
    passkey = records(table, "teacher-forced passkey")[8192]
    assert len(passkey["key"]) == 5 and passkey["correct"] is False  # random weights retrieve nothing
    assert passkey["kv_cache_gb_generation_would_need"] == pytest.approx(2 * 4 * 4 * 64 * 8192 * 4 / 2**30)
    refused, = records(table, "refused before any work").values()
    assert refused["message"].startswith(f"a forward over 1 x {refused['length']} tokens needs about")


def test_the_budget_predicts_each_step_from_the_last_of_its_kind():
    budget = bench_long.Budget(100)
    assert budget.allows("layers", 1024)  # nothing measured yet, and time left
    budget.note("layers", 1000, 10.0)
    assert budget.allows("layers", 2000) and not budget.allows("layers", 4000)  # 40 s fits in 100, 160 s does not
    assert budget.allows("empty", 10**9)  # another kind has its own history
    assert budget.allows("whole", 4000, guess=50) and not budget.allows("whole", 1000, guess=150)
    assert not bench_long.Budget(0).allows("layers", 1)


def test_a_spent_budget_skips_every_step():
    out = bench_long.main(["--config", "small", "--device", "cpu", "--lengths", "1k,2k", "--layers", "1",
                           "--whole-up-to", "1k", "--passkey-length", "1k", "--no-transformers", "--budget-s", "0",
                           "--threads", "1"])
    steps = [r for r in out["records"] if r["what"] != "refused before any work"]
    assert [(r["what"], r["length"]) for r in steps] == [("ours, no layers", 1024), ("ours, no layers", 2048),
                                                         ("ours, 1 layers", 1024), ("ours, 1 layers", 2048),
                                                         ("teacher-forced passkey", 1024)]
    assert all("skipped" in r for r in steps)


def test_transformers_stops_at_the_first_length_it_cannot_hold(monkeypatch):
    """An out-of-memory in transformers' forward is a record, not the end of the run, and the longer lengths are
    not tried; ours goes on."""
    loss_of = bench_long.loss_of

    def failing(model, tokens):
        if not isinstance(model, bench_long.Transformer) and tokens.shape[1] >= 2048:
            raise torch.OutOfMemoryError("CUDA out of memory")
        return loss_of(model, tokens)
    monkeypatch.setattr(bench_long, "loss_of", failing)
    out = bench_long.main(["--config", "small", "--device", "cpu", "--lengths", "1k,2k,4k", "--layers", "1",
                           "--whole-up-to", "none", "--passkey-length", "none", "--threads", "1"])
    theirs = [(r["length"], r["fits"]) for r in out["records"] if r["what"].startswith("transformers")]
    assert theirs == [(1024, True), (2048, False)]
    assert [r["length"] for r in out["records"] if r["what"] == "ours, 1 layers" and r["fits"]] == [1024, 2048, 4096]
