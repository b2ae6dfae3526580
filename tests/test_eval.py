"""eval.py against independent computations: transformers' loss, a naive sliding window, passkey scoring."""

import json
import math
import os
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import eval as ev  # noqa: E402
from conftest import randomize_  # noqa: E402
from common import PASSKEY_FILLER, PASSKEY_TASK, byte_tokenizer, load_documents, passkey_prompt, sample_documents  # noqa: E402
from model import cpp_compiler, load_model  # noqa: E402
from pretrain import save_byte_tokenizer  # noqa: E402

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A random Llama saved by transformers, with a byte-level tokenizer, and a small text corpus."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("ckpt")
    cfg = transformers.LlamaConfig(vocab_size=260, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                   num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                                   max_position_embeddings=32, bos_token_id=256, eos_token_id=257)
    hf = randomize_(transformers.LlamaForCausalLM(cfg)).eval()  # unit-scale: rescaling methods differ clearly
    hf.save_pretrained(folder / "model")
    save_byte_tokenizer(str(folder / "model"))  # ids 256, 257: <s>, </s>
    data = folder / "data"
    data.mkdir()
    for i in range(6):
        (data / f"doc{i}.txt").write_text(" ".join(f"word{(i * 7 + j) % 13}" for j in range(40 + 10 * i)))
    return hf, str(folder / "model"), str(data)


def run_eval(*args):
    return subprocess.run([sys.executable, os.path.join(ROOT, "eval.py"), *args], capture_output=True, text=True,
                          cwd=ROOT)


@pytest.mark.parametrize("compile", [False, pytest.param(True, marks=pytest.mark.skipif(
    not cpp_compiler(), reason="torch.compile needs a C++ compiler"))])
def test_ppl_command_reports_the_loss_transformers_computes(checkpoint, tmp_path, compile):
    hf, model_dir, data = checkpoint
    out = tmp_path / "ppl.json"
    result = run_eval("ppl", "--model", model_dir, "--rope", "none,yarn", "--lengths", "32,2x", "--data", data,
                      "--samples", "3", "--json", str(out), "--device", "cpu", *(["--compile"] if compile else []))
    assert result.returncode == 0, result.stderr
    records = json.loads(out.read_text())
    docs = sample_documents(load_documents(data, byte_tokenizer(256, 257)), 64, 3, 0)
    config = json.loads(open(os.path.join(model_dir, "config.json")).read())
    config.pop("rope_parameters", None)  # written the legacy way, which every transformers version reads
    config.update(rope_theta=10000.0, rope_scaling={"rope_type": "yarn", "factor": 2.0,
                                                    "original_max_position_embeddings": 32})
    (tmp_path / "config.json").write_text(json.dumps(config))
    hf_yarn = transformers.LlamaForCausalLM(transformers.LlamaConfig.from_pretrained(tmp_path)).eval()
    hf_yarn.load_state_dict(hf.state_dict())
    for method, length, reference in (("none", 32, hf), ("none", 64, hf), ("yarn", 64, hf_yarn)):
        batch = torch.stack([d[:length] for d in docs])
        with torch.no_grad():
            expected = float(reference(batch, labels=batch).loss)  # transformers' mean over the shifted tokens
        got = next(r for r in records if r["method"] == method and r["length"] == length)
        assert got["loss"] == pytest.approx(expected, abs=1e-5)
        assert got["ppl"] == pytest.approx(math.exp(expected), rel=1e-4)
        assert got["tokens"] == 3 * (length - 1)
    none, yarn = (next(r["loss"] for r in records if r["method"] == m and r["length"] == 64) for m in ("none", "yarn"))
    assert abs(none - yarn) > 1e-2  # a method mix-up would show, far beyond the 1e-5 tolerance


def naive_sliding_loss(logits_fn, tokens, window, stride):
    """Every token t >= 1 predicted once, from the window that first covers it (Hugging Face's recipe)."""
    nats, count, prev_end = 0.0, 0, 0
    for begin in range(0, len(tokens), stride):
        end = min(begin + window, len(tokens))
        logits = logits_fn(tokens[begin:end])
        for t in range(max(prev_end, begin + 1), end):  # predict token t from position t-1 of this window
            nats += float(F.cross_entropy(logits[t - 1 - begin][None], tokens[t][None]))
            count += 1
        prev_end = end
        if end == len(tokens):
            break
    return nats, count


@pytest.mark.parametrize("window,stride", [(16, 8), (16, 5), (20, 20)])
def test_sliding_and_truncated_equal_a_naive_computation(checkpoint, window, stride):
    _, model_dir, _ = checkpoint
    model = load_model(model_dir, device="cpu")
    torch.manual_seed(1)
    tokens = torch.randint(0, 256, (53,))
    with torch.no_grad():
        logits_fn = lambda x: model.logits(x[None])[0]  # noqa: E731
        nats, count = ev.document_loss(model, tokens, window, stride)
        expected_nats, expected_count = naive_sliding_loss(logits_fn, tokens, window, stride)
        assert count == expected_count
        if stride < window:  # overlapping windows predict every token but the first
            assert count == len(tokens) - 1
        assert nats == pytest.approx(expected_nats, rel=1e-5)
        truncated, n = ev.document_loss(model, tokens, window)
        logits = logits_fn(tokens[:window])
        assert n == window - 1
        assert truncated == pytest.approx(float(F.cross_entropy(logits[:-1], tokens[1:window], reduction="sum")),
                                          rel=1e-5)


class ScriptedModel(torch.nn.Module):
    """Stands in for a model in passkey scoring: generates whatever `reply(prompt)` returns."""

    def __init__(self, reply):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.reply = reply

    def set_rope(self, rope):
        pass

    def generate(self, prompts, max_new):
        return torch.stack([torch.tensor(self.reply(p.tolist())[:max_new]) for p in prompts])


def test_passkey_scorer_counts_only_generated_digits():
    tok = byte_tokenizer(256, 257)

    def key_of(prompt):  # the oracle reads the key where the needle is, independently of the scorer
        text = tok.decode(prompt)
        return text.split("The pass key is ")[1].split(".")[0]

    oracle = ScriptedModel(lambda p: tok.encode(" " + key_of(p) + ".") + [0] * 8)
    repeater = ScriptedModel(lambda p: p[1:])  # echoes the prompt, which does contain the key
    needle_echo = ScriptedModel(lambda p: tok.encode(" The pass key is " + key_of(p)))
    for model, expected in ((oracle, 1.0), (repeater, 0.0), (needle_echo, 0.0)):
        accuracy, _ = ev.passkey_accuracy(model, tok, None, 200, 0.5, 6, 0, False)
        assert accuracy == expected


def run_main(monkeypatch, *argv):
    monkeypatch.setattr(sys, "argv", ["eval.py", *map(str, argv)])
    ev.main()


def test_passkey_command_on_the_tiny_model_equals_transformers_greedy_answers(monkeypatch, tmp_path):
    """The built-in tiny model retrieves passkeys within its 128 tokens and not at 256 (docs/results.md). Every
    answer the command records is what transformers' greedy generation gives on the same prompt, read here with a
    regular expression, and each accuracy is the share of those answers equal to the key."""
    import re
    out = tmp_path / "passkey.json"
    run_main(monkeypatch, "passkey", "--model", "tiny", "--rope", "none", "--lengths", "128,256", "--depths", "0.5",
             "--trials", "3", "--device", "cpu", "--json", out)
    records = json.loads(out.read_text())
    assert [(r["length"], r["depth"]) for r in records] == [(128, 0.5), (256, 0.5)]
    tok = ev.load_tokenizer("tiny")
    hf = transformers.LlamaForCausalLM.from_pretrained(os.path.join(ROOT, "tiny")).eval()
    for r in records:
        pairs = [pair.split(":") for pair in r["answers"].split()]
        correct = 0
        for key, answer in pairs:  # prompt and answer (the key's tokens and one more) fit the tested length
            budget = len(tok.encode(" " + key)) + 1
            prompt = torch.tensor([passkey_prompt(tok, r["length"] - budget, r["depth"], key, with_task=False)[0]])
            with torch.no_grad():
                new = hf.generate(prompt, attention_mask=torch.ones_like(prompt), do_sample=False, eos_token_id=None,
                                  pad_token_id=0, max_new_tokens=budget)[0, prompt.shape[1]:]
            digits = re.match(r"\s*(\d+)", tok.decode(new.tolist()))
            expected = digits.group(1) if digits else "-"
            assert answer == expected, (r["length"], r["depth"], key)
            correct += expected == key
        assert r["accuracy"] == correct / len(pairs)
    assert records[0]["accuracy"] == 1.0 and records[1]["accuracy"] < 1.0


def test_figures_plot_the_records_they_are_given(monkeypatch, tmp_path):
    """Each figure's lines and heatmap carry the numbers of its JSON records and factor file."""
    import matplotlib.figure
    plotted = {}
    save = matplotlib.figure.Figure.savefig

    def capture(fig, path, **kwargs):
        ax = fig.axes[0]
        images = ax.get_images()
        plotted[os.path.basename(path)] = ({line.get_label(): (list(line.get_xdata()), list(line.get_ydata()))
                                            for line in ax.get_lines()},
                                           images[0].get_array().tolist() if images else None)
        return save(fig, path, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", capture)
    ppl = [{"method": m, "length": n, "ppl": p} for m, n, p in
           [("none", 128, 5.0), ("none", 256, 40.0), ("yarn", 256, 6.0), ("yarn", 128, 5.5)]]
    passkey = [{"method": "yarn", "length": n, "depth": d, "accuracy": a} for n, d, a in
               [(128, 0.0, 1.0), (128, 1.0, 0.5), (256, 0.0, 0.0), (256, 1.0, 0.25)]]
    (tmp_path / "ppl.json").write_text(json.dumps(ppl))
    (tmp_path / "passkey.json").write_text(json.dumps(passkey))
    factors = os.path.join(ROOT, "docs", "tiny_8x_factors.json")
    run_main(monkeypatch, "figures", "--ppl", tmp_path / "ppl.json", "--passkey", tmp_path / "passkey.json",
             "--factors", factors, "--out", tmp_path / "fig")
    lines, _ = plotted["perplexity.png"]
    assert lines == {"none": ([128, 256], [5.0, 40.0]), "yarn": ([128, 256], [5.5, 6.0])}
    lines, _ = plotted["factors.png"]
    long_factor = json.load(open(factors))["rope_scaling"]["long_factor"]
    assert [y for label, (_, y) in lines.items() if "LongRoPE" in label] == [long_factor]
    assert lines["pi"][1] == pytest.approx([8.0] * 32, rel=1e-5)  # PI at the file's 8x
    lines, _ = plotted["passkey.png"]
    assert lines == {"yarn": ([128, 256], [0.75, 0.125])}
    _, grid = plotted["passkey_heatmap.png"]
    assert grid == [[1.0, 0.0], [0.5, 0.25]]  # depth by length
    assert all((tmp_path / "fig" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for name in plotted)


def test_reproduce_at_toy_scale_writes_tables_that_match_its_records(monkeypatch, tmp_path):
    """`reproduce` end to end on a 1-layer random model of original length 128, its search already done (search.py
    has its own tests): every table cell of results.md is its record's number, and at the original length PI and
    NTK (factor 1 there) score exactly what plain RoPE scores, the factor file something else."""
    from model import ModelConfig, Transformer, save_model
    folder = str(tmp_path / "model")
    torch.manual_seed(0)
    save_model(Transformer(ModelConfig(vocab_size=264, hidden_size=32, n_layers=1, n_heads=2, n_kv_heads=2,
                                       head_dim=16, intermediate_size=32, max_position_embeddings=128,
                                       bos_token_id=256, eos_token_id=257)), folder)
    save_byte_tokenizer(folder)
    out = tmp_path / "out"
    out.mkdir()
    from longrope import RopeScaling, save_factors
    save_factors(str(out / "tiny_2x_factors.json"),  # as a finished search leaves it: --resume reuses it
                 RopeScaling("longrope", 2.0, 128, tuple(1.0 + 0.15 * i for i in range(8))), 16)
    run_main(monkeypatch, "reproduce", "--model", folder, "--out", out, "--scale", "2", "--search-samples", "1",
             "--samples", "1", "--trials", "1", "--device", "cpu", "--resume")
    ppl, passkey = (json.loads((out / f"{name}.json").read_text()) for name in ("ppl", "passkey"))
    methods = ["none", "pi", "ntk", "dynamic-ntk", "yarn", "longrope"]
    assert [(r["method"], r["length"]) for r in ppl] == [(m, 128 * k) for m in methods for k in (1, 2, 4, 8, 16)]
    at_128 = {r["method"]: r["loss"] for r in ppl if r["length"] == 128}
    assert at_128["pi"] == at_128["ntk"] == at_128["dynamic-ntk"] == at_128["none"] != at_128["longrope"]
    results = (out / "results.md").read_text()
    for r in ppl:
        row = next(line for line in results.splitlines() if line.startswith(f"| {r['method']} |"))
        assert f"{r['bits']:.3f}" in row.split("|")[[128, 256, 512, 1024, 2048].index(r["length"]) + 2]
    assert len(passkey) == 6 * 4 * 5 and {r["method"] for r in passkey} == set(methods)
    assert all((out / name).exists() for name in ("perplexity.png", "factors.png", "passkey.png",
                                                  "passkey_heatmap.png"))


@pytest.mark.parametrize("depth", [0.0, 0.3, 0.5, 1.0])
def test_passkey_prompt_hits_length_and_depth(depth):
    tok = byte_tokenizer(256, 257)
    ids, needle_at = passkey_prompt(tok, 1000, depth, "12345", with_task=True)
    assert len(ids) == 1000
    text = bytes(i for i in ids if i < 256).decode()  # drops the bos token
    assert text.startswith(PASSKEY_TASK) and text.endswith("What is the pass key? The pass key is")
    needle_byte = text.index(" The pass key is 12345. Remember it. 12345 is the pass key.")
    assert needle_byte == needle_at - 1
    filler_before = needle_byte - len(PASSKEY_TASK)
    filler_total = 1000 - 1 - len(PASSKEY_TASK) - len(" The pass key is 12345. Remember it. 12345 is the pass key.") \
        - len(" What is the pass key? The pass key is")
    longest_sentence = max(len(s) for s in PASSKEY_FILLER)
    assert abs(filler_before - depth * filler_total) <= longest_sentence


def test_bad_input_fails_with_one_sentence(checkpoint, tmp_path):
    _, model_dir, data = checkpoint
    bad_factors = tmp_path / "bad.json"
    bad_factors.write_text(json.dumps({"rope_scaling": {"rope_type": "longrope", "short_factor": [1.0] * 8,
                                                        "long_factor": [1.0] * 7,
                                                        "original_max_position_embeddings": 32}}))
    nan_factors = tmp_path / "nan.json"
    nan_factors.write_text(json.dumps({"rope_scaling": {"rope_type": "longrope", "short_factor": [1.0] * 8,
                                                        "long_factor": [1.0] * 7 + [float("nan")],
                                                        "original_max_position_embeddings": 32}}))
    cases = [
        (["--model", str(tmp_path / "nowhere")], "does not exist"),
        (["--model", model_dir, "--lengths", "4q", "--data", data], "4q"),
        (["--model", model_dir, "--lengths", "64k", "--data", data], "documents of at least 65536 tokens"),
        (["--model", model_dir, "--rope", str(bad_factors), "--data", data], "has 7 values"),
        (["--model", model_dir, "--rope", str(nan_factors), "--data", data], "finite positive"),
        (["--model", model_dir, "--rope", "ntk2", "--data", data], "unknown rope method"),
    ]
    for args, phrase in cases:
        result = run_eval("ppl", *args)
        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr
        lines = [line for line in result.stderr.strip().splitlines() if line.startswith("error:")]
        assert len(lines) == 1 and phrase in lines[0], (args, result.stderr)
