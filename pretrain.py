"""Pretraining the built-in tiny model: a byte-level Llama of about 3M parameters (model.py's Transformer) trained
from scratch at a 128-token context on the running Python's standard library (or any text folder, `--data`).

    python train.py pretrain --out tiny          (the same as: python pretrain.py --out tiny)

It is the whole LongRoPE paper (Ding et al. 2024, arXiv 2402.13753) in miniature on a laptop CPU: like a real LLM it
degrades past its pretraining length, and the extension methods (PI, NTK, YaRN, LongRoPE; Sections 2 and 4)
separate as they do on Llama-2. Two in five of its training sequences end in a passkey-retrieval prompt (Section
4.3) that fits the base length, so the model learns to copy the key and retrieval can be measured before and after
extension. The byte tokenizer is written as a tokenizer.json that transformers and tokenizers read as well.

The data order is a pure function of (seed, step), so `--resume` continues exactly where a run stopped: the
resumed weights equal those of an uninterrupted run bit for bit, and re-running the command regenerates the
committed model.
"""

import argparse
import math
import os

# Set before torch loads OpenMP: spinning worker threads slow training several times over on a shared CPU.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import random
import sys
import time

import numpy as np
import torch
from tqdm import tqdm

import common
from model import ModelConfig, Transformer, describe, save_model

PRETRAIN_STEPS = 1400
PRETRAIN_BATCH = 24  # sequences of base-length tokens per step
PRETRAIN_LR = 2e-3  # peak; linear warmup, then cosine decay to a tenth of it
WARMUP_STEPS = 100
# Share of training sequences that end in a passkey prompt and its answer. Copying the key needs an induction
# circuit; in 1400-1600 steps it never formed with 0.08, formed only at the very end with 0.25 (72% retrieval),
# and formed by step ~1000 with 0.4 (100%), at a cost of about 0.1 bits/byte of validation loss.
PASSKEY_FRACTION = 0.4
SAVE_EVERY = 50  # steps between resumable states
VAL_WINDOWS = 256  # validation windows of base length, a fixed seeded sample
BOS_ID, EOS_ID, PAD_ID = 256, 257, 258  # after the 256 bytes; the vocabulary is rounded up to 264
SHAPES = {  # ModelConfig fields; "micro" is for tests
    "tiny": dict(hidden_size=256, n_layers=4, n_heads=4, n_kv_heads=4, head_dim=64, intermediate_size=688),
    "micro": dict(hidden_size=32, n_layers=2, n_heads=2, n_kv_heads=2, head_dim=16, intermediate_size=64),
}
BASE_LEN = 128  # the original context length (max_position_embeddings)

# ----------------------------------------------------------------------------------------------------------------
# The byte-level tokenizer, written so that tokenizers and transformers read it as well as common.load_tokenizer


def _bytes_to_unicode():
    """GPT-2's map from the 256 bytes to printable characters (the ByteLevel pre-tokenizer's alphabet)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return chars


def save_byte_tokenizer(out_dir):
    """tokenizer.json: a merge-free BPE over the 256 byte characters (token id = byte value), plus <s> </s> <pad>.

    `split_special_tokens` makes transformers encode a literal "<s>" in the text as its 3 bytes, as
    common.byte_tokenizer does; pass it to PreTrainedTokenizerFast(tokenizer_file=...) yourself.
    """
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors
    chars = _bytes_to_unicode()
    tok = Tokenizer(models.BPE(vocab={chars[b]: b for b in range(256)}, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in ("<s>", "</s>", "<pad>")])
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                       special_tokens=[("<s>", BOS_ID)])
    assert [tok.token_to_id(t) for t in ("<s>", "</s>", "<pad>")] == [BOS_ID, EOS_ID, PAD_ID]
    os.makedirs(out_dir, exist_ok=True)
    tok.save(os.path.join(out_dir, "tokenizer.json.tmp"))
    os.replace(os.path.join(out_dir, "tokenizer.json.tmp"), os.path.join(out_dir, "tokenizer.json"))
    specials = {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>"}
    common.save_json(os.path.join(out_dir, "special_tokens_map.json"), specials)
    common.save_json(os.path.join(out_dir, "tokenizer_config.json"), {
        "tokenizer_class": "PreTrainedTokenizerFast", **specials, "split_special_tokens": True,
        "clean_up_tokenization_spaces": False})


# ----------------------------------------------------------------------------------------------------------------
# Data: windows of the packed corpus, some ending in a passkey prompt; a pure function of (seed, step)


def training_batch(stream, tokenizer, seed, step, batch, base_len, passkey_fraction):
    """(batch, base_len + 1) tokens: random windows of the stream, a few ending in a passkey example."""
    rng = np.random.default_rng([seed, step])
    rows = []
    for _ in range(batch):
        tail = common.passkey_example(tokenizer, rng, base_len) if rng.random() < passkey_fraction else []
        n = base_len + 1 - len(tail)
        start = int(rng.integers(0, len(stream) - n + 1))
        rows.append(torch.cat([stream[start:start + n], torch.tensor(tail, dtype=torch.long)]))
    return torch.stack(rows)


def validation_windows(docs, length, count, seed=0):
    """`count` windows of `length` tokens at seeded random places inside documents (never across two)."""
    rng = random.Random(seed)
    long_enough = [d for d in docs if len(d) >= length]
    if not long_enough:
        raise ValueError(f"no validation document has {length} tokens")
    windows = []
    for _ in range(count):
        doc = rng.choice(long_enough)
        start = rng.randrange(len(doc) - length + 1)
        windows.append(doc[start:start + length])
    return torch.stack(windows)


@torch.no_grad()
def validation_loss(model, windows, batch=64):
    """Mean next-token loss in nats over windows (N, T); with byte tokens, divide by ln 2 for bits per byte."""
    total = sum(model.loss(windows[i:i + batch], reduction="sum").item() for i in range(0, len(windows), batch))
    return total / (windows.shape[0] * (windows.shape[1] - 1))


def passkey_accuracy(model, tokenizer, length, count=20, seed=0):
    """Share of `count` seeded passkey prompts of `length` tokens whose greedy continuation starts with the key.

    Only the generated tokens are parsed, never the prompt (which holds the key).
    """
    rng = random.Random(seed)
    keys = [rng.randint(10000, 99999) for _ in range(count)]
    prompts = [common.passkey_prompt(tokenizer, length, rng.random(), key, with_task=False)[0] for key in keys]
    generated = model.generate(torch.tensor(prompts), max_new_tokens=8)
    answers = [common.passkey_answer(tokenizer.decode(row.tolist())) for row in generated]
    return sum(answer == str(key) for answer, key in zip(answers, keys)) / count


# ----------------------------------------------------------------------------------------------------------------
# Pretraining


def init_weights(model):
    """Llama/GPT-2 style: N(0, 0.02), residual output projections scaled down by sqrt(2 * layers)."""
    for name, p in model.named_parameters():
        if p.dim() == 2:
            std = 0.02 / math.sqrt(2 * model.config.n_layers) if name.endswith(("o_proj.weight", "down_proj.weight")) else 0.02
            torch.nn.init.normal_(p, std=std)


def learning_rate(step, args):
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    progress = (step - args.warmup) / max(1, args.steps - args.warmup)
    return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


RUN_FIELDS = ("shape", "steps", "batch", "lr", "warmup", "seed", "passkey_fraction", "data")  # a resume must match


def pretrain(args, argv):
    torch.set_num_threads(args.threads)
    tokenizer = common.byte_tokenizer(BOS_ID, EOS_ID)
    train_docs = common.load_documents(args.data, tokenizer, "train")
    val_docs = common.load_documents(args.val_data, tokenizer, "validation")
    stream = common.pack_documents(train_docs, EOS_ID)
    if len(stream) <= BASE_LEN + 1:
        raise ValueError(f"the training data holds {len(stream)} tokens; at least {BASE_LEN + 2} are needed")

    cfg = ModelConfig(vocab_size=264, **SHAPES[args.shape], max_position_embeddings=BASE_LEN, rope_theta=10000.0,
                      bos_token_id=BOS_ID, eos_token_id=EOS_ID, model_type="llama")
    torch.manual_seed(args.seed)
    model = Transformer(cfg)
    init_weights(model)
    decay = [p for p in model.parameters() if p.dim() >= 2]  # no weight decay on the norms' gains
    rest = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                                  lr=args.lr, betas=(0.9, 0.95))
    run = {k: getattr(args, k) for k in RUN_FIELDS}
    state_path = os.path.join(args.out, "pretrain_state.pt")
    step, wall_time, losses, resumed_at = 0, 0.0, [], []
    if args.resume:
        if not os.path.exists(state_path):
            raise ValueError(f"--resume: {state_path} does not exist")
        state = torch.load(state_path, weights_only=False)
        for k, v in state["run"].items():
            if run[k] != v:
                raise ValueError(f"--resume: {state_path} was made with --{k.replace('_', '-')} {v}, not {run[k]}")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"]["torch"])
        np.random.set_state(state["rng"]["numpy"])
        random.setstate(state["rng"]["python"])
        step, wall_time, losses = state["step"], state["wall_time"], state["losses"]
        resumed_at = state.get("resumed_at", []) + [step]

    def save(step):
        common.save_state({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "run": run,
                           "step": step,  # also the data position: batch `step` is a function of (seed, step)
                           "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
                                   "python": random.getstate()},
                           "wall_time": wall_time + time.time() - started, "losses": losses,
                           "resumed_at": resumed_at}, state_path)

    print(f"{describe(cfg)}; {len(stream):,} training tokens; state in {state_path}")
    started = time.time()
    stop = max(step, min(args.steps, args.stop_after or args.steps))
    model.train()
    bar = tqdm(range(step, stop), initial=step, total=args.steps, desc="pretrain")
    for step in bar:
        batch = training_batch(stream, tokenizer, args.seed, step, args.batch, BASE_LEN, args.passkey_fraction)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, args)
        loss = model.loss(batch[:, :-1], batch[:, 1:])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses = (losses + [loss.item()])[-50:]
        bar.set_postfix(loss=f"{sum(losses) / len(losses):.3f}")
        if (step + 1) % args.save_every == 0 and step + 1 < stop:
            save(step + 1)
    step = stop
    save(step)
    if step < args.steps:
        print(f"stopped at step {step} of {args.steps}; continue with --resume")
        return

    model.eval()
    val_nats = validation_loss(model, validation_windows(val_docs, BASE_LEN, args.val_windows))
    passkey = passkey_accuracy(model, tokenizer, BASE_LEN, count=50, seed=args.seed + 1)
    save_model(model, args.out)
    save_byte_tokenizer(args.out)
    files = lambda docs: {"files": len(docs), "bytes": sum(len(d) - 1 for d in docs)}
    provenance = {
        "command": common.reproducing_command(["pretrain", *argv]),
        "resumed_at_steps": resumed_at,
        "seed": args.seed, "model": describe(cfg), "parameters": sum(p.numel() for p in model.parameters()),
        "corpus": {"python": sys.version.split()[0], "train": args.data or "python standard library",
                   "validation": args.val_data or "python standard library", **{"train_" + k: v for k, v in
                   files(train_docs).items()}, **{"validation_" + k: v for k, v in files(val_docs).items()}},
        "steps": args.steps, "batch": args.batch, "sequence_length": BASE_LEN + 1,
        "tokens_seen": args.steps * args.batch * BASE_LEN, "learning_rate": args.lr, "warmup": args.warmup,
        "passkey_fraction": args.passkey_fraction, "threads": args.threads,
        "wall_time_s": round(wall_time + time.time() - started, 1),
        "final_train_loss_nats": round(sum(losses) / len(losses), 4),  # mean of the last 50 steps
        "validation_loss_nats": round(val_nats, 4), "validation_bits_per_byte": round(val_nats / math.log(2), 4),
        "validation_sample": f"{args.val_windows} windows of {BASE_LEN} tokens, pretrain.validation_windows seed 0",
        "passkey_accuracy_base_length": passkey,
    }
    path = common.save_json(os.path.join(args.out, "provenance.json"), provenance)
    print(f"{args.out}: validation {val_nats:.4f} nats = {val_nats / math.log(2):.3f} bits/byte at {BASE_LEN} tokens, "
          f"passkey {passkey:.0%}, {provenance['wall_time_s'] / 60:.1f} min; wrote {path}")


def main(argv=None):
    """`python train.py pretrain ...` lands here with the arguments after `pretrain`."""
    argv = sys.argv[1:] if argv is None else list(argv)
    fmt = argparse.ArgumentDefaultsHelpFormatter
    parser = argparse.ArgumentParser(prog="train.py pretrain", description="pretrain the tiny byte-level Llama "
                                     "from scratch", formatter_class=fmt)
    p = parser
    p.add_argument("--out", default="tiny", help="model folder to write (Hugging Face format)")
    p.add_argument("--data", default=None, help="text folder or file to train on; None: the Python standard library")
    p.add_argument("--val-data", default=None, help="text folder for validation; None: the Python standard library")
    p.add_argument("--shape", default="tiny", choices=sorted(SHAPES), help="model shape (SHAPES; micro is for tests)")
    p.add_argument("--steps", type=int, default=PRETRAIN_STEPS, help="optimizer steps")
    p.add_argument("--batch", type=int, default=PRETRAIN_BATCH, help="sequences of base length per step")
    p.add_argument("--lr", type=float, default=PRETRAIN_LR, help="peak learning rate (cosine decay to a tenth)")
    p.add_argument("--warmup", type=int, default=WARMUP_STEPS, help="linear warmup steps")
    p.add_argument("--passkey-fraction", type=float, default=PASSKEY_FRACTION,
                   help="share of sequences ending in a passkey prompt and its answer")
    p.add_argument("--seed", type=int, default=0, help="initialization and data order")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--save-every", type=int, default=SAVE_EVERY, help="steps between resumable states")
    p.add_argument("--val-windows", type=int, default=VAL_WINDOWS, help="validation windows of base length")
    p.add_argument("--resume", action="store_true", help="continue from <out>/pretrain_state.pt")
    p.add_argument("--stop-after", type=int, default=None, help="stop after this many steps, resumable")
    args = parser.parse_args(argv)
    for name in ("steps", "batch", "warmup", "threads", "save_every", "val_windows"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if not 0 <= args.passkey_fraction <= 1:
        raise ValueError(f"--passkey-fraction must be between 0 and 1, got {args.passkey_fraction}")
    if not args.lr > 0:
        raise ValueError(f"--lr must be positive, got {args.lr}")
    pretrain(args, argv)


if __name__ == "__main__":
    common.run_cli(main)
