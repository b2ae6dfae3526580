"""The real-model path end to end at toy scale: a Llama (and a Mistral) checkpoint written by transformers with a
BPE tokenizer trained here, a .jsonl corpus turned into token files by prepare.py, `train.py --target 64x` through
every stage, and the exported folder loaded by transformers with our loss. Then prepare.py's bad inputs."""

import json
import os

import numpy as np
import pytest
import torch

import common
import prepare
import train
from model import load_model

ORIGINAL = 16
BUDGET = ["--threads", "1", "--steps", "2,2", "--batch", "1", "--warmup", "1", "--search-budget", "3,1,2,1,1",
          "--final-search-budget", "3,1,2,1,1", "--recover-budget", "3,1,2,1,1", "--search-samples", "1",
          "--eval-samples", "1", "--device", "cpu"]


def corpus_texts(split, count, chars):
    if split == "validation":
        return [raw.decode("utf-8", errors="replace")[:chars] for _, raw in common.validation_files()[:count]]
    return [open(f, encoding="utf-8", errors="replace").read()[:chars] for f in common.stdlib_files(split)[:count]]


@pytest.fixture(scope="module")
def tokenizer_json(tmp_path_factory):
    """A byte-level BPE of 400 tokens (<s> = 0, </s> = 1), trained on standard-library text: a subword tokenizer of
    the kind Llama 3 and Qwen ship as tokenizer.json, not sentencepiece."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<s>", "</s>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus_texts("train", 40, 20000), trainer)
    path = str(tmp_path_factory.mktemp("bpe") / "tokenizer.json")
    tok.save(path)
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    for name, texts in (("train.jsonl", corpus_texts("train", 30, 20000)),
                        ("val.jsonl", corpus_texts("validation", 70, 4000))):
        with open(folder / name, "w") as f:
            f.writelines(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(texts))
    return folder


def checkpoint(tmp_path_factory, tokenizer_json, model_type):
    import shutil

    from conftest import hf_model
    size = dict(vocab_size=400, bos_token_id=0, eos_token_id=1)
    if model_type == "mistral":  # a 4x longer context than its 8-token window, as Mistral-7B's 32k against 4k
        hf = hf_model("mistral", max_position_embeddings=4 * 8, **size)
    else:
        hf = hf_model("llama", max_position_embeddings=ORIGINAL, **size)
    path = str(tmp_path_factory.mktemp(model_type))
    hf.save_pretrained(path)
    shutil.copy(tokenizer_json, os.path.join(path, "tokenizer.json"))
    return path


def transformers_loss(folder, model_type, tokens):
    from transformers import LlamaForCausalLM, MistralForCausalLM
    cls = MistralForCausalLM if model_type == "mistral" else LlamaForCausalLM
    model = cls.from_pretrained(folder, attn_implementation="eager").eval()
    with torch.no_grad():
        return float(model(tokens, labels=tokens).loss)


@pytest.mark.parametrize("model_type", ["llama", "mistral"])
def test_corpus_to_exported_model(model_type, tokenizer_json, corpus, tmp_path_factory, capsys):
    model_dir = checkpoint(tmp_path_factory, tokenizer_json, model_type)
    data = tmp_path_factory.mktemp("data")
    prepare.main(["--model", model_dir, "--train", str(corpus / "train.jsonl"), "--val", str(corpus / "val.jsonl"),
                  "--min-tokens", "64", "--workers", "2", "--out", str(data)])
    with open(data / "meta.json") as f:
        meta = json.load(f)
    # the tokens are the model's own tokenizer's: the first validation document, read back, is <s> text </s>
    tokenizer = common.load_tokenizer(model_dir)
    val_docs = common.load_documents(str(data / "val.bin"), tokenizer, vocab_size=400)
    first = json.loads(open(corpus / "val.jsonl").readline())["text"]
    assert val_docs[0].tolist() == tokenizer.encode(first, bos=True) + [tokenizer.eos_id]
    assert meta["val"]["documents"] == len(val_docs) and min(len(d) for d in val_docs) >= 64
    assert meta["train"]["tokens"] == os.path.getsize(data / "train.bin") // 2  # uint16: 400 tokens fit

    out = tmp_path_factory.mktemp(f"run-{model_type}")
    train.main(["--model", model_dir, "--target", "64x", "--data", str(data / "train.bin"),
                "--val-data", str(data / "val.bin"), "--out", str(out), *BUDGET])
    err = capsys.readouterr()
    original = 8 if model_type == "mistral" else ORIGINAL  # Mistral: its window, and a warning saying so
    assert ("using 8 as the original length" in err.err) == (model_type == "mistral")
    assert "plan (cpu" in err.out and "total" in err.out
    with open(out / "final" / "config.json") as f:
        config = json.load(f)
    assert config["rope_scaling"]["original_max_position_embeddings"] == original
    assert config["max_position_embeddings"] == 64 * original
    if model_type == "mistral":
        assert config["sliding_window"] == 64 * original  # widened to the target, as the official code does
    tokens = val_docs[-1][None, :6 * original]  # past the original length (and Mistral's old window)
    ours = load_model(str(out / "final"), device="cpu").requires_grad_(False)
    ours.set_rope(type(ours.rope)(**{**vars(ours.rope), "n_hat": 0}))  # transformers has no n_hat
    assert abs(float(ours.loss(tokens)) - transformers_loss(str(out / "final"), model_type, tokens)) < 1e-4
    with open(out / "pipeline.json") as f:
        state = json.load(f)
    assert set(state["estimated_minutes"]) == set(state["minutes"])


def run_cli(argv, capsys):
    """The error of a failing prepare.py: exit 2 and one sentence after the progress bars, no traceback."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        common.run_cli(lambda: prepare.main(argv))
    err = capsys.readouterr().err.strip()
    errors = [line for line in err.splitlines() if not line.lstrip("\r").startswith("tokenizing")]
    assert e.value.code == 2 and len(errors) == 1 and errors[0].startswith("error: "), err
    return errors[0]


def test_bad_corpus_input_is_one_sentence_and_keeps_what_was_written(tmp_path, capsys):
    good = tmp_path / "good.jsonl"
    good.write_text("".join(json.dumps({"text": "x = 1\n" * n}) + "\n" for n in (50, 200)))
    out = tmp_path / "out"
    prepare.main(["--model", "tiny", "--train", str(good), "--val", str(good), "--min-tokens", "1k",
                  "--workers", "1", "--out", str(out)])
    before = {name: (out / name).read_bytes() for name in ("train.bin", "val.bin", "meta.json")}
    assert np.fromfile(out / "val.bin", dtype=np.uint16).size == 1 + 200 * 6 + 1  # the 50-line one is dropped

    (tmp_path / "field.jsonl").write_text(json.dumps({"content": "x"}) + "\n")
    (tmp_path / "broken.parquet").write_bytes(b"not a parquet file")
    cases = [
        (["--train", str(tmp_path / "field.jsonl")], "has no 'text' field (it has: content)"),
        (["--val", str(good), "--min-tokens", "1m"], "no val document has 1048576 tokens or more (longest: 1202"),
        (["--train", str(tmp_path / "broken.parquet")], "is not a readable parquet file"),
        (["--train", str(tmp_path / "missing.jsonl")], "does not exist"),
        (["--train", str(good), "--min-tokens", "12q"], "length '12q'"),
    ]
    for extra, words in cases:
        assert words in run_cli(["--model", "tiny", "--workers", "1", "--out", str(out), *extra], capsys)
    assert {name: (out / name).read_bytes() for name in before} == before
    assert not [p for p in os.listdir(out) if p.endswith(".tmp")]


def test_a_tokenizer_outside_the_models_vocabulary_is_refused(tokenizer_json, tmp_path, capsys):
    """A 400-token BPE cannot tokenize for a model of 264 tokens (the tiny one): ids beyond 263 would index
    nothing. The check is on the ids the tokenizer actually gives."""
    other = tmp_path / "bpe"
    other.mkdir()
    (other / "tokenizer.json").write_text(open(tokenizer_json).read())
    text = tmp_path / "t.jsonl"
    text.write_text(json.dumps({"text": "def function_name(argument):\n    return argument\n" * 20}) + "\n")
    err = run_cli(["--model", "tiny", "--tokenizer", str(other), "--train", str(text), "--workers", "1",
                   "--out", str(tmp_path / "out")], capsys)
    assert "outside the model's vocabulary of 264" in err


def test_parquet_and_text_folders_are_read_in_order(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    pq.write_table(pa.table({"body": ["first", "second", None, "third"]}), tmp_path / "d.parquet")
    assert list(prepare.read_documents(str(tmp_path / "d.parquet"), "body")) == ["first", "second", "third"]
    (tmp_path / "books" / "b").mkdir(parents=True)
    for name, text in (("b/2.txt", "two"), ("1.txt", "one"), ("b/3.md", "not text")):
        (tmp_path / "books" / name).write_text(text)
    assert list(prepare.read_documents(str(tmp_path / "books"))) == ["one", "two"]


def test_a_window_larger_than_the_target_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        common.run_cli(lambda: train.main(["--target", "8x", "--sliding-window", "2k", "--out", str(tmp_path / "w")]))
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and "--sliding-window 2k (2048 tokens) is larger than the target length 1024" in err


def test_a_dataset_name_is_read_through_the_datasets_library(monkeypatch):
    """Nothing here reaches the hub: a stand-in `datasets` module records what prepare.py asks of it."""
    import types
    asked = []

    def load_dataset(name, split, streaming):
        asked.append((name, split, streaming))
        return [{"text": f"{split} book {i}", "title": "t"} for i in range(2)]

    monkeypatch.setitem(__import__("sys").modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    texts = list(prepare.read_documents("emozilla/pg19", "text", "validation,test"))
    assert texts == ["validation book 0", "validation book 1", "test book 0", "test book 1"]
    assert asked == [("emozilla/pg19", "validation", True), ("emozilla/pg19", "test", True)]
    with pytest.raises(ValueError, match="record 0 has no 'body' field"):
        list(prepare.read_documents("emozilla/pg19", "body", "train"))
