"""From a corpus to what train.py, search.py and eval.py read: token files made with the model's own tokenizer.

LongRoPE (Ding et al. 2024, arXiv 2402.13753, Section 4.1) fine-tunes Llama-2 on RedPajama cut into 128k-token
segments, searches on PG19 validation books (Books3 beyond 512k) and evaluates on Proof-pile, PG19 and Books3; the
official code tokenizes a dataset and keeps the documents of at least `--dataset-min-tokens`. This does the same:

    python prepare.py --model path/to/Llama-2-7b-hf --train books/ --val pg19/validation.jsonl \\
        --min-tokens 128k --out data/pg19

writes `data/pg19/train.bin` (every training document), `data/pg19/val.bin` (the validation documents of at least
--min-tokens) and `data/pg19/meta.json` (counts, lengths, the command). Each document is written as
<s> tokens </s>, uint16 when the vocabulary fits, uint32 otherwise (nanoGPT's format, which common.load_documents
splits back into documents). Then `python train.py --model DIR --data data/pg19/train.bin --val-data
data/pg19/val.bin ...`.

Sources, each one or more of: a folder (its .txt files, one document each, in path order), a .txt file, a .jsonl
or .json file (one document per object, its --text-field), a .parquet file (the --text-field column, through
pyarrow), or, where the machine is online, a Hugging Face dataset name (through the `datasets` library, --split).
Tokenization runs in --workers processes with a progress bar. Files are written then renamed: a run that fails
leaves what an earlier run wrote untouched.
"""

import argparse
import glob
import json
import os
import sys
from multiprocessing import Pool

import numpy as np
import torch
from tqdm import tqdm

import common

# ----------------------------------------------------------------------------------------------------------------
# Reading documents


def _json_text(record, field, where):
    if isinstance(record, str):
        return record
    if not isinstance(record, dict) or field not in record:
        fields = ", ".join(sorted(record)) if isinstance(record, dict) else type(record).__name__
        raise ValueError(f"{where} has no '{field}' field (it has: {fields}); choose one with --text-field")
    if not isinstance(record[field], str):
        raise ValueError(f"{where}: field '{field}' holds {type(record[field]).__name__}, not text")
    return record[field]


def _read_jsonl(path, field):
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path} line {number} is not JSON ({e.msg})") from None
                yield _json_text(record, field, f"{path} line {number}")


def _read_json(path, field):
    try:
        with open(path, encoding="utf-8") as f:
            records = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not JSON ({e.msg})") from None
    if not isinstance(records, list):
        records = [records]
    for number, record in enumerate(records):
        yield _json_text(record, field, f"{path} item {number}")


def _read_parquet(path, field):
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ValueError(f"reading {path} needs pyarrow (pip install pyarrow)") from None
    try:
        table = pq.ParquetFile(path)
    except Exception as e:  # pyarrow raises its own error types for a damaged or foreign file
        raise ValueError(f"{path} is not a readable parquet file ({str(e).splitlines()[0]})") from None
    if field not in table.schema_arrow.names:
        raise ValueError(f"{path} has no '{field}' column (it has: {', '.join(table.schema_arrow.names)}); "
                         f"choose one with --text-field")
    for batch in table.iter_batches(columns=[field], batch_size=256):
        yield from (text for text in batch.column(0).to_pylist() if text)


def _read_hub(name, field, split):
    try:
        import datasets  # optional: only for a dataset name, on a machine that reaches the hub
    except ImportError:
        raise ValueError(f"'{name}' is neither a file nor a folder; reading it as a Hugging Face dataset needs "
                         f"the datasets library (pip install datasets)") from None
    for part in split.split(","):
        for number, record in enumerate(datasets.load_dataset(name, split=part, streaming=True)):
            yield _json_text(record, field, f"{name} {part} record {number}")


def read_documents(source, field="text", split="train"):
    """The texts of one source, in a fixed order (see the module docstring for the kinds of source)."""
    if os.path.isdir(source):
        paths = sorted(glob.glob(os.path.join(source, "**", "*.txt"), recursive=True))
        if not paths:
            raise ValueError(f"folder {source} holds no .txt files")
        for path in paths:
            with open(path, encoding="utf-8", errors="replace") as f:
                yield f.read()
        return
    if not os.path.exists(source):
        if source.endswith((".txt", ".json", ".jsonl", ".parquet")) or source.startswith((".", "/", "~")):
            raise ValueError(f"{source} does not exist")
        yield from _read_hub(source, field, split)  # not a path: a dataset name such as pg19
        return
    readers = {".jsonl": _read_jsonl, ".json": _read_json, ".parquet": _read_parquet}
    reader = readers.get(os.path.splitext(source)[1])
    if reader is not None:
        yield from reader(source, field)
    else:
        with open(source, encoding="utf-8", errors="replace") as f:
            yield f.read()


# ----------------------------------------------------------------------------------------------------------------
# Tokenizing in parallel


_worker_tokenizer = None


def _start_worker(model):
    global _worker_tokenizer
    _worker_tokenizer = common.load_tokenizer(model)


def _encode(text):
    return np.asarray(_worker_tokenizer.encode(text, bos=True), dtype=np.int64)


def token_dtype(vocab_size):
    """What common.load_documents reads a .bin as: uint16 up to 65536 tokens, uint32 beyond."""
    return np.uint32 if vocab_size > 65536 else np.uint16


def write_tokens(texts, model, path, vocab_size, workers, min_tokens=0, what="documents"):
    """Tokenizes `texts` into `path` (<s> tokens </s> per document, written then renamed); returns counts. Documents
    shorter than `min_tokens` are left out."""
    tokenizer = common.load_tokenizer(model)
    eos = [] if tokenizer.eos_id is None else [tokenizer.eos_id]
    dtype = token_dtype(vocab_size)
    kept = dropped = tokens = longest = 0
    with Pool(workers, initializer=_start_worker, initargs=(model,)) as pool, open(f"{path}.tmp", "wb") as f:
        try:
            for ids in tqdm(pool.imap(_encode, texts, chunksize=4), desc=f"tokenizing {what}", unit="doc"):
                ids = np.concatenate([ids, np.asarray(eos, dtype=np.int64)])
                if len(ids) and ids.max() >= vocab_size:
                    raise ValueError(f"the tokenizer gave token id {int(ids.max())}, outside the model's vocabulary "
                                     f"of {vocab_size}: the tokenizer does not belong to this model")
                longest = max(longest, len(ids))
                if len(ids) < min_tokens:
                    dropped += 1
                    continue
                ids.astype(dtype).tofile(f)
                kept, tokens = kept + 1, tokens + len(ids)
        except BaseException:
            f.close()
            os.remove(f"{path}.tmp")
            raise
    return {"documents": kept, "tokens": tokens, "dropped": dropped, "longest": longest, "min_tokens": min_tokens}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="tiny", help="model folder whose tokenizer and vocabulary to use")
    p.add_argument("--tokenizer", default=None, help="a folder with another tokenizer (default: the model's); it "
                                                     "must stay inside the model's vocabulary")
    p.add_argument("--train", nargs="*", default=[], help="training sources (written to train.bin)")
    p.add_argument("--val", nargs="*", default=[], help="validation sources (val.bin: documents of >= --min-tokens)")
    p.add_argument("--min-tokens", default="0", help="shortest validation document kept, e.g. 128k "
                                                     "(the official code's --dataset-min-tokens)")
    p.add_argument("--text-field", default="text", help="the text field of .jsonl/.json/.parquet/dataset records")
    p.add_argument("--train-split", default="train", help="split(s) of a Hugging Face dataset given to --train")
    p.add_argument("--val-split", default="validation", help="split(s) of a Hugging Face dataset given to --val, e.g. validation,test")
    p.add_argument("--workers", type=int, default=max(1, min(8, os.cpu_count() or 1)), help="tokenizing processes")
    p.add_argument("--out", required=True, help="folder for train.bin, val.bin and meta.json")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not args.train and not args.val:
        raise ValueError("nothing to prepare: give --train and/or --val sources")
    if args.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {args.workers}")
    from model import load_model
    vocab_size = load_model(args.model, device="cpu", dtype=torch.bfloat16).config.vocab_size  # mmap'd: no copy
    tokenizer_dir = args.tokenizer or args.model
    common.load_tokenizer(tokenizer_dir)  # a missing tokenizer fails here, before any work
    min_tokens = common.parse_length(args.min_tokens) if args.min_tokens not in ("0", "") else 0
    os.makedirs(args.out, exist_ok=True)
    meta = {"model": args.model, "tokenizer": tokenizer_dir, "vocab_size": vocab_size,
            "dtype": np.dtype(token_dtype(vocab_size)).name,
            "command": "python prepare.py " + " ".join(sys.argv[1:] if argv is None else argv)}
    written = []
    for name, sources, split, shortest in (("train", args.train, args.train_split, 0),
                                           ("val", args.val, args.val_split, min_tokens)):
        if not sources:
            continue
        texts = (text for source in sources for text in read_documents(source, args.text_field, split))
        path = os.path.join(args.out, f"{name}.bin")
        counts = write_tokens(texts, tokenizer_dir, path, vocab_size, args.workers, shortest, f"{name} documents")
        if counts["documents"] == 0:
            os.remove(f"{path}.tmp")
            for done in written:
                os.remove(f"{done}.tmp")
            raise ValueError(f"no {name} document has {shortest} tokens or more (longest: {counts['longest']} "
                             f"tokens); lower --min-tokens or add longer documents")
        meta[name] = counts | {"sources": sources}
        written.append(path)
    for path in written:  # only once every part succeeded
        os.replace(f"{path}.tmp", path)
    common.save_json(os.path.join(args.out, "meta.json"), meta)
    for path in written:
        name = os.path.splitext(os.path.basename(path))[0]
        print(f"wrote {path}: {meta[name]['documents']} documents, {meta[name]['tokens']:,} tokens"
              + (f" ({meta[name]['dropped']} shorter than {min_tokens} left out)" if name == "val" else ""))


if __name__ == "__main__":
    common.run_cli(main)
