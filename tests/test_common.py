"""common.py: length arguments, the passkey prompt (exact length, needle depth) with a byte tokenizer and a real BPE
tokenizer, document sampling and token-file corpora."""

import json
import os

import numpy as np
import pytest
import torch

from common import (PASSKEY_FILLER, PASSKEY_QUESTION, PASSKEY_TASK, byte_tokenizer, format_length, load_documents,
                    load_tokenizer, parse_length, parse_lengths, passkey_answer, passkey_needle, passkey_prompt,
                    sample_documents)


@pytest.mark.parametrize("text,base,expected", [
    ("4096", None, 4096), ("4k", None, 4096), (" 256K ", None, 262144), ("2m", None, 2 * 1024 * 1024),
    ("1.5k", None, 1536), ("8x", 4096, 32768), ("2.5x", 4096, 10240), (2048, None, 2048)])
def test_parse_length(text, base, expected):
    assert parse_length(text, base) == expected


@pytest.mark.parametrize("text,base,message", [
    ("4q", None, "length '4q' is not a number with an optional k, m or x suffix"),
    ("k", None, "length 'k' is not a number"),
    ("-4k", None, "length '-4k' is not a number"),
    ("8x", None, "length '8x' is relative (x) but no original length is known here"),
    ("1", None, "length '1' must be a whole number of at least 2 tokens"),
    ("0.3k", None, "must be a whole number"),
])
def test_parse_length_rejects_with_a_sentence(text, base, message):
    with pytest.raises(ValueError) as error:
        parse_length(text, base)
    assert message in str(error.value)


def test_parse_and_format_lengths():
    assert parse_lengths("4k, 8k,2x", base=1024) == [4096, 8192, 2048]
    assert [format_length(n) for n in (4096, 2 * 1024 * 1024, 1000, 1536)] == ["4k", "2m", "1000", "1536"]
    for n in (4096, 262144, 2097152, 1000):
        assert parse_length(format_length(n)) == n


# ----------------------------------------------------------------------------------------------------------------
# Passkey prompt


def bpe_tokenizer(tmp_path):
    """A real byte-level BPE tokenizer trained here on the prompt's own sentences, loaded through load_tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    corpus = [PASSKEY_TASK, PASSKEY_QUESTION, *PASSKEY_FILLER, passkey_needle(31415), "0123456789"] * 20
    tok.train_from_iterator(corpus, trainer)
    tok.save(str(tmp_path / "tokenizer.json"))
    (tmp_path / "config.json").write_text(json.dumps({"bos_token_id": 0, "eos_token_id": 1}))
    return load_tokenizer(str(tmp_path))


def find(sequence, part):
    hits = [i for i in range(len(sequence) - len(part) + 1) if sequence[i:i + len(part)] == part]
    assert len(hits) == 1, f"found {len(hits)} times"
    return hits[0]


@pytest.mark.parametrize("kind", ["bytes", "bpe"])
@pytest.mark.parametrize("length", [300, 1000, 1537])
@pytest.mark.parametrize("depth", [0.0, 0.3, 0.5, 1.0])
def test_passkey_prompt_length_and_depth(tmp_path, kind, length, depth):
    tokenizer = byte_tokenizer() if kind == "bytes" else bpe_tokenizer(tmp_path)
    assert tokenizer.byte_level == (kind == "bytes")
    key = 68271
    ids, needle_start = passkey_prompt(tokenizer, length, depth, key)
    assert len(ids) == length
    head = tokenizer.encode(PASSKEY_TASK, bos=True)
    needle = tokenizer.encode(" " + passkey_needle(key))
    question = tokenizer.encode(" " + PASSKEY_QUESTION)
    assert ids[:len(head)] == head and ids[-len(question):] == question and ids[0] == tokenizer.bos_id
    assert find(ids, needle) == needle_start
    # the needle sits at the requested depth of the filler, give or take one filler sentence
    filler_length = length - len(head) - len(needle) - len(question)
    sentence = max(len(tokenizer.encode(s)) for s in PASSKEY_FILLER)
    assert abs((needle_start - len(head)) - depth * filler_length) <= sentence
    # and on a sentence boundary: everything around it is whole filler sentences
    text = tokenizer.decode(ids[len(head):needle_start])
    for s in PASSKEY_FILLER:
        text = text.replace(s, "")
    assert text == ""
    assert tokenizer.decode(ids).count(str(key)) == 2  # only the needle's two mentions


def test_passkey_prompt_too_short():
    with pytest.raises(ValueError, match="needs more than 40 tokens"):
        passkey_prompt(byte_tokenizer(), 40, 0.5, 12345)


@pytest.mark.parametrize("text,expected", [
    (" 68271. Remember it.", "68271"), ("68271", "68271"), ("\n 42 is the key", "42"), (" is 12345", ""),
    ("", ""), (" seven", "")])
def test_passkey_answer(text, expected):
    assert passkey_answer(text) == expected


# ----------------------------------------------------------------------------------------------------------------
# Documents


def test_sample_documents():
    docs = [torch.arange(n) + 1000 * n for n in (5, 50, 120, 200, 300)]
    chosen = sample_documents(docs, 100, 2, seed=3)
    assert len(chosen) == 2 and all(len(d) == 100 for d in chosen)
    starts = sorted(int(d[0]) // 1000 for d in chosen)
    assert set(starts) <= {120, 200, 300} and len(set(starts)) == 2
    for d in chosen:
        torch.testing.assert_close(d, torch.arange(100) + d[0])  # each cut to its first 100 tokens
    assert all(torch.equal(a, b) for a, b in zip(chosen, sample_documents(docs, 100, 2, seed=3)))
    picks = {tuple(int(d[0]) for d in sample_documents(docs, 100, 1, seed=s)) for s in range(20)}
    assert len(picks) == 3  # every long-enough document can be drawn
    with pytest.raises(ValueError) as error:
        sample_documents(docs, 100, 4, what="validation split")
    assert "validation split has 3 documents of at least 100 tokens but 4 are needed (longest: 300 tokens)" in str(
        error.value)


def test_load_documents_from_token_files(tmp_path):
    tokenizer = byte_tokenizer()  # bos 256, eos 257
    stream = [256, 5, 6, 257, 256, 7, 8, 9, 257, 257, 256, 10, 257, 11, 12]
    expected = [[256, 5, 6, 257], [256, 7, 8, 9, 257], [256, 10, 257], [11, 12]]
    np.array(stream, dtype=np.uint16).tofile(tmp_path / "val.bin")
    np.save(tmp_path / "val.npy", np.array(stream, dtype=np.int32))
    for file in ("val.bin", "val.npy"):
        docs = load_documents(str(tmp_path / file), tokenizer)
        assert [d.tolist() for d in docs] == expected
        assert all(d.dtype == torch.int64 for d in docs)
    big = [70000, 5, 257, 70001, 6, 7, 257]
    np.array(big, dtype=np.uint32).tofile(tmp_path / "big.bin")
    docs = load_documents(str(tmp_path / "big.bin"), tokenizer, vocab_size=100000)
    assert [d.tolist() for d in docs] == [[70000, 5, 257], [70001, 6, 7, 257]]


def test_load_documents_split_at_bos_without_eos(tmp_path):
    np.array([256, 5, 6, 256, 7, 8, 9], dtype=np.uint16).tofile(tmp_path / "val.bin")
    docs = load_documents(str(tmp_path / "val.bin"), byte_tokenizer(bos_id=256, eos_id=None))
    assert [d.tolist() for d in docs] == [[256, 5, 6], [256, 7, 8, 9]]


def test_load_documents_from_text(tmp_path):
    (tmp_path / "a.txt").write_text("héllo")
    (tmp_path / "b.txt").write_text("xy")
    docs = load_documents(str(tmp_path), byte_tokenizer())
    assert [d.tolist() for d in docs] == [[256, *"héllo".encode()], [256, 120, 121]]
    with pytest.raises(ValueError, match="does not exist"):
        load_documents(str(tmp_path / "missing.bin"), byte_tokenizer())


def test_the_shipped_validation_archive_is_the_stdlib_split_in_path_order(tmp_path):
    """84 files whose path hashes into the validation split, in the order os.walk reads a repository; under the
    CPython the archive was made from (3.11.7, with its test/ folder), rebuilding it gives the same bytes."""
    import hashlib
    import sys
    import sysconfig
    import zlib

    import common
    files = common.validation_files()
    names = [name for name, _ in files]
    assert len(files) == 84 and all(zlib.crc32(n.encode()) % 20 == 0 for n in names)
    assert names[:2] == ["copy.py", "doctest.py"] and names[-1] == "xml/sax/_exceptions.py"  # root files first
    stdlib = sysconfig.get_paths()["stdlib"]
    if sys.version_info[:3] != (3, 11, 7) or not os.path.isdir(os.path.join(stdlib, "test")):
        pytest.skip("the archive is rebuilt byte for byte only under CPython 3.11.7 with its test/ folder")
    rebuilt = common.write_validation_archive(str(tmp_path / "again.tar.gz"))
    digest = [hashlib.sha256(open(p, "rb").read()).hexdigest() for p in (rebuilt, common.VALIDATION_ARCHIVE)]
    assert digest[0] == digest[1]


from hypothesis import example, given, settings, strategies as st  # noqa: E402


@settings(max_examples=200, deadline=None)
@example(text="9" * 400 + "k", base=None)  # beyond float range: inf tokens
@example(text="3x\x85", base=4)  # a line break Python's \s matches
@given(text=st.one_of(st.text(max_size=12), st.from_regex(r"\s*\d{1,40}(\.\d{1,40})?\s*[kKmMxX]?\s*", fullmatch=True),
                      st.integers(-10, 10**6), st.floats(allow_nan=True)),
       base=st.one_of(st.none(), st.integers(-4, 10**6)))
def test_any_length_string_is_a_length_or_one_sentence(text, base):
    try:
        n = parse_length(text, base)
    except ValueError as e:
        message = str(e)
        assert len(message.splitlines()) == 1 and message.startswith(f"length {str(text)!r}"), message
        return
    assert isinstance(n, int) and n >= 2
