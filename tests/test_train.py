"""train.py's progressive extension pipeline on a micro Llama whose original length is 16 tokens, so every stage of
the paper (search 32x and 64x, fine-tune at both, search 512x on the fine-tuned model, recovery, export, summary)
runs in seconds: killed and resumed it must end bit for bit where an uninterrupted run ends."""

import csv
import importlib.util
import json
import math
import os
import socket
import subprocess
import sys
import types
from dataclasses import replace

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import common
import longrope
import pretrain
import train
from model import PRESETS, ModelConfig, Transformer, load_model

HAS_DEEPSPEED = importlib.util.find_spec("deepspeed") is not None
ORIGINAL = 16
BUDGET = ["--threads", "1", "--steps", "3,3", "--batch", "2", "--warmup", "1", "--save-every", "2",
          "--search-budget", "4,2,2,2,2", "--final-search-budget", "4,1,2,1,1", "--recover-budget", "4,1,2,1,1",
          "--search-samples", "1", "--eval-samples", "1"]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def pipeline(micro, out, *extra):
    train.main(["--model", micro, "--out", str(out), *BUDGET, *extra])


@pytest.fixture(scope="module")
def straight(micro, tmp_path_factory):
    out = tmp_path_factory.mktemp("straight")
    pipeline(micro, out)
    return out


def test_stages_follow_the_paper_scaled_to_the_model():
    names = [name for name, _, _ in train.plan_stages(4096, 2048 * 1024)]
    assert names == ["search-128k", "search-256k", "finetune-128k", "finetune-256k", "search-2m", "recover",
                     "export", "summary"]
    assert [n for n, _, _ in train.plan_stages(4096, 128 * 1024)] == ["search-128k", "finetune-128k", "recover",
                                                                       "export", "summary"]
    assert [n for n, _, _ in train.plan_stages(128, 1024)][:2] == ["search-1k", "finetune-1k"]  # below 32 L
    # --finetune-lengths 4x,8x: the same progression scaled down (fine-tune at 512 and 1k, search again at 8k)
    assert [n for n, _, _ in train.plan_stages(128, 8192, train.finetune_lengths("4x,8x", 128))] == [
        "search-512", "search-1k", "finetune-512", "finetune-1k", "search-8k", "recover", "export", "summary"]


def test_pipeline_writes_every_stage(straight, micro):
    with open(straight / "pipeline.json") as f:
        state = json.load(f)
    assert state["done"] == [n for n, _, _ in train.plan_stages(ORIGINAL, 512 * ORIGINAL)]
    assert [(r["stage"], r["step"]) for r in state["log"]] == [("finetune-512", s) for s in (1, 2, 3)] + \
        [("finetune-1k", s) for s in (1, 2, 3)]
    assert not (straight / "finetune-1k" / "state.pt").exists()  # optimizer states dropped once a stage is done
    with open(straight / "final" / "config.json") as f:
        config = json.load(f)
    rope = config["rope_scaling"]
    assert rope["rope_type"] == "longrope" and rope["original_max_position_embeddings"] == ORIGINAL
    assert config["max_position_embeddings"] == 512 * ORIGINAL
    final = longrope.load_factors(str(straight / "factors-final.json"), 16)
    searched = longrope.load_factors(str(straight / "factors-8k.json"), 16)
    assert final.long_factor == searched.long_factor and final.n_hat == searched.n_hat
    # the second search keeps the attention scale of the 64x fine-tuning, sqrt(1 + ln 64 / ln 16), not 512x's
    tuned_scale = longrope.longrope_attention_scale(64, ORIGINAL)
    assert final.attention_factor == searched.attention_factor == pytest.approx(tuned_scale, rel=1e-6)
    assert rope["attention_factor"] == pytest.approx(tuned_scale, rel=1e-6)
    assert longrope.rope_frequencies(final, 16, 10000.0, 8192)[1] != longrope.longrope_attention_scale(512, ORIGINAL)
    assert rope["long_factor"] == list(final.long_factor) and rope["short_factor"] == list(final.short_factor)
    # the fine-tuned weights moved away from the original ones, and the summary covers 1x, 64x and 512x
    original = load_file(os.path.join(micro, "model.safetensors"))
    tuned = load_file(straight / "final" / "model.safetensors")
    assert not torch.equal(original["model.layers.0.mlp.up_proj.weight"], tuned["model.layers.0.mlp.up_proj.weight"])
    with open(straight / "summary.json") as f:
        summary = json.load(f)
    assert {r["length"] for r in summary["records"]} == {ORIGINAL, 64 * ORIGINAL, 512 * ORIGINAL}
    assert list(summary["checks"].values()) == expected_checks(summary["records"], ORIGINAL, 64 * ORIGINAL,
                                                               512 * ORIGINAL)


def expected_checks(records, original, tuned, target):
    """The summary's three checks, worked out here from its records: fine-tuning lowers perplexity at the tuned
    length; the final model at the target stays within 1.5x of the fine-tuned one at the tuned length; and within
    2% of the original model at the original length."""
    ppl = {}
    for r in records:
        kind = ("final" if r["model"].startswith("final") else "tuned" if r["model"].startswith("fine-tuned")
                else "factors" if "factors" in r["model"] else "original")
        ppl[kind, r["length"]] = r["ppl"]
    return [ppl["tuned", tuned] < ppl["factors", tuned], ppl["final", target] <= 1.5 * ppl["tuned", tuned],
            ppl["final", original] <= 1.02 * ppl["original", original]]


@pytest.mark.parametrize("perplexities,truth", [
    # (original@16, factors@16, factors@1k, tuned@16, tuned@1k, final@16, final@1k, final@8k)
    ((10.0, 12.0, 30.0, 11.0, 20.0, 10.1, 19.0, 29.0), [True, True, True]),
    ((10.0, 12.0, 20.0, 11.0, 20.0, 10.1, 19.0, 29.0), [False, True, True]),  # tuning did not help at 1k
    ((10.0, 12.0, 30.0, 11.0, 20.0, 10.1, 19.0, 31.0), [True, False, True]),  # 8k beyond 1.5 x 20
    ((10.0, 12.0, 30.0, 11.0, 20.0, 10.25, 19.0, 30.0), [True, True, False]),  # 16 beyond 1.02 x 10; 8k at the bound
])
def test_summary_checks_hold_exactly_when_their_records_say_so(tmp_path, perplexities, truth):
    """train.summary on scripted perplexities: each check is True or False as the numbers dictate."""
    original, tuned, target = ORIGINAL, 1024, 8192
    factors = longrope.save_factors(str(tmp_path / "factors.json"),
                                    longrope.RopeScaling("longrope", 64.0, ORIGINAL, (1.0,) * 8, n_hat=0), 16)
    out = str(tmp_path / "run")
    os.makedirs(out)
    p = dict(zip([("original", original), ("factors", original), ("factors", tuned), ("tuned", original),
                  ("tuned", tuned), ("final", original), ("final", tuned), ("final", target)], perplexities))
    which = {"model": "original", os.path.join(out, "finetune-1k"): "tuned", os.path.join(out, "final"): "final"}

    class ScriptedContext:  # each model is its folder, each loss the log of the perplexity scripted above
        main = True

        def inference_model(self, path):
            return types.SimpleNamespace(path=path, config=types.SimpleNamespace(head_dim=16, rotary_dim=16), rope=None)

        def loss_fn(self):
            def loss(model, rope, documents):
                kind = "factors" if rope is not None else which[model.path]
                return math.log(p.get((kind, len(documents[0])), 50.0))  # the original model at 1k, 8k: unchecked
            return loss

    docs = {"short": [torch.zeros(original, dtype=torch.long)], "long": [torch.zeros(target, dtype=torch.long)]}
    train.summary(types.SimpleNamespace(model="model"), ScriptedContext(), out, original, tuned, target, docs, factors)
    with open(os.path.join(out, "summary.json")) as f:
        summary = json.load(f)
    assert list(summary["checks"].values()) == truth == expected_checks(summary["records"], original, tuned, target)


def test_killed_and_resumed_pipeline_ends_where_an_uninterrupted_one_does(straight, micro, tmp_path):
    out = tmp_path / "resumed"
    # 2: inside the first search; 7: after the third fine-tuning step, whose state was never saved (saved at 2);
    # 8: just after the recovery search finished but before the stage was marked done
    for stop in ("2", "7", "8"):
        pipeline(micro, out, "--resume", "--stop-after", stop)
        with open(out / "pipeline.json") as f:
            assert "summary" not in json.load(f)["done"]
    pipeline(micro, out, "--resume")
    for name in ("final/model.safetensors", "finetune-512/model.safetensors"):
        a, b = load_file(straight / name), load_file(out / name)
        assert all(torch.equal(a[k], b[k]) for k in a), name
    for name in ("factors-final.json", "factors-8k.json", "factors-1k.json"):
        a, b = (json.load(open(d / name)) for d in (straight, out))
        assert a["rope_scaling"] == b["rope_scaling"] and a["n_hat"] == b["n_hat"], name
    a, b = (json.load(open(d / "summary.json")) for d in (straight, out))
    assert a["records"] == b["records"]


def test_final_model_loads_in_transformers_with_our_loss(straight):
    from transformers import LlamaForCausalLM
    tokens = common.load_documents(None, common.byte_tokenizer(), "validation")[0][None, :64]
    ours = load_model(str(straight / "final"), device="cpu")
    ours.set_rope(replace(ours.rope, n_hat=0))  # transformers has no n_hat
    theirs = LlamaForCausalLM.from_pretrained(str(straight / "final"), attn_implementation="eager").eval()
    with torch.no_grad():
        expected = float(theirs(tokens, labels=tokens).loss)
        assert abs(float(ours.loss(tokens)) - expected) < 1e-4


def test_the_summary_never_scores_a_token_a_search_saw():
    """Every token of these documents is its own position in the corpus, so a token found in both a search sample
    and an evaluation sample would be text both saw. No document reaches the target length: the long ones are made
    by joining, and must be consecutive runs of the held-out documents (the ones after the first third)."""
    sizes = [300 + 37 * (i % 7) for i in range(200)]
    stream = torch.arange(sum(sizes))
    docs = list(stream.split(sizes))
    target, stages = 512 * ORIGINAL, train.plan_stages(ORIGINAL, 512 * ORIGINAL)
    for seed in range(3):
        args = types.SimpleNamespace(val_data="val", search_samples=2, eval_samples=2, seed=seed)
        search_docs, eval_docs = train.pipeline_documents(docs, stages, ORIGINAL, target, args)
        searched = {int(t) for samples in search_docs.values() for d in samples for t in d}
        evaluated = {int(t) for d in eval_docs["long"] + eval_docs["short"] for t in d}
        assert searched and evaluated and not searched & evaluated
        third = sum(sizes) / 3
        assert max(searched) < third + max(sizes) <= min(evaluated) + max(sizes)
        assert [len(d) for d in eval_docs["long"]] == [target] * 2
        for d in eval_docs["long"]:  # a run of consecutive tokens: documents joined in order
            assert torch.equal(d, torch.arange(int(d[0]), int(d[0]) + target))
        # short samples are whole documents' beginnings, as long as there are enough documents
        starts = {int(d[0]) for d in docs}
        assert all(int(d[0]) in starts for d in eval_docs["short"] + search_docs[ORIGINAL])
        assert len(eval_docs["short"]) == train.SHORT_EVAL_SAMPLES


def test_a_finished_folder_is_not_overwritten(straight, micro, capsys):
    with pytest.raises(SystemExit) as e:
        common.run_cli(lambda: pipeline(micro, straight))
    assert e.value.code == 2 and "already holds a pipeline" in capsys.readouterr().err


@pytest.mark.parametrize("extra, words", [
    (["--target", "256q"], "length '256q'"),
    (["--target", "8"], "must exceed the original length 16"),
    (["--search-budget", "4,2"], "five counts"),
    (["--lr", "0"], "--lr must be positive"),
    (["--eval-samples", "1000"], "1000 are needed"),
    (["--target", "1m"], "but 1 are needed (longest: 943741 tokens with all of them joined)"),
    (["--passkey-fraction", "1.5"], "--passkey-fraction must lie in [0, 1]"),
    (["--finetune-lengths", "64x,32x"], "--finetune-lengths '64x,32x' must be increasing lengths beyond the original"),
    (["--finetune-lengths", "1x,2x"], "beyond the original 16 tokens"),
])
def test_bad_input_is_one_sentence(micro, tmp_path, extra, words, capsys):
    with pytest.raises(SystemExit) as e:
        common.run_cli(lambda: pipeline(micro, tmp_path / "bad", *extra))
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and words in err and len(err.splitlines()) == 1


def test_memory_check_stops_a_stage_that_cannot_fit_and_says_what_would():
    ctx = types.SimpleNamespace(world=1, sp=1, bf16=False, device=torch.device("cpu"), main=False)
    opts = types.SimpleNamespace(lora=False, offload=False)
    stages = train.plan_stages(4096, 256 * 1024)
    with pytest.raises(ValueError, match=r"stage finetune-128k \(131072 tokens\) does not fit: It needs \d+ GB"):
        train.check_memory(PRESETS["llama-2-7b"], stages, opts, ctx)
    train.check_memory(ModelConfig(**pretrain.SHAPES["micro"], vocab_size=264, max_position_embeddings=16),
                       train.plan_stages(16, 1024), opts, ctx)  # fits: returns quietly


def test_lora_adapters_train_and_merge_into_the_weights():
    torch.manual_seed(0)
    model = Transformer(ModelConfig(**pretrain.SHAPES["micro"], vocab_size=264, max_position_embeddings=16))
    tokens = torch.randint(0, 256, (1, 12))
    before = float(model.loss(tokens))
    train.apply_lora(model, rank=4)
    assert float(model.loss(tokens)) == pytest.approx(before, abs=1e-6)  # B = 0: the adapters start as no-ops
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(n.endswith((".a", ".b")) for n in trainable)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n.endswith(".b"):
                p.normal_(0, 0.1)
    adapted = float(model.loss(tokens))
    assert adapted != pytest.approx(before, abs=1e-4)
    train.merge_lora(model)
    assert not any(isinstance(m, train.LoRALinear) for m in model.modules())
    assert float(model.loss(tokens)) == pytest.approx(adapted, abs=1e-5)


def paper_schedule(step, warmup, steps):
    """Linear warmup to the peak, then linear decay to zero: the multiplier of step s (from 0) is the straight lines
    through (0, 0), (warmup, 1) and (steps + 1, 0) read at s + 1, so the first step already trains and the last
    one still does."""
    return float(np.interp(step + 1, [0, warmup, steps + 1], [0.0, 1.0, 0.0]))


def test_learning_rates_follow_warmup_then_linear_decay_across_a_resumption(micro, straight, tmp_path, monkeypatch):
    """The learning rate each AdamW step really used, through a run killed after 2 of 5 steps and resumed."""
    used = []
    step = torch.optim.AdamW.step

    def recording_step(self, *args, **kwargs):
        used.append(self.param_groups[0]["lr"])
        return step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", recording_step)
    stage = ["finetune", "--model", micro, "--factors", str(straight / "factors-512.json"), "--length", "32",
             "--steps", "5", "--batch", "1", "--warmup", "2", "--lr", "1e-3", "--threads", "1", "--save-every", "1",
             "--out", str(tmp_path), "--device", "cpu"]
    train.main([*stage, "--stop-after", "2"])
    train.main([*stage, "--resume"])
    assert used == pytest.approx([1e-3 * paper_schedule(s, 2, 5) for s in range(5)], rel=1e-9)
    # the same by hand: half the peak, the peak, then quarters down to the last step's 1/4
    assert used == pytest.approx([5e-4, 1e-3, 7.5e-4, 5e-4, 2.5e-4])
    with open(tmp_path / "log.csv") as f:
        header, *rows = f.read().splitlines()
    logged = [float(dict(zip(header.split(","), row.split(",")))["lr"]) for row in rows]
    assert logged == pytest.approx(used, rel=1e-9)


def test_short_sequences_join_every_step(micro, straight, tmp_path):
    """--short-batch 1: the step also trains on one original-length sequence (scored with the short factors). One
    step equals AdamW on the mean of the long and the short sequence's losses, computed here by hand, and not the
    step on the long sequence alone."""
    factors = str(straight / "factors-512.json")
    train.main(["finetune", "--model", micro, "--factors", factors, "--length", "64", "--steps", "1", "--batch", "1",
                "--short-batch", "1", "--warmup", "0", "--lr", "1e-3", "--threads", "1", "--out", str(tmp_path),
                "--device", "cpu"])
    tuned = load_model(str(tmp_path), device="cpu").state_dict()
    tokenizer = common.load_tokenizer(micro)
    stream = common.pack_documents(common.load_documents(None, tokenizer, "train", 264), tokenizer.eos_id)
    sequences = [train.training_sequence(stream, 0, 0, 0, 0, 64), train.training_sequence(stream, 0, 0, 0, 1, 16)]

    def one_step(sequences):
        """The weights after one hand-made AdamW step on the mean loss of `sequences`, and each one's loss."""
        model = load_model(micro, device="cpu")
        model.set_rope(longrope.load_factors(factors, model.config.head_dim))
        model.train()
        losses = []
        for tokens in sequences:
            loss = model.loss(tokens[None, :-1], tokens[None, 1:])
            (loss / len(sequences)).backward()
            losses.append(loss.item())
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        lr = 1e-3 * paper_schedule(0, warmup=0, steps=1)
        torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.0).step()
        return {k: v.detach() for k, v in model.state_dict().items()}, losses

    (mixed, losses), (long_only, _) = one_step(sequences), one_step(sequences[:1])
    for k in tuned:
        assert torch.allclose(tuned[k], mixed[k], atol=1e-6, rtol=0), k
    assert max(float((tuned[k] - long_only[k]).abs().max()) for k in tuned) > 1e-4
    with open(tmp_path / "log.csv") as f:
        record = dict(zip(*(line.split(",") for line in f.read().splitlines()[:2])))
    assert float(record["loss"]) == pytest.approx(losses[0], abs=1e-4)
    assert float(record["short_loss"]) == pytest.approx(losses[1], abs=1e-4)


@pytest.mark.skipif(not HAS_DEEPSPEED, reason="deepspeed is not installed (pip install deepspeed)")
def test_two_processes_zero3_sequence_parallel_finetune_equals_one_process(micro, straight, tmp_path):
    """torchrun, 2 CPU processes (gloo), ZeRO-3 and Ulysses degree 2, killed after 2 of 3 steps and resumed from
    DeepSpeed's checkpoint: the weights equal a plain single-process run's to float32 rounding."""
    stage = ["finetune", "--model", micro, "--factors", str(straight / "factors-512.json"), "--length", "512",
             "--steps", "3", "--batch", "2", "--short-batch", "2", "--warmup", "1", "--lr", "1e-3", "--threads", "1",
             "--save-every", "1"]
    train.main([*stage, "--out", str(tmp_path / "one")])
    env = dict(os.environ, DS_ACCELERATOR="cpu", OMP_NUM_THREADS="1")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    launch = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", port,
              os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "train.py"), *stage,
              "--out", str(tmp_path / "two"), "--sp", "2"]
    for extra in (["--stop-after", "2"], ["--resume"]):
        done = subprocess.run(launch + extra, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
    one, two = (load_file(tmp_path / d / "model.safetensors") for d in ("one", "two"))
    start = load_file(os.path.join(micro, "model.safetensors"))
    for k in one:
        assert torch.allclose(one[k], two[k], atol=1e-6, rtol=0), k
    assert max(float((one[k] - start[k]).abs().max()) for k in one) > 1e-3  # the steps did move the weights


@pytest.mark.parametrize("target", ["512x", "64x"])
def test_the_plan_counts_the_passes_each_stage_runs(micro, tmp_path, monkeypatch, target):
    """The plan's time estimate is its pass counts times timed passes: the counts must be the passes the pipeline
    then runs, by length and kind (forward, or fine-tuning with its backward), sequence by sequence. The second
    search's population holds all five of its seeds although its budget asks for four; at 64x the summary's target
    is the fine-tuned length."""
    import plan
    planned = {}
    monkeypatch.setattr(plan, "estimate_minutes", lambda timer, passes, dp_world=1: planned.update(passes) or
                        {name: 0.0 for name in passes})
    monkeypatch.setattr(plan.PassTimer, "__init__", lambda self, model, autocast=False: None)
    ran = {}
    forward = Transformer.forward

    def counted(self, tokens, *args, **kwargs):
        key = (tokens.shape[1], "train" if torch.is_grad_enabled() else "forward")
        ran[key] = ran.get(key, 0) + tokens.shape[0]
        return forward(self, tokens, *args, **kwargs)
    monkeypatch.setattr(Transformer, "forward", counted)
    pipeline(micro, tmp_path / "run", "--target", target)
    expected = {}
    for passes in planned.values():
        for n, kind, count in passes:
            expected[n, kind] = expected.get((n, kind), 0) + count
    assert ran == expected


def test_a_resumed_run_records_the_estimate_its_last_plan_made_for_each_stage_still_to_run(micro, tmp_path,
                                                                                           monkeypatch):
    """`pipeline.json`'s estimated_minutes: a stage done before the kill keeps the first plan's estimate; every
    stage still to run gets the plan made when the run resumed, the one printed just before it ran."""
    import plan
    monkeypatch.setattr(plan.PassTimer, "__init__", lambda self, model, autocast=False: None)
    out = tmp_path / "run"
    for minutes, extra in ((1.0, ["--stop-after", "7"]), (2.0, ["--resume"])):
        monkeypatch.setattr(plan, "estimate_minutes",
                            lambda timer, passes, dp_world=1, m=minutes: {name: m for name in passes})
        pipeline(micro, out, *extra)
        if minutes == 1.0:
            with open(out / "pipeline.json") as f:
                done_first = json.load(f)["done"]
    with open(out / "pipeline.json") as f:
        state = json.load(f)
    assert 0 < len(done_first) < len(state["done"])
    assert state["estimated_minutes"] == {name: 1.0 if name in done_first else 2.0 for name in state["done"]}


@pytest.mark.parametrize("method", ["yarn", "pi"])
def test_finetune_takes_a_method_and_stretches_it_to_the_length(micro, tmp_path, method):
    """`train.py finetune --factors yarn` fine-tunes a baseline, as compare.py does: its first step's loss is the
    original model's with longrope.make_rope(method) at s = 64 / 16 on the first training sequence, and that rope
    dict is in the exported config."""
    train.main(["finetune", "--model", micro, "--factors", method, "--length", "64", "--steps", "2", "--batch", "1",
                "--warmup", "0", "--lr", "1e-3", "--threads", "1", "--out", str(tmp_path), "--device", "cpu"])
    rope = longrope.make_rope(method, ORIGINAL, 64)
    with open(tmp_path / "config.json") as f:
        assert rope.factor == 4 and json.load(f)["rope_scaling"] == longrope.to_hf(rope, 16)
    with open(tmp_path / "log.csv") as f:
        first = float(next(csv.DictReader(f))["loss"])
    model = load_model(micro, device="cpu").requires_grad_(False)
    model.set_rope(rope)
    tokenizer = common.load_tokenizer(micro)
    stream = common.pack_documents(common.load_documents(None, tokenizer, "train", 264), tokenizer.eos_id)
    tokens = train.training_sequence(stream, 0, 0, 0, 0, 64)
    assert first == pytest.approx(float(model.loss(tokens[None, :-1], tokens[None, 1:])), abs=2e-5)


@pytest.mark.parametrize("first, slow_round", [(0.05, 2), (0.5, 0), (0.01, 4)])
def test_the_plan_times_a_short_pass_after_a_warm_up_by_its_median_round(monkeypatch, first, slow_round):
    """A pass of 10 ms whose first call pays for its memory (`first` seconds) and one of whose rounds is slowed by
    another job (0.5 s once): timed at 10 ms, neither the warm-up nor the slow round counted. A pass of 2 s is run
    once. On a fake clock that each call advances by its cost."""
    import plan
    clock, calls = [0.0], []

    def run():
        n = len(calls)
        calls.append(n)
        clock[0] += first if n == 0 else 0.5 if slow_round and n == 10 * slow_round + 5 else 0.01
    monkeypatch.setattr(plan.time, "perf_counter", lambda: clock[0])
    assert plan._seconds(run, lambda: None) == pytest.approx(0.01)
    assert 1 + plan.PROBE_ROUNDS * 9 <= len(calls) <= 1 + plan.PROBE_ROUNDS * 11
    calls.clear()
    assert plan._seconds(lambda: (calls.append(1), clock.__setitem__(0, clock[0] + 2.0)), lambda: None) == 2.0
    assert len(calls) == 1


@pytest.mark.parametrize("window", [None, 96])
def test_the_plan_extrapolates_a_pass_beyond_its_probe_exactly_when_costs_are_linear_plus_attention(micro, window):
    """Past the probe length a pass is extrapolated from two timings at the probe: the whole pass and attention
    alone. If a pass really costs a x tokens + b x tokens x keys seen (all of them, or Mistral's window), the
    extrapolation must be that cost exactly, at 4x and 16x the probe."""
    import plan
    timer = plan.PassTimer.__new__(plan.PassTimer)
    model = load_model(micro, device="cpu")
    model.set_sliding_window(window)
    timer.model, timer.probe, timer.cache = model, 64, {}
    keys = (lambda n: min(n, window)) if window else (lambda n: n)
    linear, quadratic = {False: 3e-3, True: 9e-3}, {False: 2e-5, True: 7e-5}
    timer._model_pass = lambda n, train: linear[train] * n + quadratic[train] * n * keys(n)
    timer._attention_pass = lambda n, train: quadratic[train] * n * keys(n)
    for n in (256, 1024):
        for kind, train in (("forward", False), ("train", True)):
            assert timer.seconds(n, kind) == pytest.approx(linear[train] * n + quadratic[train] * n * keys(n))
