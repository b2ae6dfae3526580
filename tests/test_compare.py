"""compare.py on a micro Llama whose original length is 16 tokens: the LongRoPE pipeline, PI and YaRN fine-tuned on
its budget, perplexity to 512x, passkey, ablations and figures in seconds; resumed, it ends where an uninterrupted
run ends."""

import json
import shutil

import pytest
import torch

import common
import compare
import longrope
from model import load_model

ORIGINAL = 16
PIPELINE = ("--steps 2,2 --batch 1 --warmup 1 --short-batch 1 --passkey-fraction 0.5 --search-budget 3,1,2,1,1 "
            "--final-search-budget 3,1,2,1,1 --recover-budget 3,1,2,1,1 --search-samples 1 --eval-samples 1")
ARGS = ["--lengths", "1x,8x,64x,512x", "--samples", "2", "--passkey-lengths", "8x,16x", "--depths", "0,1",
        "--trials", "2", "--threads", "1", "--device", "cpu", "--pipeline-args", PIPELINE]


@pytest.fixture(scope="module")
def straight(micro, tmp_path_factory):
    out = tmp_path_factory.mktemp("compare")
    compare.main(["--model", micro, "--out", str(out), *ARGS])
    return out


def state(folder):
    with open(folder / "compare.json") as f:
        return json.load(f)


def test_baselines_are_fine_tuned_with_their_own_rope_and_stretched_beyond(straight, micro):
    for method in ("pi", "yarn"):
        for n in (32 * ORIGINAL, 64 * ORIGINAL):
            tuned = load_model(str(straight / f"{method}-{common.format_length(n)}"), device="cpu")
            for length in (16, n):  # the rope the stage trained with, read back from its config.json
                ours, expected = (longrope.rope_frequencies(r, 16, 10000.0, length)
                                  for r in (tuned.rope, longrope.make_rope(method, ORIGINAL, n)))
                assert torch.equal(ours[0], expected[0]) and ours[1] == expected[1]
    rows = {label: rope_at for label, _, rope_at in compare.contestants(str(straight), micro, ORIGINAL, 1024,
                                                                        ["pi", "yarn"])}
    for n, s in ((128, 64.0), (1024, 64.0), (8192, 512.0)):
        assert rows["pi fine-tuned at 1k"](None, n) == longrope.make_rope("pi", ORIGINAL, factor=s)
        assert rows["yarn fine-tuned at 1k"](None, n) == longrope.make_rope("yarn", ORIGINAL, factor=s)
        assert rows["original, yarn"](None, n) == longrope.make_rope("yarn", ORIGINAL, n)
    records = state(straight)["perplexity"]
    assert {r["model"] for r in records} == set(rows)
    assert {r["length"] for r in records} == {16, 128, 1024, 8192} and all(r["documents"] == 2 for r in records)
    assert all(r["ppl_min"] <= r["ppl"] <= r["ppl_max"] for r in records)


def test_finetune_lengths_move_every_model_of_the_comparison_alike(micro, tmp_path):
    """--pipeline-args '--finetune-lengths 2x,4x --target 32x': the pipeline fine-tunes at 32 and 64 tokens and
    searches again at 512; the baselines are fine-tuned through the same two stages, each with its own rope."""
    out = tmp_path / "scaled"
    pipeline = PIPELINE + " --target 32x --finetune-lengths 2x,4x"
    args = [a if a != PIPELINE else pipeline for a in ARGS]
    compare.main(["--model", micro, "--out", str(out), *args, "--lengths", "1x,4x,32x", "--passkey-lengths", "8x"])
    with open(out / "longrope" / "pipeline.json") as f:
        assert json.load(f)["done"][:5] == ["search-32", "search-64", "finetune-32", "finetune-64", "search-512"]
    for method in ("pi", "yarn"):
        for n in (32, 64):
            tuned = load_model(str(out / f"{method}-{n}"), device="cpu")
            ours, expected = (longrope.rope_frequencies(r, 16, 10000.0, n)
                              for r in (tuned.rope, longrope.make_rope(method, ORIGINAL, n)))
            assert torch.equal(ours[0], expected[0]) and ours[1] == expected[1]
    records = state(out)["perplexity"]
    assert {r["model"] for r in records} >= {"pi fine-tuned at 64", "yarn fine-tuned at 64",
                                              "LongRoPE fine-tuned at 64", "LongRoPE final"}
    assert {r["length"] for r in records} == {16, 64, 512}


def test_one_forward_for_lengths_that_share_their_angles_equals_one_per_length(straight):
    """model_losses groups lengths whose rope is the same (LongRoPE past L: one forward at the longest) and scores
    the rest one by one; each cell must equal the plain truncated evaluation of that length."""
    import search
    documents = [d[:1024] for d in common.joined_documents(common.load_documents(None, common.byte_tokenizer(),
                                                                                 "validation")[:40], 1024)[:2]]
    final = load_model(str(straight / "longrope" / "final"), device="cpu")
    assert final.rope.n_hat >= 0 and final.rope.long_factor
    lengths = [16, 64, 256, 1024]
    for rope_at in (lambda m, n: m.rope, lambda m, n: longrope.make_rope("pi", ORIGINAL, n)):
        losses = compare.model_losses(final, rope_at, documents, lengths, ORIGINAL)
        for n, row in zip(lengths, losses):
            for doc, loss in zip(documents, row):
                assert loss == pytest.approx(search.evaluate_loss(final, rope_at(final, n), [doc[:n]]), abs=2e-5)


def test_the_documents_are_held_out(straight, micro):
    """The perplexity documents are runs of the validation documents after the searches' third, and no training
    document is a validation one (the split is by path)."""
    tokenizer = common.load_tokenizer(micro)
    search_part, held_out = common.split_documents(common.load_documents(None, tokenizer, "validation"))
    stream = torch.cat(held_out)
    chosen = common.sample_documents(held_out, 8192, 2, 2, join=True)
    for d in chosen:
        starts = (stream == d[0]).nonzero().flatten().tolist()
        assert any(torch.equal(stream[s:s + len(d)], d) for s in starts)
    validation = {name for name, _ in common.validation_files()}
    import os
    import sysconfig
    root = sysconfig.get_paths()["stdlib"]
    assert not validation & {os.path.relpath(p, root) for p in common.stdlib_files("train")}


def test_a_resumed_experiment_ends_where_an_uninterrupted_one_does(straight, micro, tmp_path):
    """Killed after the PI baseline and two models' perplexity: the resumed run writes the same tables."""
    out = tmp_path / "resumed"
    shutil.copytree(straight, out)
    partial = state(out)
    partial["done"] = ["longrope", "pi"]
    partial["perplexity"] = [r for r in partial["perplexity"] if r["model"] in ("original, none", "original, pi")]
    partial["passkey"], partial["ablations"] = [], []
    shutil.rmtree(out / "yarn-512")
    shutil.rmtree(out / "yarn-1k")
    for name in ("figure1.png", "results.md"):
        (out / name).unlink()
    (out / "compare.json").write_text(json.dumps(partial))
    compare.main(["--model", micro, "--out", str(out), "--resume", *ARGS])
    a, b = state(straight), state(out)
    for key in ("perplexity", "passkey", "ablations"):  # floats to 1e-5: CPU kernels may round differently
        first, second = (sorted(records, key=lambda r: json.dumps({k: v for k, v in r.items()
                                                                     if not isinstance(v, float)}))
                         for records in (a[key], b[key]))
        assert len(first) == len(second) and first, key
        for x, y in zip(first, second):
            assert x.keys() == y.keys() and all(x[k] == pytest.approx(y[k], rel=1e-5) for k in x), (key, x, y)


@pytest.mark.parametrize("extra, words", [
    (["--methods", "pi,ntk"], "unknown fine-tuned baseline 'ntk'"),
    (["--lengths", "1x,65536x"], "but 2 are needed (longest: 943741 tokens with all of them joined)"),
    (["--trials", "0"], "--trials must be at least 1"),
    (None, "already holds an experiment; add --resume"),
])
def test_bad_input_is_one_sentence_before_any_work(straight, micro, tmp_path, extra, words, capsys):
    out = straight if extra is None else tmp_path / "new"
    with pytest.raises(SystemExit) as e:
        common.run_cli(lambda: compare.main(["--model", micro, "--out", str(out), *ARGS, *(extra or [])]))
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and words in err and len(err.splitlines()) == 1, err
    assert extra is None or not out.exists()  # nothing written


def test_ablation_rows_at_L_run_the_final_model_with_each_short_set(straight, micro):
    """The final model at L three ways: its recovered short factors, the identity, and its long factors (the paper's
    model without recovery), each equal to the truncated evaluation of that rope on the same short documents."""
    import search
    from dataclasses import replace
    final = load_model(str(straight / "longrope" / "final"), device="cpu")
    rows = {r["ablation"]: r for r in state(straight)["ablations"]}
    held_out = common.split_documents(common.load_documents(None, common.load_tokenizer(micro), "validation"))[1]
    documents = common.sample_documents(held_out, ORIGINAL, compare.train.SHORT_EVAL_SAMPLES, 2, "held out", join=True)
    expected = {"final, recovered short factors": final.rope,
                "final, without recovery (identity short factors)": replace(final.rope, short_factor=None),
                "final, its long factors at L (the paper's model without recovery)":
                    replace(final.rope, short_factor=final.rope.long_factor)}
    for label, rope in expected.items():
        losses = [search.evaluate_loss(final, rope, [d[:ORIGINAL]]) for d in documents]
        assert rows[label]["ppl"] == pytest.approx(torch.tensor(losses).mean().exp().item(), rel=1e-5), label
    assert len(rows) == compare.ABLATIONS


def test_stretched_ablation_rows_start_from_the_fine_tuned_factors(straight, micro):
    """The rows without a second search stretch the factors the model was fine-tuned with, by PI and by YaRN's rule
    (the second search's `init` and `init-yarn` seeds), in the run that also searched without n_hat: that search
    swaps the model's rope candidate after candidate, and must not leave its last one behind as the fine-tuned
    factors."""
    import search
    tuned = load_model(str(straight / "longrope" / "finetune-1k"), device="cpu")
    second = search.plan(tuned, 512 * ORIGINAL, ORIGINAL, init=tuned.rope,
                         attention_factor=compare.train.tuned_attention_scale(tuned))
    seeds = dict(second.seeds)
    held_out = common.split_documents(common.load_documents(None, common.load_tokenizer(micro), "validation"))[1]
    documents = common.sample_documents(held_out, 512 * ORIGINAL, 2, 2, "held out", join=True)
    rows = {r["ablation"]: r for r in state(straight)["ablations"]}
    for label, seed in (("1k factors stretched by PI (no second search)", "init"),
                        ("1k factors stretched by YaRN's rule (no second search)", "init-yarn")):
        rope = second.rope(seeds[seed])
        assert rows[label]["long_factor"] == list(rope.long_factor) and rows[label]["n_hat"] == rope.n_hat, label
        losses = [search.evaluate_loss(tuned, rope, [d]) for d in documents]
        assert rows[label]["ppl"] == pytest.approx(torch.tensor(losses).mean().exp().item(), rel=1e-5), label


def test_report_writes_the_tables_of_a_partial_run_and_changes_nothing(straight, micro, tmp_path):
    out = tmp_path / "partial"
    shutil.copytree(straight, out)
    partial = state(out)
    partial["passkey"], partial["ablations"] = partial["passkey"][:1], []
    (out / "compare.json").write_text(json.dumps(partial))
    compare.main(["--model", micro, "--out", str(out), "--report", *ARGS])
    assert state(out) == partial
    results = (out / "results.md").read_text()
    assert "Incomplete: passkey, ablations not yet measured" in results and "| original, none |" in results
