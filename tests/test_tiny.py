"""The built-in tiny model (train.py pretrain): it loads the same in our model.py and in transformers, its tokenizer
reads the same in common.py, tokenizers and transformers, it has learned its corpus and the passkey task at its
base length, and pretraining resumes to exactly the weights of an uninterrupted run."""

import json
import math
import os
import shutil
import sys

import pytest
import torch
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import common  # noqa: E402
import pretrain  # noqa: E402
import train  # noqa: E402
from model import TINY_DIR, load_model  # noqa: E402

BASE_LEN = 128
TEXT = "def f(x):\n\treturn x  # caf\u00e9 \u2192 \U0001F600 <s> </s>\r\n\x00"


@pytest.fixture(scope="module")
def tiny():
    return load_model("tiny", device="cpu", dtype=torch.float32)


@pytest.fixture(scope="module")
def val_docs():
    return common.load_documents(None, common.load_tokenizer("tiny"), "validation")


def test_tiny_files():
    with open(os.path.join(TINY_DIR, "config.json")) as f:
        config = json.load(f)
    assert config["max_position_embeddings"] == BASE_LEN and config["head_dim"] == 64
    assert config["rope_theta"] == 10000.0 and "rope_scaling" not in config
    assert os.path.getsize(os.path.join(TINY_DIR, "model.safetensors")) <= 20e6
    with open(os.path.join(TINY_DIR, "provenance.json")) as f:
        provenance = json.load(f)
    assert provenance["command"].startswith("python train.py pretrain")
    assert 2.5e6 <= provenance["parameters"] <= 4e6


def test_tokenizer_reads_the_same_everywhere():
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    ours = common.load_tokenizer("tiny")
    assert ours.byte_level and (ours.bos_id, ours.eos_id) == (256, 257)
    expected = [256] + list(TEXT.encode("utf-8"))  # <s> and the raw bytes; a literal "<s>" in text stays bytes
    assert ours.encode(TEXT, bos=True) == expected and ours.decode(expected) == TEXT

    raw = Tokenizer.from_file(os.path.join(TINY_DIR, "tokenizer.json"))
    assert raw.encode("Ab\u00e9\n", add_special_tokens=False).ids == list("Ab\u00e9\n".encode())
    assert raw.decode(expected[1:]) == TEXT

    for hf in (AutoTokenizer.from_pretrained(TINY_DIR),
               PreTrainedTokenizerFast(tokenizer_file=os.path.join(TINY_DIR, "tokenizer.json"),
                                       split_special_tokens=True)):
        ids = hf(TEXT)["input_ids"]
        assert ids == expected
        assert hf.decode(ids, skip_special_tokens=True) == TEXT
    auto = AutoTokenizer.from_pretrained(TINY_DIR)
    assert (auto.bos_token_id, auto.eos_token_id, auto.pad_token_id) == (256, 257, 258)


def test_tiny_matches_transformers(tiny, val_docs):
    from transformers import LlamaForCausalLM

    hf = LlamaForCausalLM.from_pretrained(TINY_DIR, dtype=torch.float32).eval()
    batch = torch.stack(common.sample_documents(val_docs, 2 * BASE_LEN, 4, seed=0))  # (4, 256): also past the base
    for tokens in (batch[:, :BASE_LEN], batch):
        with torch.no_grad():
            ours = tiny.loss(tokens).item()
            theirs = hf(input_ids=tokens, labels=tokens).loss.item()
        assert abs(ours - theirs) < 1e-4, (tokens.shape, ours, theirs)
    assert 0.5 < ours < 5  # a real, learned loss, not a trivial match of two broken models


def test_tiny_has_learned_its_corpus(tiny, val_docs):
    windows = pretrain.validation_windows(val_docs, BASE_LEN, pretrain.VAL_WINDOWS, seed=0)
    nats = pretrain.validation_loss(tiny, windows)
    assert nats / math.log(2) <= 2.0
    with open(os.path.join(TINY_DIR, "provenance.json")) as f:
        provenance = json.load(f)
    assert abs(provenance["validation_loss_nats"] - nats) < 1e-3  # the recorded number is this sample's


def test_tiny_retrieves_the_passkey_at_base_length(tiny):
    accuracy = pretrain.passkey_accuracy(tiny, common.load_tokenizer("tiny"), BASE_LEN, count=20, seed=1234)
    assert accuracy >= 0.9


@pytest.fixture
def keep_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_pretrain_resume_equals_uninterrupted(tmp_path, keep_threads):
    data = tmp_path / "data"
    data.mkdir()
    for file in common.stdlib_files("train")[:5]:
        shutil.copy(file, data)

    def pretrain(out, *extra, seed=3):
        # one thread: a tiny model on a CPU shared with other jobs runs many times slower on two
        train.main(["pretrain", "--out", str(tmp_path / out), "--shape", "micro", "--steps", "6", "--batch", "4",
                    "--warmup", "2", "--save-every", "2", "--seed", str(seed), "--data", str(data),
                    "--val-data", str(data), "--val-windows", "8", "--passkey-fraction", "0.5", "--threads", "1",
                    *extra])

    pretrain("straight")
    pretrain("resumed", "--stop-after", "3")
    halfway = torch.load(tmp_path / "resumed" / "pretrain_state.pt", weights_only=False)
    assert halfway["step"] == 3 and not (tmp_path / "resumed" / "model.safetensors").exists()
    with pytest.raises(ValueError, match="--seed"):
        pretrain("resumed", "--resume", seed=4)
    pretrain("resumed", "--resume")

    straight = load_file(tmp_path / "straight" / "model.safetensors")
    resumed = load_file(tmp_path / "resumed" / "model.safetensors")
    assert straight.keys() == resumed.keys()
    for key in straight:
        assert torch.equal(straight[key], resumed[key]), key
    moved = straight["model.layers.0.self_attn.q_proj.weight"]
    assert not torch.equal(moved, halfway["model"]["layers.0.self_attn.q_proj.weight"])  # the last 3 steps did train
    with open(tmp_path / "resumed" / "provenance.json") as f:
        provenance = json.load(f)
    assert provenance["resumed_at_steps"] == [3] and "--resume" not in provenance["command"]
