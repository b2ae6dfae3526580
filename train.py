"""Training: LongRoPE's progressive extension (Ding et al. 2024, arXiv 2402.13753, Section 3.3), fine-tuning, and
the pretraining of the built-in tiny model.

`python train.py --model DIR|tiny --target 512x [--data PATH] [--out DIR] [--resume]` runs the paper's pipeline,
scaled to the model's original length L (4k for Llama-2, so 32 L = 128k, 64 L = 256k, 512 L = 2048k):

    search-32L, search-64L   factors for 32 L and 64 L, searched on the original model          (search.py)
    finetune-32L             fine-tune 400 steps at 32 L with the 32 L factors
    finetune-64L             from there, 600 steps at 64 L with the 64 L factors
    search-512L              search again on the fine-tuned model, 8x beyond it, no fine-tuning, keeping the
                             attention scale it was fine-tuned with; seeds: PI, NTK, YaRN, and PI and YaRN
                             on top of the factors it was fine-tuned with                     (--target 512x)
    recover                  short factors for sequences that fit L (Section 3.3), long ones kept
    export, summary          <out>/final in Hugging Face format (rope dict in config.json); perplexity at L, 64 L
                             and 512 L before and after (<out>/summary.md)

`--target` picks how far to go (32x: one fine-tuning stage, 64x: two, beyond: the second search);
`--finetune-lengths` moves the stages (4x,8x: fine-tune at 4 L and 8 L, then search again at the target).
Every stage writes its outputs to --out, saves its state as it goes (atomically) and is skipped once done; `--resume`
continues a killed run to the result an uninterrupted one reaches (the data order is a function of the seed and
the step). Before anything starts, the memory each fine-tuning stage needs is estimated against the devices
(parallel.estimate_memory); a stage that cannot fit stops the run with what would make it fit.

On one device this is plain PyTorch (AdamW, bf16 autocast on GPUs that have it, activation checkpointing, chunked
loss, gradient accumulation). Under `torchrun --nproc_per_node N train.py ... --sp P` (or the deepspeed launcher)
the fine-tuning runs DeepSpeed ZeRO-3 with Ulysses sequence parallelism of degree P, applied from here
(parallel.py), and the searches score candidates with the same sequence-parallel forward, each data-parallel group
its share of every generation.

Defaults are the paper's (lr 2e-5 with linear decay, batch 32, search population 64 x 40 iterations; the 20 warmup
steps are ours: Section 4.1 states none);
for the tiny model they shrink (TINY) so the whole pipeline runs on 2 CPU cores in under half an hour.
`--short-batch N` adds N sequences of the original length to every fine-tuning step; the model scores them with
the short factors and the same attention scale, so it learns that scale at short lengths too (mixed-length
training, as LongRoPE2 does). The paper trains on long sequences only (the default for real models); the
tiny model's default is 2 (as many short sequences as long ones).

`python train.py finetune --model DIR --factors F.json --length 128k --steps 400 --out DIR` runs one stage alone;
`--factors yarn` (or pi, ntk) fine-tunes a baseline instead, its rope stretched to --length.

`python train.py pretrain --out tiny` pretrains the built-in tiny model from scratch (pretrain.py).
"""

import argparse
import json
import math
import os

# Set before torch loads OpenMP: spinning worker threads slow training several times over on a shared CPU.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import shutil
import sys
import time

import torch

import common
import longrope
import plan
from finetune import (Context, Interrupted, LoRALinear, apply_lora, finetune, lr_multiplier,  # noqa: F401
                      merge_lora, training_sequence)  # train.finetune etc., as before the move
from checkpoint import export_model
from model import TINY_DIR, load_model, resolve_model_dir
from plan import check_memory, plan_stages  # noqa: F401 (train.plan_stages, as before)

# ----------------------------------------------------------------------------------------------------------------
# The progressive extension (Section 3.3): search -> fine-tune 32L -> fine-tune 64L -> search 512L -> recovery

PAPER = {  # Section 4.1, Llama-2-7B (L = 4k): 400 steps at 128k then 600 at 256k, lr 2e-5 with linear decay,
    # global batch 32 (20 warmup steps are ours); the search budget of Section 4.1 (population 64, 40 iterations,
    # 32 parents, 16 + 16)
    "steps": "400,600", "lr": 2e-5, "warmup": 20, "batch": 32, "search_budget": "64,40,32,16,16",
    "final_search_budget": "64,40,32,16,16", "recover_budget": "64,40,32,16,16", "search_samples": 5,
    "eval_samples": 5, "short_batch": 0, "passkey_fraction": 0.0}
TINY = {  # the same pipeline on the tiny model in under half an hour on 2 CPU cores (fine-tuning at 4k and 8k
    # tokens; one forward pass at 64k takes about 80 seconds, so the 64k search scores 6 candidates)
    "steps": "40,30", "lr": 3e-4, "warmup": 4, "batch": 2, "search_budget": "8,3,4,4,4",
    "final_search_budget": "4,1,2,1,1", "recover_budget": "16,10,8,8,8", "search_samples": 1, "eval_samples": 1,
    "short_batch": 2, "passkey_fraction": 0.4}


def tuned_attention_scale(model):
    """The attention scale a fine-tuned model learned: its long factors' (rope_frequencies at any length past the
    original one gives them; original + 1 is the shortest such length)."""
    rope = model.rope
    return longrope.rope_frequencies(rope, model.config.rotary_dim, model.config.rope_theta, rope.original_max_len + 1)[1]


def parse_budget(text, what):
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 5 or min(values[:3]) < 1 or min(values[3:]) < 0:
        raise ValueError(f"{what} '{text}' must be five counts: population,iterations,parents,mutations,crossovers")
    return values


def check_batches(opts, ctx):
    for name in ("batch", "short_batch"):
        if getattr(opts, name) % ctx.dp_world:
            raise ValueError(f"--{name.replace('_', '-')} {getattr(opts, name)} must be a multiple of the "
                             f"{ctx.dp_world} data-parallel groups")


SHORT_EVAL_SAMPLES = 32  # documents for the summary at the original length
RECOVER_SAMPLES = 16  # documents (at least) for the recovery search: short ones are cheap, few would overfit
PIPELINE_FIELDS = ("model", "target", "data", "val_data", "seed", "steps", "lr", "warmup", "batch", "search_budget",
                   "final_search_budget", "recover_budget", "search_samples", "eval_samples", "lora", "short_batch",
                   "passkey_fraction", "original_length", "sliding_window", "finetune_lengths")


def pipeline_documents(val_docs, stages, original, target, args):
    """The searches' fitness documents ({length: [tokens]}) and the summary's ({"long": .., "short": ..}), drawn
    from the two parts of common.split_documents: the summary never scores a token a search saw. Where a part has
    too few documents of a length, its documents are joined into long ones (common.joined_documents)."""
    what = args.val_data or "the stdlib validation split"
    search_pool, eval_pool = common.split_documents(val_docs)
    held_out = f"the held-out part of {what} (the documents after its first third)"
    eval_docs = {  # the long lengths on the same --eval-samples documents, the original one on more (it is cheap)
        "long": common.sample_documents(eval_pool, target, args.eval_samples, args.seed + 1, held_out, join=True),
        "short": common.sample_documents(eval_pool, original, max(args.eval_samples, SHORT_EVAL_SAMPLES),
                                         args.seed + 1, held_out, join=True)}
    lengths = {n: args.search_samples for _, kind, n in stages if kind in ("search", "extend")}
    lengths[original] = max(args.search_samples, RECOVER_SAMPLES)  # the recovery's, at the original length
    searched = f"the search part of {what} (its first third)"
    search_docs = {n: common.sample_documents(search_pool, n, count, args.seed, searched, join=True)
                   for n, count in lengths.items()}
    return search_docs, eval_docs


def finetune_lengths(text, original):
    """The fine-tuning stages' lengths from --finetune-lengths: increasing, each beyond the original length."""
    lengths = common.parse_lengths(text, original)
    if not lengths or min(lengths) <= original or lengths != sorted(set(lengths)):
        raise ValueError(f"--finetune-lengths '{text}' must be increasing lengths beyond the original {original} "
                         "tokens, e.g. 32x,64x")
    return lengths


def parse_steps(text):
    try:
        steps = [int(v) for v in str(text).split(",")]
    except ValueError:
        steps = [-1]
    if not steps or min(steps) < 0:
        raise ValueError(f"--steps '{text}' must be step counts, one per fine-tuning stage, e.g. 400,600")
    return steps


def pipeline(args, argv):
    import search
    torch.set_num_threads(args.threads)
    ctx = Context(args)
    opts = args
    base = load_model(args.model, device="cpu", dtype=torch.bfloat16)  # its config and rope; mmap'd, no copy
    original, rotary_dim = common.original_length(base, args.original_length), base.config.rotary_dim
    target = common.parse_length(args.target, original)
    if target <= original:
        raise ValueError(f"--target {args.target} ({target} tokens) must exceed the original length {original}")
    ctx.window = common.parse_window(args.sliding_window, target)
    stages = plan_stages(original, target, finetune_lengths(args.finetune_lengths, original))
    opts.steps = parse_steps(args.steps)
    budgets = {k: parse_budget(getattr(args, k), "--" + k.replace("_", "-"))
               for k in ("search_budget", "final_search_budget", "recover_budget")}
    check_batches(opts, ctx)

    out = args.out
    state_path = os.path.join(out, "pipeline.json")
    run = {k: getattr(args, k) for k in PIPELINE_FIELDS} | {"steps": opts.steps, "processes": ctx.world,
                                                            "sp": ctx.sp, "bf16": ctx.bf16}
    if os.path.exists(state_path) and not args.resume:
        raise ValueError(f"{out} already holds a pipeline; add --resume to continue it or choose another --out")
    state = {"run": run, "done": [], "log": [], "minutes": {}}
    if args.resume and os.path.exists(state_path):
        with open(state_path) as f:
            state = json.load(f)
        for k, v in state["run"].items():
            if run.get(k) != v:
                raise ValueError(f"--resume: {state_path} was made with {k} = {v!r}, not {run.get(k)!r}")
    check_memory(base.config, [s for s in stages if s[0] not in state["done"]], opts, ctx)

    tokenizer = common.load_tokenizer(args.model)
    val_docs = common.load_documents(args.val_data, tokenizer, "validation", base.config.vocab_size)
    train_docs = common.load_documents(args.data, tokenizer, "train", base.config.vocab_size)
    stream = common.pack_documents(train_docs, tokenizer.eos_id)
    longest = max(n for _, kind, n in stages if kind == "finetune")
    if len(stream) <= longest + 1:
        raise ValueError(f"the training data holds {len(stream)} tokens, fewer than one {longest}-token sequence")
    # every sample the run needs exists, before hours are spent
    search_docs, eval_docs = pipeline_documents(val_docs, stages, original, target, args)
    del base
    if ctx.world == 1:  # what each stage will cost here, timed on this device (plan.py)
        timer = plan.PassTimer(common.apply_window(load_model(args.model, device=ctx.device, dtype=torch.float32),
                                                   ctx.window), autocast=ctx.bf16)
        passes = plan.stage_passes(stages, opts, budgets, original, RECOVER_SAMPLES, SHORT_EVAL_SAMPLES)
        passes = {name: p for name, p in passes.items() if name not in state["done"]}
        estimate = plan.estimate_minutes(timer, passes)
        plan.print_plan(passes, estimate, ctx.device)
        state.setdefault("estimated_minutes", {})
        for name, minutes in estimate.items():
            state["estimated_minutes"][name] = round(minutes, 2)  # the last plan made before the stage ran
        del timer
    if args.plan:
        return
    ctx.barrier()  # every rank has checked the folder before rank 0 claims it
    if ctx.main:
        os.makedirs(out, exist_ok=True)
        if not os.path.exists(state_path):
            common.save_json(state_path, state)  # claims the folder: a second run without --resume stops

    fmt = common.format_length
    model_dir = resolve_model_dir(args.model)
    factors_path = lambda n: os.path.join(out, f"factors-{fmt(n)}.json")  # noqa: E731
    tuned = [n for _, kind, n in stages if kind == "finetune"]
    tuned_dir = lambda n: os.path.join(out, f"finetune-{fmt(n)}")  # noqa: E731

    def searched(name, path, settings_values, model_path, docs, **kw):
        model = ctx.inference_model(model_path)
        settings = search.Settings(*settings_values, mutation_prob=0.3, seed=args.seed)
        saved = os.path.splitext(path)[0] + ".state.json"
        before = -1
        if os.path.exists(saved):
            with open(saved) as f:
                before = json.load(f)["iteration"]
        stop = None if ctx.left is None else before + ctx.left
        if kw.get("init") == "model":
            # the factors the model was fine-tuned with, and their attention scale: the weights learned that
            # temperature, and the second search only moves positions (the default for s = 512 L would be larger)
            kw["init"], kw["attention_factor"] = model.rope, tuned_attention_scale(model)
        # data-parallel groups share each generation's candidates; the ranks of a group score theirs together
        run = search.Run(path, resume=before >= 0, stop_after=stop, write=ctx.main, loss_fn=ctx.loss_fn(),
                         ranks=(ctx.dp_rank, ctx.dp_world), compare_methods=False,
                         provenance={"stage": name, "command": common.reproducing_command(argv)})
        rope = search.run_search(model, docs, search.plan(model, **kw), settings, run)
        del model
        if rope is None:
            raise Interrupted
        ctx.tick(settings.iterations - before)

    for name, kind, length in stages:
        if name in state["done"]:
            continue
        if ctx.main:
            print(f"\n== {name} ({fmt(length)} tokens) ==")
        started = time.time()
        if kind == "search":  # on the original model, as Section 3.3 searches 128k and 256k factors on Llama-2
            searched(name, factors_path(length), budgets["search_budget"], args.model, search_docs[length],
                     target_len=length, original=original)
        elif kind == "finetune":
            index = tuned.index(length)
            source = model_dir if index == 0 else tuned_dir(tuned[index - 1])
            rope = longrope.load_factors(factors_path(length), rotary_dim)
            log = finetune(source, rope, length, tuned_dir(length), index, stream, tokenizer, opts, ctx, resume=True)
            state["log"] = [r for r in state["log"] if r["stage"] != name] + log
        elif kind == "extend":  # the fine-tuned model, 8x beyond its fine-tuning length, no fine-tuning
            searched(name, factors_path(length), budgets["final_search_budget"], tuned_dir(tuned[-1]),
                     search_docs[length], target_len=length, original=original, init="model")
        elif kind == "recover":  # Section 3.3: short factors for sequences that fit the original window
            searched(name, os.path.join(out, "factors-final.json"), budgets["recover_budget"], tuned_dir(tuned[-1]),
                     search_docs[original], recover=longrope.load_factors(factors_path(target), rotary_dim))
        elif kind == "export" and ctx.main:
            export_model(tuned_dir(tuned[-1]), os.path.join(out, "factors-final.json"), os.path.join(out, "final"))
        elif kind == "summary":
            summary(args, ctx, out, original, tuned[-1], target, eval_docs, factors_path(tuned[-1]))
        state["done"].append(name)
        state["minutes"][name] = round((time.time() - started) / 60, 2)
        if ctx.main:
            if state["log"]:
                common.save_csv(os.path.join(out, "log.csv"), state["log"])
            common.save_json(state_path, state)
            if kind == "finetune":  # optimizer states are 12 bytes a parameter: drop them once the stage is done
                for leftover in ("state.pt", "deepspeed"):
                    path = os.path.join(tuned_dir(length), leftover)
                    if os.path.isdir(path):
                        shutil.rmtree(path)
                    elif os.path.exists(path):
                        os.remove(path)
        ctx.barrier()  # what rank 0 wrote (models, factor files) is there before any rank reads it
    if ctx.main:
        estimated = state.get("estimated_minutes", {})
        print(f"\ndone: {os.path.join(out, 'final')} (Hugging Face format, rope_type longrope); stage minutes "
              "(estimated before the run): " + ", ".join(f"{k} {v} ({estimated.get(k, '-')})"
                                                          for k, v in state["minutes"].items()))


@torch.inference_mode()
def summary(args, ctx, out, original, tuned, target, docs, tuned_factors):
    """Perplexity at the original, the fine-tuning and the target length, before and after (summary.json / .md)."""
    fmt = common.format_length
    lengths = sorted({original, tuned, target})
    rows = [("original model", args.model, None, lengths),
            (f"original + {fmt(tuned)} factors (no fine-tuning)", args.model, tuned_factors, [original, tuned]),
            (f"fine-tuned at {fmt(tuned)}", os.path.join(out, f"finetune-{fmt(tuned)}"), None, [original, tuned]),
            ("final (fine-tuned, searched, recovered)", os.path.join(out, "final"), None, lengths)]
    loss_fn = ctx.loss_fn()
    records = []
    for label, path, factors, at in rows:
        model = ctx.inference_model(path)
        rope = longrope.load_factors(factors, model.config.rotary_dim) if factors else model.rope
        for n in at:
            loss = loss_fn(model, rope, [d[:n] for d in docs["short" if n <= original else "long"]])
            records.append({"model": label, "length": n, "loss": round(loss, 5), "ppl": round(math.exp(loss), 4)})
            if ctx.main:
                print(f"{label:44s} {fmt(n):>6s}  ppl {math.exp(loss):10.3f}")
        del model
    if not ctx.main:
        return
    ppl = {(r["model"], r["length"]): r["ppl"] for r in records}
    first, searched_only, tuned_row, final = (row[0] for row in rows)
    checks = {
        f"fine-tuning lowers ppl at {fmt(tuned)}": ppl[tuned_row, tuned] < ppl[searched_only, tuned],
        f"final ppl at {fmt(target)} within 1.5x of the fine-tuned ppl at {fmt(tuned)}":
            ppl[final, target] <= 1.5 * ppl[tuned_row, tuned],
        f"final ppl at {fmt(original)} within 2% of the original model's": ppl[final, original] <= 1.02 * ppl[first, original],
    }
    for text, ok in checks.items():
        print(f"{'yes' if ok else 'NO '}  {text}")
    common.save_json(os.path.join(out, "summary.json"), {"records": records, "checks": checks,
                                                         "documents": {k: len(v) for k, v in docs.items()}})
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write(f"Perplexity on held-out documents, truncated to each length: {len(docs['short'])} at "
                f"{fmt(original)}, {len(docs['long'])} at the longer lengths.\n\n| model | "
                + " | ".join(fmt(n) for n in lengths) + " |\n|---|" + "---|" * len(lengths) + "\n")
        for label, *_ in rows:
            f.write(f"| {label} | " + " | ".join(f"{ppl[label, n]:.3f}" if (label, n) in ppl else "-"
                                                 for n in lengths) + " |\n")


def finetune_command(args, argv):
    torch.set_num_threads(args.threads)
    ctx = Context(args)
    base = load_model(args.model, device="cpu", dtype=torch.bfloat16)
    rotary_dim, original = base.config.rotary_dim, common.original_length(base, args.original_length)
    length = common.parse_length(args.length, original)
    rope = longrope.parse_rope(args.factors, rotary_dim, original, length)  # a factor file, or a method stretched
    ctx.window = common.parse_window(args.sliding_window, length)
    args.steps = parse_steps(args.steps)[:1]
    check_batches(args, ctx)
    check_memory(base.config, [("finetune", "finetune", length)], args, ctx)
    tokenizer = common.load_tokenizer(args.model)
    stream = common.pack_documents(common.load_documents(args.data, tokenizer, "train", base.config.vocab_size),
                                   tokenizer.eos_id)
    if len(stream) <= length + 1:
        raise ValueError(f"the training data holds {len(stream)} tokens, fewer than one {length}-token sequence")
    log = finetune(args.model, rope, length, args.out, 0, stream, tokenizer, args, ctx, args.resume)
    if ctx.main and log:
        common.save_csv(os.path.join(args.out, "log.csv"), log)
        print(f"wrote {args.out}; last loss {log[-1]['loss']:.4f}")


def add_run_args(p, defaults):
    p.add_argument("--model", default="tiny", help="model folder (Hugging Face or Meta format) or 'tiny'")
    p.add_argument("--data", default=None, help="training text folder/file or token file (.bin/.npy); "
                                                "None: the Python standard library")
    p.add_argument("--lr", type=float, default=None, help=f"peak learning rate (paper {PAPER['lr']}, "
                                                          f"tiny {TINY['lr']})")
    p.add_argument("--warmup", type=int, default=None, help="linear warmup steps, then linear decay to zero")
    p.add_argument("--batch", type=int, default=None, help="sequences per optimizer step (gradient accumulation)")
    p.add_argument("--short-batch", type=int, default=None,
                   help="sequences of the original length added to each step, to keep the short context "
                        f"(paper {PAPER['short_batch']}, tiny {TINY['short_batch']})")
    p.add_argument("--passkey-fraction", type=float, default=None,
                   help="share of the stage-length sequences that end in a passkey example of random length, so the "
                        f"model keeps retrieving (paper {PAPER['passkey_fraction']}, tiny {TINY['passkey_fraction']})")
    p.add_argument("--original-length", default=None,
                   help="the original context length L the stages are multiples of (default: the model's, or its "
                        "sliding window when that is shorter, as for Mistral-7B)")
    p.add_argument("--sliding-window", default="target",
                   help="Mistral's window during every stage and in the exported config: target (widened to the "
                        "target length, as the official LongRoPE code does: a 4k window caps attention at 4k tokens "
                        "whatever the factors), none, model (keep the checkpoint's), or a length")
    p.add_argument("--lora", action="store_true", help="train LoRA adapters on q, k, v, o instead of all weights")
    p.add_argument("--offload", action="store_true", help="DeepSpeed CPU offload of optimizer and parameters")
    p.add_argument("--sp", type=int, default=1, help="Ulysses sequence-parallel degree (under torchrun/deepspeed)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")
    p.add_argument("--save-every", type=int, default=10, help="fine-tuning steps between resumable states")
    p.add_argument("--resume", action="store_true", help="continue the run saved in --out")
    p.add_argument("--stop-after", type=int, default=None,
                   help="stop as a kill would after this many steps and search iterations (for tests)")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    fmt = argparse.ArgumentDefaultsHelpFormatter
    if argv and argv[0] == "pretrain":
        import pretrain
        return pretrain.main(argv[1:])

    if argv and argv[0] == "finetune":
        parser = argparse.ArgumentParser(prog="train.py finetune", description="fine-tune one stage: a model at one "
                                         "length with one factor file or rescaling method", formatter_class=fmt)
        add_run_args(parser, PAPER)
        parser.add_argument("--factors", required=True,
                            help="factor file (search.py) to fine-tune with, or a method stretched to --length: pi, "
                                 "ntk, yarn, llama3 (the baselines' recipes: PI for Together-32k and LongLoRA, YaRN "
                                 "for YaRN-64k/128k), none")
        parser.add_argument("--length", required=True, help="sequence length, e.g. 128k or 32x")
        parser.add_argument("--steps", type=int, default=400)
        parser.add_argument("--out", required=True, help="folder for the fine-tuned model and its state")
        args = parser.parse_args(argv[1:])
        fill_defaults(args, PAPER if resolve_model_dir(args.model) != TINY_DIR else TINY, skip=("steps",))
        validate_run_args(args)
        try:
            return finetune_command(args, argv)
        except Interrupted:
            print(f"stopped after --stop-after {args.stop_after} steps; continue with --resume")
        return

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_args(parser, PAPER)
    parser.add_argument("--target", default="512x",
                        help="how far to extend: 32x/64x fine-tune only, 512x (2048k for a 4k model) adds the "
                             "second search; also e.g. 256k")
    parser.add_argument("--finetune-lengths", default=plan.FINETUNE_LENGTHS,
                        help="the fine-tuning stages' lengths, those up to the target (the paper's 128k and 256k for "
                             "a 4k model; e.g. 4x,8x to fine-tune at 512 and 1k tokens)")
    parser.add_argument("--out", default=None, help="folder for every stage's outputs (default: runs/<model>-<target>)")
    parser.add_argument("--val-data", default=None, help="documents for the searches and the summary "
                                                         "(default: the stdlib validation split)")
    parser.add_argument("--steps", default=None, help="fine-tuning steps per stage, e.g. 400,600")
    parser.add_argument("--search-budget", default=None, help="first searches: population,iterations,parents,"
                                                              "mutations,crossovers")
    parser.add_argument("--final-search-budget", default=None, help="the search at the target, same format")
    parser.add_argument("--recover-budget", default=None, help="the short-factor search, same format")
    parser.add_argument("--search-samples", type=int, default=None, help="documents each search scores on")
    parser.add_argument("--eval-samples", type=int, default=None, help="held-out documents of the summary")
    parser.add_argument("--plan", action="store_true", help="print the stages with their timed estimates and stop")
    args = parser.parse_args(argv)
    fill_defaults(args, PAPER if resolve_model_dir(args.model) != TINY_DIR else TINY)
    validate_run_args(args)
    if args.out is None:
        name = "tiny" if resolve_model_dir(args.model) == TINY_DIR else os.path.basename(os.path.normpath(args.model))
        args.out = os.path.join("runs", f"{name}-{args.target}")
    try:
        pipeline(args, argv)
    except Interrupted:
        print(f"stopped after --stop-after {args.stop_after} units; continue with --resume")


def fill_defaults(args, defaults, skip=()):
    """Unset options take the paper's values for real models and the tiny ones (TINY) for the tiny model."""
    for k, v in defaults.items():
        if k not in skip and getattr(args, k, "absent") is None:
            setattr(args, k, v)


def validate_run_args(args):
    for name in ("batch", "threads", "save_every", "sp"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    for name in ("search_samples", "eval_samples"):
        if getattr(args, name, 1) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if not args.lr > 0:
        raise ValueError(f"--lr must be positive, got {args.lr}")
    if args.offload and int(os.environ.get("WORLD_SIZE", "1")) == 1:
        raise ValueError("--offload is DeepSpeed's: launch with torchrun or deepspeed (one process trains with "
                         "torch's AdamW on the device)")
    if not 0 <= args.passkey_fraction <= 1:
        raise ValueError(f"--passkey-fraction must lie in [0, 1], got {args.passkey_fraction}")
    if args.short_batch < 0:
        raise ValueError(f"--short-batch must be non-negative, got {args.short_batch}")
    if args.warmup < 0:
        raise ValueError(f"--warmup must be non-negative, got {args.warmup}")


if __name__ == "__main__":
    common.run_cli(main)
