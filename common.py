"""Helpers the scripts share: lengths like `256k`, clean command-line errors, atomic saves, tokenizers, the
evaluation corpora (documents of at least a given length, as the paper samples PG19 / Proof-pile books), and the
passkey-retrieval prompt of YaRN and LongRoPE (Section 4.2).
"""

import gzip
import io
import json
import math
import os
import random
import re
import shlex
import sys
import sysconfig
import tarfile
import zlib

import numpy as np
import torch

# ----------------------------------------------------------------------------------------------------------------
# Command lines


def parse_length(text, base=None):
    """'4096' | '4k' (x1024) | '2m' (x1024^2) | '8x' (times `base`, the original length) -> tokens."""
    shown = repr(str(text))  # quoted, with any control character escaped: the message stays one line
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMxX]?)\s*", str(text), flags=re.ASCII)
    if not match:
        raise ValueError(f"length {shown} is not a number with an optional k, m or x suffix (e.g. 4096, 4k, 2m, 8x)")
    number, suffix = float(match.group(1)), match.group(2).lower()
    if suffix == "x":
        if base is None:
            raise ValueError(f"length {shown} is relative (x) but no original length is known here")
        number *= base
    else:
        number *= {"": 1, "k": 1024, "m": 1024 * 1024}[suffix]
    if not (math.isfinite(number) and number >= 2 and number == int(number)):
        raise ValueError(f"length {shown} must be a whole number of at least 2 tokens")
    return int(number)


def parse_lengths(text, base=None):
    return [parse_length(t, base) for t in str(text).split(",") if t.strip()]


def format_length(n):
    for unit, size in (("m", 1024 * 1024), ("k", 1024)):
        if n >= size and n % size == 0:
            return f"{n // size}{unit}"
    return str(n)


def original_length(model, requested=None):
    """L, the length every factor is relative to: `requested` (--original-length) if given, else the model's own
    (its rope dict's original_max_position_embeddings, else max_position_embeddings). Mistral's sliding window,
    when shorter than that (Mistral-7B: 4096 of 32768), bounds every distance attention has seen, so the window is L
    then, as in the official LongRoPE code; a warning says which value was used."""
    if requested:
        return parse_length(requested)
    length, window = model.rope.original_max_len, model.config.sliding_window
    if model.config.model_type == "mistral" and window and window < length:
        print(f"warning: the model's sliding window ({window}) is shorter than its max_position_embeddings "
              f"({length}); using {window} as the original length (set --original-length to choose)", file=sys.stderr)
        return window
    return length


def parse_window(text, target=None):
    """--sliding-window: 'model' (the checkpoint's own, None here), 'none' (no window: full causal attention),
    'target' (widened to the target length) or a number of tokens -> the window to set, or 'model'."""
    text = str(text).strip().lower()
    if text in ("model", "none"):
        return None if text == "none" else "model"
    window = target if text == "target" else parse_length(text)
    if window is None:
        raise ValueError("--sliding-window target needs a target length")
    if target is not None and window > target:
        raise ValueError(f"--sliding-window {text} ({window} tokens) is larger than the target length {target}; "
                         f"use --sliding-window none to drop the window")
    return window


def apply_window(model, window):
    """Widens, narrows or drops (None) the model's sliding window; 'model' leaves it. Only models that have one."""
    if window != "model" and model.config.sliding_window:
        model.set_sliding_window(window)
    return model


def reproducing_command(argv, script="train.py"):
    """The command line without --resume, --report and --stop-after N: they do not change the result."""
    kept, skip = [], False
    for a in argv:
        if not skip and a not in ("--resume", "--report") and not a.startswith("--stop-after"):
            kept.append(a)
        skip = a == "--stop-after"
    return f"python {script} " + " ".join(shlex.quote(a) for a in kept)


def run_cli(main):
    """Runs `main()`; a bad argument or input ends with one sentence on stderr and exit code 2, no traceback."""
    try:
        main()
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)


def save_json(path, obj):
    """Write then rename: a crash never leaves half a file."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(f"{path}.tmp", "w") as f:
        json.dump(obj, f, indent=1)
    os.replace(f"{path}.tmp", path)
    return path


def save_state(obj, path):
    """torch.save, atomically: for resumable jobs."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    torch.save(obj, f"{path}.tmp")
    os.replace(f"{path}.tmp", path)
    return path


def save_csv(path, rows):
    if not rows:
        return path
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with open(f"{path}.tmp", "w") as f:
        f.write(",".join(columns) + "\n")
        for row in rows:
            f.write(",".join("" if row.get(c) is None else str(row[c]) for c in columns) + "\n")
    os.replace(f"{path}.tmp", path)
    return path


# ----------------------------------------------------------------------------------------------------------------
# Tokenizers


class Tokenizer:
    """One interface over a tokenizer.json (tokenizers), a tokenizer.model (sentencepiece) or raw bytes."""

    def __init__(self, encode, decode, bos_id, eos_id, byte_level=False):
        self._encode, self._decode = encode, decode
        self.bos_id, self.eos_id, self.byte_level = bos_id, eos_id, byte_level

    def encode(self, text, bos=False):
        ids = self._encode(text)
        return ([self.bos_id] if bos and self.bos_id is not None else []) + ids

    def decode(self, ids):
        return self._decode([int(i) for i in ids])


def load_tokenizer(model_dir):
    """The tokenizer saved with a model: tokenizer.json, else tokenizer.model (here or in the parent folder)."""
    from model import resolve_model_dir
    model_dir = resolve_model_dir(model_dir)
    config = {}
    if os.path.exists(os.path.join(model_dir, "config.json")):
        with open(os.path.join(model_dir, "config.json")) as f:
            config = json.load(f)
    bos, eos = config.get("bos_token_id"), config.get("eos_token_id")
    if isinstance(eos, list):  # Llama 3.x Instruct lists its end tokens; the first, <|end_of_text|>, ends a document
        eos = eos[0] if eos else None
    path = os.path.join(model_dir, "tokenizer.json")
    if os.path.exists(path):
        from tokenizers import Tokenizer as HFTokenizer
        tok = HFTokenizer.from_file(path)
        probe = "Ab\u00e9\n"
        if tok.encode(probe, add_special_tokens=False).ids == list(probe.encode("utf-8")):
            return byte_tokenizer(bos, eos)  # token i is byte i: read files as raw bytes, much faster
        return Tokenizer(lambda t: tok.encode(t, add_special_tokens=False).ids,
                         lambda ids: tok.decode(ids, skip_special_tokens=False), bos, eos)
    for folder in (model_dir, os.path.dirname(os.path.abspath(model_dir))):
        path = os.path.join(folder, "tokenizer.model")
        if os.path.exists(path):
            import sentencepiece as spm
            sp = spm.SentencePieceProcessor(model_file=path)
            return Tokenizer(lambda t: sp.encode(t), lambda ids: sp.decode(ids),
                             sp.bos_id() if bos is None else bos, sp.eos_id() if eos is None else eos)
    raise ValueError(f"{model_dir} has no tokenizer.json or tokenizer.model")


def byte_tokenizer(bos_id=256, eos_id=257):
    """Token i < 256 is byte i; specials follow. Text is UTF-8 encoded, so every string round-trips."""
    return Tokenizer(lambda t: list(t.encode("utf-8")),
                     lambda ids: bytes(i for i in ids if i < 256).decode("utf-8", errors="replace"),
                     bos_id, eos_id, byte_level=True)


# ----------------------------------------------------------------------------------------------------------------
# Corpora: documents as 1-D int64 tensors


# CPython 3.11's validation files, shipped as one archive (data, not code): the held-out documents (and every result
# measured on them) are the same whatever Python runs. Other versions differ (3.12's test_ast.py is 23 kB longer),
# and Debian's and Docker's Pythons ship no test/ folder, which holds most of the long documents the 64k evaluations
# need. `write_validation_archive()` rebuilds it byte for byte under CPython 3.11.7; the PSF license is beside it.
VALIDATION_ARCHIVE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "stdlib-validation.tar.gz")


def _python_files(root):
    """(path relative to root, path) of every .py file below root, in a fixed order."""
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in ("site-packages", "__pycache__", "idlelib", "lib2to3"))
        for name in sorted(names):
            if name.endswith(".py"):
                yield os.path.relpath(os.path.join(folder, name), root), os.path.join(folder, name)


def _is_validation(relative_path):
    return zlib.crc32(relative_path.encode()) % 20 == 0  # 1 file in 20, by path


def stdlib_files(split):
    """The running Python's standard-library sources: `train` (19 files in 20, split by path) or `all`. The
    validation split is the shipped archive's (validation_files)."""
    if split == "validation":
        raise ValueError("the validation split is read from the shipped archive: use validation_files()")
    return [path for rel, path in _python_files(sysconfig.get_paths()["stdlib"])
            if split == "all" or not _is_validation(rel)]


def validation_files():
    """[(path, bytes)] of CPython 3.11's validation split, in path order (the archive keeps the order it was read)."""
    with tarfile.open(VALIDATION_ARCHIVE) as tar:
        return [(member.name, tar.extractfile(member).read()) for member in tar.getmembers() if member.isfile()]


def write_validation_archive(path=VALIDATION_ARCHIVE):
    """The running Python's validation split as a gzipped tar with fixed times and owners, so the same Python gives
    the same bytes: `python -c "import common; common.write_validation_archive()"` under CPython 3.11."""
    with open(f"{path}.tmp", "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel, file in _python_files(sysconfig.get_paths()["stdlib"]):
            if _is_validation(rel):
                with open(file, "rb") as f:
                    data = f.read()
                info = tarfile.TarInfo(rel)
                info.size, info.mode, info.mtime = len(data), 0o644, 0
                tar.addfile(info, io.BytesIO(data))
    os.replace(f"{path}.tmp", path)
    return path


def _text_files(path):
    if os.path.isfile(path):
        return [path]
    return sorted(os.path.join(folder, name) for folder, _, names in os.walk(path) for name in names)


def _encode_file(file, tokenizer):
    with open(file, "rb") as f:
        return _encode_bytes(f.read(), tokenizer)


def _encode_bytes(raw, tokenizer):
    ids = list(raw) if tokenizer.byte_level else tokenizer.encode(raw.decode("utf-8", errors="replace"))
    return torch.tensor(([tokenizer.bos_id] if tokenizer.bos_id is not None else []) + ids, dtype=torch.long)


def _split_stream(tokens, tokenizer):
    """A pre-tokenized stream (nanoGPT .bin or .npy) split into documents at its separator tokens."""
    tokens = torch.from_numpy(np.asarray(tokens).astype(np.int64))
    sep = tokenizer.eos_id if tokenizer.eos_id is not None else tokenizer.bos_id
    if sep is None:
        return [tokens]
    cuts = (tokens == sep).nonzero().flatten().tolist()
    docs, start = [], 0
    for cut in cuts + [len(tokens)]:
        end = cut + 1 if tokenizer.eos_id is not None else cut  # eos closes a document; bos opens the next
        if end - start > 1:
            docs.append(tokens[start:end])
        start = end
    return docs


def load_documents(data, tokenizer, split="validation", vocab_size=None):
    """Documents from `data`: None (the standard library corpus), a text file or folder, or a token file
    (`.bin` as nanoGPT writes it: uint16, or uint32 when the vocabulary needs it; `.npy`)."""
    if data is None:
        if split == "validation":
            return [_encode_bytes(raw, tokenizer) for _, raw in validation_files()]
        return [_encode_file(f, tokenizer) for f in stdlib_files(split)]
    if not os.path.exists(data):
        raise ValueError(f"data path {data} does not exist")
    if data.endswith(".bin"):
        dtype = np.uint32 if (vocab_size or 0) > 65536 else np.uint16
        return _split_stream(np.memmap(data, dtype=dtype, mode="r"), tokenizer)
    if data.endswith(".npy"):
        return _split_stream(np.load(data, mmap_mode="r"), tokenizer)
    docs = [_encode_file(f, tokenizer) for f in _text_files(data)]
    if not docs:
        raise ValueError(f"data folder {data} holds no files")
    return docs


def pack_documents(docs, eos_id):
    """The documents end to end (each already opens with <s>), each closed by </s> when the tokenizer has one: the
    stream training windows are cut from."""
    if eos_id is None:
        return torch.cat(docs)
    eos = torch.tensor([eos_id])
    return torch.cat([t for doc in docs for t in (doc, eos)])


def sample_documents(docs, length, count, seed=0, what="the data", join=False):
    """`count` documents of at least `length` tokens, each cut to its first `length` (seeded choice).

    `join`: where fewer than `count` documents are that long, long documents are made from the short ones
    (`joined_documents`) and sampled instead, as long-context evaluations join books or a repository's files."""
    long_enough = [d for d in docs if len(d) >= length]
    if len(long_enough) < count and join:
        long_enough = joined_documents(docs, length)
    if len(long_enough) < count:
        longest = sum(len(d) for d in docs) if join else max((len(d) for d in docs), default=0)
        made = "joined documents" if join else "documents"
        raise ValueError(f"{what} has {len(long_enough)} {made} of at least {length} tokens but {count} are "
                         f"needed (longest: {longest} tokens{' with all of them joined' if join else ''}); use shorter lengths, "
                         f"fewer samples or longer documents")
    order = list(range(len(long_enough)))
    random.Random(seed).shuffle(order)
    return [long_enough[i][:length] for i in sorted(order[:count])]


def joined_documents(docs, length):
    """The documents end to end in their order (path order for a folder, as a repository is read), cut into
    consecutive pieces of `length` tokens; the last, shorter piece is dropped. Each piece is a long document made
    only of the documents it joins, so a split of the documents is a split of the pieces too."""
    stream = torch.cat(list(docs)) if docs else torch.zeros(0, dtype=torch.long)
    return [stream[i:i + length] for i in range(0, len(stream) - length + 1, length)]


SEARCH_SHARE = 1 / 3  # of the validation tokens: the searches' documents; the rest is held out for evaluation


def split_documents(docs, share=SEARCH_SHARE):
    """(search documents, evaluation documents): the whole documents, in order, up to `share` of the tokens, and
    the rest. Searches score candidates on the first part only, so every number measured on the second (joined
    into long documents or not) is on text no search and no training step has seen."""
    total, running = sum(len(d) for d in docs), 0
    for i, d in enumerate(docs):
        if running >= share * total:
            return list(docs[:i]), list(docs[i:])
        running += len(d)
    return list(docs), []


# ----------------------------------------------------------------------------------------------------------------
# Passkey retrieval (YaRN's prompt, used by LongRoPE Section 4.2)

PASSKEY_TASK = ("There is an important info hidden inside a lot of irrelevant text. Find it and memorize them. "
                "I will quiz you about the important information there.")
PASSKEY_FILLER = (" The grass is green.", " The sky is blue.", " The sun is yellow.", " Here we go.", " There and back again.")
PASSKEY_QUESTION = "What is the pass key? The pass key is"


def passkey_needle(key):
    return f"The pass key is {key}. Remember it. {key} is the pass key."


def passkey_prompt(tokenizer, length, depth, key, with_task=True):
    """Token ids of exactly `length` tokens: [task] filler... needle filler... question.

    The needle is put on the filler sentence boundary nearest to `depth` (0 = start, 1 = end) of the filler.
    Returns (ids, needle_start) so a caller can check where it landed.
    """
    head = tokenizer.encode(PASSKEY_TASK if with_task else "", bos=True)
    needle = tokenizer.encode(" " + passkey_needle(key))
    question = tokenizer.encode(" " + PASSKEY_QUESTION)
    budget = length - len(head) - len(needle) - len(question)
    if budget < 0:
        raise ValueError(f"a passkey prompt needs more than {length} tokens (at least {length - budget})")
    sentence_ids = [tokenizer.encode(s) for s in PASSKEY_FILLER]
    filler, boundaries = [], [0]
    while len(filler) < budget + 64:
        for ids in sentence_ids:
            filler += ids
            boundaries.append(len(filler))
    cut = min((b for b in boundaries if b <= budget), key=lambda b: abs(b - depth * budget))
    ids = head + filler[:cut] + needle + filler[cut:budget] + question
    return ids, len(head) + cut


def passkey_example(tokenizer, rng, max_len, with_task=False):
    """A training example: a passkey prompt of random key, depth and length followed by the answer and </s>, at
    most max_len + 1 tokens (`rng`: a numpy Generator). Pretraining mixes these in at the base length, fine-tuning
    at its own lengths, so the model learns retrieval from them. None when max_len cannot hold one."""
    key = int(rng.integers(10000, 100000))
    answer = tokenizer.encode(f" {key}.") + ([tokenizer.eos_id] if tokenizer.eos_id is not None else [])
    head = tokenizer.encode(PASSKEY_TASK if with_task else "", bos=True)
    shortest = len(head) + len(tokenizer.encode(" " + passkey_needle(key))) + len(tokenizer.encode(" " + PASSKEY_QUESTION))
    if shortest > max_len + 1 - len(answer):
        return None  # no passkey prompt fits
    length = int(rng.integers(shortest, max_len + 1 - len(answer) + 1))
    prompt, _ = passkey_prompt(tokenizer, length, float(rng.random()), key, with_task=with_task)
    return prompt + answer


def passkey_answer(text):
    """The digits the model generated first, or '' if it generated none."""
    match = re.match(r"\s*(\d+)", text)
    return match.group(1) if match else ""
