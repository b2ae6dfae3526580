"""Passkey retrieval on the tiny model: a test at length N runs within N positions (so 1x uses LongRoPE's short
factors), and the teacher-forced verdict is generation's, prompt by prompt, on keys the model gets right and wrong."""

import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import eval as ev  # noqa: E402
from common import load_tokenizer, passkey_prompt  # noqa: E402
from longrope import RopeScaling, load_factors, parse_rope  # noqa: E402
from model import load_model  # noqa: E402

DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs")
BASE_LEN = 128


@pytest.fixture(scope="module")
def loaded():
    model = load_model("tiny", device="cpu", dtype=torch.float32)
    return model, load_tokenizer("tiny"), model.rope


@pytest.fixture
def tiny(loaded):
    """The tiny model with its own rope (the tests set others) and its tokenizer."""
    model, tokenizer, own = loaded
    model.set_rope(own)
    return model, tokenizer


def longrope_with_long_factors(value):
    """Identity short factors and no attention scale: at 1x exactly the model's own positions, whatever `value`."""
    half = 32
    return RopeScaling("longrope", 8.0, BASE_LEN, long_factor=(value,) * half, short_factor=(1.0,) * half,
                       attention_factor=1.0)


def test_one_x_runs_on_the_short_factors(tiny):
    model, tokenizer = tiny
    own_rope = model.rope
    own = ev.passkey_results(model, tokenizer, own_rope, BASE_LEN, 0.5, 8, 0, False, "generate")
    absurd = ev.passkey_results(model, tokenizer, longrope_with_long_factors(1e4), BASE_LEN, 0.5, 8, 0, False,
                                "generate")
    assert absurd == own
    assert sum(c for _, _, c in own) >= 7  # the tiny model retrieves at its base length
    # one position more and the long factors are in force: they are absurd indeed
    tokens = torch.tensor([passkey_prompt(tokenizer, BASE_LEN + 1, 0.5, "12345", False)[0]])
    with torch.inference_mode():
        model.set_rope(own_rope)
        own_loss = float(model.loss(tokens))
        model.set_rope(longrope_with_long_factors(1e4))
        assert float(model.loss(tokens)) > own_loss + 1


class Spy(torch.nn.Module):
    """Generates nothing useful; records the prompt length and the number of tokens asked for."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.calls = []

    def set_rope(self, rope):
        pass

    def generate(self, prompts, max_new):
        self.calls.append((prompts.shape[1], max_new))
        return torch.zeros(prompts.shape[0], max_new, dtype=torch.long)


@pytest.mark.parametrize("length", [128, 1000])
def test_prompt_and_answer_fit_the_length(tiny, length):
    _, tokenizer = tiny
    spy = Spy()
    ev.passkey_results(spy, tokenizer, None, length, 0.5, 3, 0, False, "generate")
    (prompt, budget), = spy.calls
    assert prompt + budget == length and budget == len(tokenizer.encode(" 12345")) + 1


def test_teacher_forced_agrees_with_generation(tiny):
    model, tokenizer = tiny
    searched = load_factors(os.path.join(DOCS, "tiny_8x_factors.json"), model.config.head_dim)
    cases = [(model.rope, 128, 0.0), (parse_rope("yarn", 64, BASE_LEN, 256), 256, 0.5),
             (searched, 512, 0.0), (searched, 512, 0.75), (searched, 1024, 0.25)]
    verdicts = []
    for rope, length, depth in cases:
        generated = ev.passkey_results(model, tokenizer, rope, length, depth, 6, 0, False, "generate")
        forced = ev.passkey_results(model, tokenizer, rope, length, depth, 6, 0, False, "teacher-forced")
        for (key, answer, correct), (key_f, answer_f, correct_f) in zip(generated, forced):
            assert (key, correct) == (key_f, correct_f), (rope.label, length, depth)
            assert answer.startswith(answer_f)  # the same tokens up to the first wrong one
            verdicts.append(correct)
    assert len(verdicts) == 30 and 5 <= sum(verdicts) <= 25  # both kinds of prompts were compared


def test_teacher_forced_reads_only_the_answer_positions(tiny):
    model, tokenizer = tiny
    rows = []
    hook = model.lm_head.register_forward_hook(lambda module, args, out: rows.append(args[0].shape[:-1].numel()))
    try:
        ev.passkey_results(model, tokenizer, model.rope, 512, 0.5, 2, 0, False, "teacher-forced")
    finally:
        hook.remove()
    assert rows == [len(tokenizer.encode(" 12345")) + 1] * 2


def test_a_too_short_length_is_one_sentence(tiny):
    model, tokenizer = tiny
    with pytest.raises(ValueError, match="a passkey test of 60 tokens leaves 7 for the answer"):
        ev.passkey_results(model, tokenizer, model.rope, 60, 0.5, 2, 0, False, "generate")


@pytest.mark.parametrize("method", ["generate", "teacher-forced"])
def test_the_rescaling_is_chosen_for_the_length(tiny, monkeypatch, method):
    model, tokenizer = tiny
    lengths = []
    tables = model.rope_tables
    monkeypatch.setattr(model, "rope_tables", lambda seq_len, device: lengths.append(seq_len) or tables(seq_len, device))
    ev.passkey_results(model, tokenizer, parse_rope("dynamic-ntk", 64, BASE_LEN, 300), 300, 0.5, 2, 0, False, method)
    assert set(lengths) == {300}


def test_digits_must_end_with_the_key(tiny):
    _, tokenizer = tiny
    answer = tokenizer.encode(" 12345")
    assert ev.passkey_correct(tokenizer.encode(" 12345."), answer, tokenizer)
    assert ev.passkey_correct(tokenizer.encode(" 12345 "), answer, tokenizer)
    assert not ev.passkey_correct(tokenizer.encode(" 123456"), answer, tokenizer)
    assert not ev.passkey_correct(tokenizer.encode(" 12346."), answer, tokenizer)
