"""Evaluation: perplexity by context length, passkey retrieval, and the LongRoPE paper's figures.

    python eval.py ppl      --model tiny --rope none,pi,ntk,dynamic-ntk,yarn,factors.json --lengths 1x,2x,4x,8x
    python eval.py passkey  --model tiny --rope yarn,factors.json --lengths 1x,4x,8x --depths 0,0.5,1 --trials 10
    python eval.py figures  --ppl ppl.json --passkey passkey.json --factors factors.json --out docs
    python eval.py reproduce --out docs       (searched factors against the baselines at 8x, on the tiny model)

Perplexity (Section 4.2, Tables 5-7) has two protocols. `truncate` (the official code's `--truncate`): each
sampled document is cut to the length and scored in one window. `sliding`: each document (cut to the largest
length) is scored with a window of the length moving by `--stride`, every token predicted once with as much
context as the window allows (the paper's, with a stride of 256). Passkey retrieval (Section 4.2) hides "The pass key is N" in filler text at a depth
and reads only the digits the model generates after the question; the prompt itself never counts. A test at length
N fits the prompt AND the answer in N tokens, so it runs at the rescaling chosen for N (LongRoPE's short factors at
1x). Long prompts are scored in one teacher-forced forward instead of generating: the same verdict, no KV cache.
"""

import argparse
import math
import os
import random
from dataclasses import replace

import torch
from tqdm import tqdm

import common
from common import (format_length, load_documents, load_tokenizer, parse_lengths, passkey_answer, passkey_prompt,
                    run_cli, sample_documents, save_csv, save_json)
from figures import plot_factors, plot_passkey, plot_perplexity
from longrope import parse_rope
from model import forward_chunk, free_memory_bytes, load_model


def load(args):
    model = load_model(args.model, device=args.device, dtype=getattr(torch, args.dtype) if args.dtype else None)
    common.apply_window(model, common.parse_window(getattr(args, "sliding_window", "model")))
    if getattr(args, "compile", False):
        model.compile_layers()
    return model, load_tokenizer(args.model)


def check_memory(model, length, batch=1):
    """Refuses, before any work, a length whose inference forward the free memory cannot hold (model.forward_chunk's
    estimate, with the length that would fit)."""
    weight = next(model.parameters())
    forward_chunk(model.config, length, free_memory_bytes(weight.device), weight.element_size(), batch)


def original_length(model, args):
    return common.original_length(model, args.original_length)


def rope_for(spec, model, original, length, target=None):
    """A method configured for `target` (default: for the length evaluated), a factor file, or the model's own."""
    if spec == "model":
        return model.rope
    rope = parse_rope(spec, model.config.rotary_dim, original, target or length)
    return rope if rope.name else replace(rope, name=spec)


@torch.inference_mode()
def document_loss(model, tokens, window, stride=None):
    """(sum of nats, number of predicted tokens) for one document, one window or sliding windows."""
    device = next(model.parameters()).device
    tokens = tokens.to(device)
    if stride is None:
        window_tokens = tokens[:window][None]  # (1, T)
        return float(model.loss(window_tokens, reduction="sum")), window_tokens.shape[1] - 1
    total, count, scored_to = 0.0, 0, 1  # token 0 has no context, it is never predicted
    for begin in range(0, len(tokens), stride):
        end = min(begin + window, len(tokens))
        targets = tokens[begin:end].clone()
        targets[: max(scored_to - begin, 1)] = -100  # only tokens no earlier window scored
        targets = torch.cat([targets[1:], targets.new_full((1,), -100)])  # position t predicts token t+1
        total += float(model.loss(tokens[begin:end][None], targets[None], reduction="sum"))
        count += int((targets != -100).sum())
        scored_to = end
        if end == len(tokens):
            break
    return total, count


def perplexity_table(model, docs, specs, lengths, original, target=None, stride=None, progress=True):
    records = []
    bar = tqdm(total=len(specs) * len(lengths) * len(docs), disable=not progress, desc="ppl")
    for spec in specs:
        for length in lengths:
            rope = rope_for(spec, model, original, length, target)
            model.set_rope(rope)
            total, count = 0.0, 0
            for doc in docs:
                loss, n = document_loss(model, doc[: max(lengths)], length, None if stride is None else stride(length))
                total, count = total + loss, count + n
                bar.update()
            loss = total / count
            records.append({"method": rope.label, "length": length, "protocol": "truncate" if stride is None else
                            "sliding", "loss": loss, "ppl": math.exp(min(loss, 700)), "bits": loss / math.log(2),
                            "tokens": count, "samples": len(docs)})
            bar.set_postfix(method=rope.label, length=format_length(length), ppl=f"{records[-1]['ppl']:.3g}")
    bar.close()
    return records


def print_table(records, value, title, fmt="{:.3f}"):
    methods = list(dict.fromkeys(r["method"] for r in records))
    lengths = sorted({r["length"] for r in records})
    cell = {(r["method"], r["length"]): r[value] for r in records}
    width = max(12, *(len(m) + 2 for m in methods))
    print(f"\n{title}")
    print("method".ljust(width) + "".join(format_length(n).rjust(10) for n in lengths))
    for m in methods:
        print(m.ljust(width) + "".join(fmt.format(cell[m, n]).rjust(10) if (m, n) in cell else " " * 10
                                       for n in lengths))


def write_results(records, args, stem):
    for path, writer in ((args.json, save_json), (args.csv, save_csv)):
        if path:
            writer(path, records)
            print(f"wrote {path}")


def cmd_ppl(args):
    model, tokenizer = load(args)
    original = original_length(model, args)
    lengths = parse_lengths(args.lengths, original)
    specs = [s.strip() for s in args.rope.split(",") if s.strip()]
    target = parse_lengths(args.target, original)[0] if args.target else None
    for spec in specs:  # fail before any work on a bad method or factor file
        rope_for(spec, model, original, max(lengths), target)
    check_memory(model, max(lengths))
    docs = sample_documents(load_documents(args.data, tokenizer, "validation", model.config.vocab_size),
                            max(lengths), args.samples, args.seed, what=args.data or "the validation corpus",
                            join=True)
    stride = None if args.protocol == "truncate" else (lambda n: args.stride or n // 2)
    records = perplexity_table(model, docs, specs, lengths, original, target, stride)
    print_table(records, "ppl", f"perplexity ({args.protocol}, {len(docs)} documents)", "{:.3f}")
    print_table(records, "loss", "loss (nats per token)", "{:.4f}")
    write_results(records, args, "ppl")


# Beyond this length `--method auto` scores a passkey by one teacher-forced forward instead of generating: the same
# verdict without a KV cache of every layer (a 7B model's is 0.5 MB per token in bf16), in one memory-bounded forward.
TEACHER_FORCED_FROM = 8192


def passkey_correct(predicted, answer, tokenizer):
    """Greedy tokens `predicted` (at least len(answer) + 1) retrieve the key: its tokens exactly, then a token that
    does not continue the digits (" 123456" is not " 12345")."""
    after = tokenizer.decode(predicted[len(answer):len(answer) + 1])
    return list(predicted[:len(answer)]) == list(answer) and not after[:1].isdigit()


@torch.inference_mode()
def teacher_forced_predictions(model, prompt, answer, rope_len):
    """The greedy token at each answer position of ONE forward over prompt + answer tokens: position len(prompt) - 1
    + i predicts answer token i, and the last one predicts what follows the key. Greedy generation produces the
    answer exactly when every prediction equals the answer token after it, since each step of generation then sees
    the very tokens fed here. Only those len(answer) + 1 hidden states go through the LM head: no length x vocab
    logits."""
    device = next(model.parameters()).device
    tokens = torch.tensor([list(prompt) + list(answer)], device=device)  # (1, P + A)
    hidden = model.forward(tokens, rope_len=rope_len)  # (1, P + A, D); the rescaling generation would choose
    return model.lm_head(hidden[0, len(prompt) - 1:]).argmax(-1).tolist()  # (A + 1,)


@torch.inference_mode()
def passkey_results(model, tokenizer, rope, length, depth, trials, seed, with_task, method="auto"):
    """[(key, answer read, correct)] for `trials` passkey prompts whose question AND answer fit `length` tokens.

    The prompt is `length` minus the answer budget (the key's tokens and one more), so the whole test stays within
    `length` positions and the rescaling is chosen for `length` (at 1x: LongRoPE's short factors). `method`:
    generate (greedy with a KV cache), teacher-forced (one forward, the same verdict), or auto (teacher-forced
    beyond TEACHER_FORCED_FROM tokens)."""
    rng = random.Random(f"{seed}-{length}-{depth}")
    keys = [str(rng.randint(10000, 99999)) for _ in range(trials)]
    answers = [tokenizer.encode(" " + k) for k in keys]
    budget = max(len(a) for a in answers) + 1
    try:
        prompts = [passkey_prompt(tokenizer, length - budget, depth, k, with_task)[0] for k in keys]
    except ValueError as e:
        raise ValueError(f"a passkey test of {length} tokens leaves {budget} for the answer: {e}") from None
    if method == "auto":
        method = "teacher-forced" if length > TEACHER_FORCED_FROM else "generate"
    model.set_rope(rope)
    if method == "generate":
        device = next(model.parameters()).device
        predicted = model.generate(torch.tensor(prompts, device=device), budget).tolist()  # (trials, budget)
    else:
        predicted = [teacher_forced_predictions(model, p, a, length) for p, a in zip(prompts, answers)]
    results = []
    for key, answer, tokens in zip(keys, answers, predicted):
        correct = passkey_correct(tokens, answer, tokenizer)
        if method != "generate":  # generation would have gone its own way after the first wrong token
            wrong = next((i for i, (p, a) in enumerate(zip(tokens, answer)) if p != a), len(answer))
            tokens = tokens[:wrong + 1]
        results.append((key, passkey_answer(tokenizer.decode(tokens)), correct))
    return results


def passkey_accuracy(model, tokenizer, rope, length, depth, trials, seed, with_task, method="auto"):
    """Fraction of `trials` prompts whose greedy answer is the key, and the (key, answer read) pairs."""
    results = passkey_results(model, tokenizer, rope, length, depth, trials, seed, with_task, method)
    return sum(c for _, _, c in results) / trials, [(k, a) for k, a, _ in results]


def cmd_passkey(args):
    model, tokenizer = load(args)
    original = original_length(model, args)
    lengths = parse_lengths(args.lengths, original)
    depths = [float(d) for d in args.depths.split(",")]
    specs = [s.strip() for s in args.rope.split(",") if s.strip()]
    target = parse_lengths(args.target, original)[0] if args.target else None
    with_task = (not tokenizer.byte_level) if args.task is None else args.task
    for length in lengths:
        teacher_forced = args.method == "teacher-forced" or (args.method == "auto" and length > TEACHER_FORCED_FROM)
        check_memory(model, length, 1 if teacher_forced else args.trials)
    records = []
    bar = tqdm(total=len(specs) * len(lengths) * len(depths), desc="passkey")
    for spec in specs:
        for length in lengths:
            rope = rope_for(spec, model, original, length, target)
            for depth in depths:
                accuracy, pairs = passkey_accuracy(model, tokenizer, rope, length, depth, args.trials, args.seed,
                                                   with_task, args.method)
                records.append({"method": rope.label, "length": length, "depth": depth, "accuracy": accuracy,
                                "trials": args.trials, "answers": " ".join(f"{k}:{a or '-'}" for k, a in pairs)})
                bar.update()
    bar.close()
    by_length = []
    for spec in dict.fromkeys(r["method"] for r in records):
        for length in lengths:
            rows = [r for r in records if r["method"] == spec and r["length"] == length]
            by_length.append({"method": spec, "length": length,
                              "accuracy": sum(r["accuracy"] for r in rows) / len(rows)})
    print_table(by_length, "accuracy", f"passkey accuracy ({len(depths)} depths x {args.trials} trials)", "{:.2f}")
    write_results(records, args, "passkey")




# ----------------------------------------------------------------------------------------------------------------
# Figures (figures.py draws them)


def cmd_figures(args):
    import json
    os.makedirs(args.out, exist_ok=True)
    written = []
    if args.ppl:
        with open(args.ppl) as f:
            written.append(plot_perplexity(json.load(f), os.path.join(args.out, "perplexity.png")))
    if args.factors:
        from model import load_model as _load
        cfg = _load(args.model, device="cpu").config
        written.append(plot_factors(args.factors.split(","), cfg.rotary_dim, cfg.rope_theta,
                                    os.path.join(args.out, "factors.png")))
    if args.passkey:
        with open(args.passkey) as f:
            written += plot_passkey(json.load(f), os.path.join(args.out, "passkey.png"),
                                    os.path.join(args.out, "passkey_heatmap.png"))
    for path in written:
        print(f"wrote {path}")


# ----------------------------------------------------------------------------------------------------------------
# The paper in miniature

REPRODUCE_METHODS = ("none", "pi", "ntk", "dynamic-ntk", "yarn")


def held_out(docs, used):
    """Documents none of whose tokens were a search sample: the search's fitness never saw them."""
    return [d for d in docs if not any(len(d) >= len(u) and torch.equal(d[:len(u)], u) for u in used)]


def markdown_table(records, value, fmt, columns_title="method"):
    methods = list(dict.fromkeys(r["method"] for r in records))
    lengths = sorted({r["length"] for r in records})
    cell = {(r["method"], r["length"]): r[value] for r in records}
    lines = [f"| {columns_title} | " + " | ".join(format_length(n) for n in lengths) + " |",
             "|---|" + "---|" * len(lengths)]
    for m in methods:
        lines.append(f"| {m} | " + " | ".join(fmt.format(cell[m, n]) if (m, n) in cell else "-" for n in lengths) + " |")
    return "\n".join(lines)


def cmd_reproduce(args):
    """Search at 8x, then perplexity (1x..16x), passkey (1x..8x) and the figures, all on held-out documents."""
    import subprocess
    import sys
    os.makedirs(args.out, exist_ok=True)
    model, tokenizer = load(args)
    original = original_length(model, args)
    factors = os.path.join(args.out, f"tiny_{args.scale}x_factors.json")
    search = [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "search.py"),
              "--model", args.model, "--target", f"{args.scale}x", "--out", factors, "--seed", str(args.seed),
              "--samples", str(args.search_samples), *args.search_budget.split()]
    if args.resume and os.path.exists(factors):
        print(f"reusing {factors}")
    else:
        print("searching:", " ".join(search[1:]))
        subprocess.run(search + (["--resume"] if args.resume else []), check=True)

    lengths = [original * k for k in (1, 2, 4, 8, 16)]
    docs = load_documents(None, tokenizer, "validation")
    used = sample_documents(docs, args.scale * original, args.search_samples, args.seed)
    docs = sample_documents(held_out(docs, used), max(lengths), args.samples, args.seed + 1,
                            what="the held-out validation documents")
    specs = [*REPRODUCE_METHODS, factors]
    ppl = perplexity_table(model, docs, specs, lengths, original)
    for r in ppl:
        r["method"] = "longrope" if r["method"].startswith("tiny_") else r["method"]
    print_table(ppl, "bits", f"bits per byte ({len(docs)} held-out documents)", "{:.3f}")
    save_json(os.path.join(args.out, "ppl.json"), ppl)
    save_csv(os.path.join(args.out, "ppl.csv"), ppl)

    passkey = []
    passkey_lengths = [original * k for k in (1, 2, 4, 8)]
    depths = [0.0, 0.25, 0.5, 0.75, 1.0]
    bar = tqdm(total=len(specs) * len(passkey_lengths) * len(depths), desc="passkey")
    for spec in specs:
        for length in passkey_lengths:
            rope = rope_for(spec, model, original, length)
            for depth in depths:
                accuracy, _ = passkey_accuracy(model, tokenizer, rope, length, depth, args.trials, args.seed, False)
                passkey.append({"method": "longrope" if spec == factors else spec, "length": length,
                                "depth": depth, "accuracy": accuracy, "trials": args.trials})
                bar.update()
    bar.close()
    by_length = [{"method": m, "length": n, "accuracy": sum(r["accuracy"] for r in passkey if r["method"] == m and
                                                              r["length"] == n) / len(depths)}
                 for m in dict.fromkeys(r["method"] for r in passkey) for n in passkey_lengths]
    print_table(by_length, "accuracy", f"passkey accuracy ({len(depths)} depths x {args.trials} trials)", "{:.2f}")
    save_json(os.path.join(args.out, "passkey.json"), passkey)
    save_csv(os.path.join(args.out, "passkey.csv"), passkey)

    figures = [plot_perplexity(ppl, os.path.join(args.out, "perplexity.png"),
                               f"Tiny model, no fine-tuning (trained at {original} tokens)"),
               plot_factors([factors], model.config.rotary_dim, model.config.rope_theta,
                            os.path.join(args.out, "factors.png")),
               *plot_passkey(passkey, os.path.join(args.out, "passkey.png"),
                             os.path.join(args.out, "passkey_heatmap.png"), "longrope")]
    results = os.path.join(args.out, "results.md")
    with open(results, "w") as f:
        f.write(f"Produced by `python eval.py reproduce --out {args.out}`: tiny model, LongRoPE factors searched at "
                f"{args.scale}x ({args.scale * original} tokens, `{' '.join(search[2:])}`), no fine-tuning; "
                f"{len(docs)} held-out validation documents, truncated protocol.\n\n"
                f"Bits per byte by context length (lower is better):\n\n{markdown_table(ppl, 'bits', '{:.3f}')}\n\n"
                f"Passkey accuracy ({len(depths)} depths x {args.trials} trials):\n\n"
                f"{markdown_table(by_length, 'accuracy', '{:.2f}')}\n")
    for path in [factors, *figures, results]:
        print(f"wrote {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    def common_args(p):
        p.add_argument("--model", default="tiny", help="model folder (HF or Meta format), or 'tiny' (default)")
        p.add_argument("--rope", default="model",
                       help="comma-separated: model (the checkpoint's own), none, pi, ntk, dynamic-ntk, yarn, llama3, "
                            "FILE.json")
        p.add_argument("--target", default=None,
                       help="length the baseline methods are stretched to (default: each evaluated length)")
        p.add_argument("--original-length", default=None,
                       help="the model's pretraining length (default: from its config, or its sliding window when "
                            "that is shorter, as for Mistral-7B)")
        p.add_argument("--sliding-window", default="model",
                       help="Mistral's window: model (the checkpoint's own), none, or a length (default: %(default)s)")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda if present)")
        p.add_argument("--dtype", default=None, help="float32 or bfloat16 (default: bfloat16 on CUDA)")
        p.add_argument("--json", default=None, help="write the records as JSON here")
        p.add_argument("--csv", default=None, help="write the records as CSV here")

    p = sub.add_parser("ppl", help="perplexity by context length")
    common_args(p)
    p.add_argument("--lengths", default="1x,2x,4x,8x", help="e.g. 2k,4k,128k or 1x,8x (x: times the original length)")
    p.add_argument("--data", default=None, help="text file/folder or .bin/.npy tokens (default: stdlib validation)")
    p.add_argument("--samples", type=int, default=10, help="documents, each at least as long as the largest length")
    p.add_argument("--protocol", choices=("truncate", "sliding"), default="truncate")
    p.add_argument("--stride", type=int, default=None, help="sliding protocol stride (default: half the length)")
    p.add_argument("--compile", action="store_true", help="torch.compile the model's blocks (model.compile_layers)")
    p.set_defaults(run=cmd_ppl)

    p = sub.add_parser("passkey", help="passkey retrieval accuracy by length and depth")
    common_args(p)
    p.add_argument("--lengths", default="1x,2x,4x,8x")
    p.add_argument("--depths", default="0,0.25,0.5,0.75,1")
    p.add_argument("--trials", type=int, default=10)
    p.add_argument("--task", action=argparse.BooleanOptionalAction, default=None,
                   help="open the prompt with YaRN's task sentence (default: yes, except for byte-level models "
                        "such as tiny, which is trained without it)")
    p.add_argument("--method", choices=("auto", "generate", "teacher-forced"), default="auto",
                   help="generate the answer with a KV cache, or score it in one teacher-forced forward (the same "
                        f"verdict, no cache); auto: teacher-forced beyond {TEACHER_FORCED_FROM} tokens")
    p.set_defaults(run=cmd_passkey)

    p = sub.add_parser("figures", help="PNG figures from ppl/passkey JSON and factor files")
    p.add_argument("--ppl", default=None)
    p.add_argument("--passkey", default=None)
    p.add_argument("--factors", default=None, help="comma-separated factor files")
    p.add_argument("--model", default="tiny", help="model whose head dimension and base the factors are for")
    p.add_argument("--out", default="docs")
    p.set_defaults(run=cmd_figures)

    p = sub.add_parser("reproduce", help="the miniature reproduction on the tiny model: search, tables, figures")
    p.add_argument("--model", default="tiny")
    p.add_argument("--out", default="docs")
    p.add_argument("--scale", type=int, default=8, help="search target, times the original length")
    p.add_argument("--search-budget", default="--population 24 --iterations 26 --parents 8 --mutations 8 "
                   "--crossovers 8", help="search.py options for the search (about 3 minutes on 2 cores)")
    p.add_argument("--search-samples", type=int, default=4)
    p.add_argument("--samples", type=int, default=10, help="held-out documents for perplexity")
    p.add_argument("--trials", type=int, default=10, help="passkey prompts per length and depth")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="reuse or resume the search in --out")
    p.add_argument("--device", default=None)
    p.add_argument("--dtype", default=None)
    p.add_argument("--original-length", default=None)
    p.set_defaults(run=cmd_reproduce)

    args = parser.parse_args()
    for name in ("samples", "trials"):
        if getattr(args, name, 1) < 1:
            raise ValueError(f"--{name} must be at least 1, got {getattr(args, name)}")
    args.run(args)


if __name__ == "__main__":
    run_cli(main)
