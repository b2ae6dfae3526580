"""The paper's central experiment in miniature: LongRoPE against PI and YaRN, each fine-tuned on the same budget,
out to 512x the original length (LongRoPE, Ding et al. 2024, arXiv 2402.13753: Figure 1, Tables 5-7, passkey in
Section 4.2, ablations of Section 4.3).

    python compare.py --out docs/finetuned            (the tiny model; --resume continues a killed run)

Steps, each saved as it finishes (compare.json) and skipped on --resume:

    longrope     the progressive pipeline of train.py, as `python train.py` runs it (search 32L and 64L, fine-tune
                 at 32L then 64L, search at 512L on the fine-tuned model, recovery), in <out>/longrope
    pi, yarn     the original model fine-tuned through the same two stages with the same data, steps, learning
                 rate, short sequences and passkey examples, its rope PI (or YaRN) stretched to each stage's length:
                 the recipe of Together-32k and LongLoRA (PI) and of YaRN-64k/128k, on LongRoPE's budget
    perplexity   every model at every length on --samples held-out long documents (the validation documents no
                 search saw, joined in path order where shorter: common.split_documents), truncated protocol
    passkey      retrieval accuracy by length and depth for the same models
    ablations    the second search without n_hat; the final model without its recovered short factors; the
                 fine-tuned factors stretched by PI or YaRN instead of searched again

`--pipeline-args '--finetune-lengths 4x,8x --target 64x'` moves every stage down the lengths, baselines included
(README: the comparison at 1k, where retrieval can be taught on a CPU).

A baseline is run as its users run it: a PI or YaRN model fine-tuned at 64L keeps its s = 64 up to 64L and is
stretched to s = n / L beyond. results.md, results.json and the figures (figure1.png, passkey_heatmaps.png) are
written to --out.
"""

import argparse
import json
import math
import os
import sys
import types
from dataclasses import replace

import torch
from tqdm import tqdm

import common
import eval as evaluation
import figures
import finetune
import longrope
import plan
import search
import train
from model import chunked_cross_entropy, load_model

BASELINES = ("pi", "yarn")
ABLATIONS = 7  # rows of `ablations`
FIGURE_LENGTHS = "1x,8x,32x,64x,128x,256x,512x"

# ----------------------------------------------------------------------------------------------------------------
# Models and their ropes at each length


ORIGINAL_METHODS = ("none", "pi", "ntk", "yarn")  # the untouched original model, stretched to each length


def contestants(out, model_dir, original, tuned, methods):
    """[(label, model folder, rope_at(model, length))]: every model of the comparison and the rope it runs at a
    length."""
    fmt = common.format_length
    stretched = lambda m, floor=0: lambda model, n: longrope.make_rope(m, original, max(n, floor))  # noqa: E731
    own = lambda model, n: model.rope  # noqa: E731  (a LongRoPE model's config carries its factors and n_hat)
    rows = [(f"original, {m}", model_dir, stretched(m)) for m in ORIGINAL_METHODS]
    rows += [(f"{m} fine-tuned at {fmt(tuned)}", os.path.join(out, f"{m}-{fmt(tuned)}"), stretched(m, tuned))
             for m in methods]  # its own s = tuned / L up to the fine-tuning length, stretched further beyond
    rows.append((f"LongRoPE fine-tuned at {fmt(tuned)}", os.path.join(out, "longrope", f"finetune-{fmt(tuned)}"), own))
    rows.append(("LongRoPE final", os.path.join(out, "longrope", "final"), own))
    return rows


@torch.inference_mode()
def prefix_losses(model, rope, document, lengths):
    """{length: mean loss of the document's first `length` tokens}, as `length`-token windows would score them,
    from one forward at the longest length: causal attention never looks ahead, and `rope` gives every position
    the same angles at all of these lengths (the caller groups lengths so)."""
    model.set_rope(rope)
    device = next(model.parameters()).device
    tokens = document[:max(lengths)].to(device)[None]
    hidden = model(tokens, rope_len=max(lengths))[0]  # (T, D)
    return {n: float(chunked_cross_entropy(hidden[:n - 1], model.lm_head.weight, tokens[0, 1:n])) / (n - 1)
            for n in lengths}


def same_angles(rope, lengths, original, rotary_dim, base):
    """Whether `rope` rescales every one of `lengths` alike (one forward can then serve them all)."""
    tables = {tuple(longrope.rope_frequencies(rope, rotary_dim, base, n)[0].tolist())
              + (longrope.rope_frequencies(rope, rotary_dim, base, n)[1], rope.n_hat and n > original) for n in lengths}
    return len(tables) == 1


def model_losses(model, rope_at, documents, lengths, original):
    """[[loss per document] per length] for one model, one forward per group of lengths sharing their angles."""
    cfg = model.config
    groups = {}
    for n in lengths:
        rope = rope_at(model, n)
        key = next((k for k in groups if k[0] == rope and same_angles(rope, groups[k] + [n], original, cfg.rotary_dim,
                                                                        cfg.rope_theta)), (rope, n))
        groups.setdefault(key, []).append(n)
    losses = {}
    for (rope, _), group in groups.items():
        for index, document in enumerate(documents):
            for n, loss in prefix_losses(model, rope, document, group).items():
                losses.setdefault(n, [None] * len(documents))[index] = loss
    return [losses[n] for n in lengths]


# ----------------------------------------------------------------------------------------------------------------
# The steps


def finetune_baseline(method, out, run, stages, original, vocab_size, ctx):
    """The original model through the pipeline's fine-tuning stages, with PI or YaRN stretched to each length."""
    tokenizer = common.load_tokenizer(run["model"])
    data = common.load_documents(run["data"], tokenizer, "train", vocab_size)
    stream = common.pack_documents(data, tokenizer.eos_id)
    opts = types.SimpleNamespace(**{k: run[k] for k in ("steps", "lr", "warmup", "batch", "short_batch", "seed",
                                                        "lora", "passkey_fraction")}, offload=False, save_every=10)
    source = run["model"]
    for index, (_, _, n) in enumerate(s for s in stages if s[1] == "finetune"):
        folder = os.path.join(out, f"{method}-{common.format_length(n)}")
        if not os.path.exists(os.path.join(folder, "config.json")) or os.path.exists(os.path.join(folder, "state.pt")):
            finetune.finetune(source, longrope.make_rope(method, original, n), n, folder, index, stream, tokenizer,
                              opts, ctx, resume=True)
            if os.path.exists(os.path.join(folder, "state.pt")):
                os.remove(os.path.join(folder, "state.pt"))
        source = folder


def perplexity(rows, documents, lengths, original, records, save, device):
    bar = tqdm(rows, desc="perplexity", unit="model")
    for label, folder, rope_at in bar:
        if any(r["model"] == label for r in records):
            continue
        model = load_model(folder, device=device)
        for n, losses in zip(lengths, model_losses(model, rope_at, documents, lengths, original)):
            ppl = [math.exp(min(loss, 700)) for loss in losses]
            records.append({"model": label, "length": n, "loss": sum(losses) / len(losses),
                            "ppl": math.exp(min(sum(losses) / len(losses), 700)), "ppl_min": min(ppl),
                            "ppl_max": max(ppl), "documents": len(losses)})
        save()
        del model
    return records


def passkey(rows, lengths, depths, trials, seed, records, save, device):
    for label, folder, rope_at in tqdm(rows, desc="passkey", unit="model"):
        if any(r["model"] == label for r in records):
            continue
        model = load_model(folder, device=device)
        tokenizer = common.load_tokenizer(folder)
        for n in lengths:
            for depth in depths:
                accuracy, pairs = evaluation.passkey_accuracy(model, tokenizer, rope_at(model, n), n, depth, trials,
                                                              seed, not tokenizer.byte_level)
                records.append({"model": label, "length": n, "depth": depth, "accuracy": accuracy,
                                "trials": trials, "answers": " ".join(f"{k}:{a or '-'}" for k, a in pairs)})
        save()
        del model
    return records


def ablations(out, run, stages, original, target, tuned, documents, short_documents, records, save, device,
              measured=()):
    """Section 4.3 in miniature, each row on the held-out documents: the second search with and without n_hat
    (Table 11), the final model at L with its recovered short factors, with the identity (this code's short set
    before recovery) and with its long factors (the paper's model without recovery, Table 10), and the fine-tuned
    factors stretched by PI or YaRN (the second search's seeds) against the searched ones."""
    fmt = common.format_length
    tuned_dir = os.path.join(out, "longrope", f"finetune-{fmt(tuned)}")
    model = load_model(tuned_dir, device=device)
    scale = train.tuned_attention_scale(model)
    no_n_hat = os.path.join(out, f"ablation-{fmt(target)}-no-n_hat.json")
    if not os.path.exists(no_n_hat):  # the pipeline's second search again, on the same documents, n_hat fixed at 0
        args = types.SimpleNamespace(val_data=run["val_data"], search_samples=run["search_samples"],
                                     eval_samples=run["eval_samples"], seed=run["seed"])
        tokenizer = common.load_tokenizer(run["model"])
        val_docs = common.load_documents(run["val_data"], tokenizer, "validation", model.config.vocab_size)
        search_docs, _ = train.pipeline_documents(val_docs, stages, original, target, args)
        budget = train.parse_budget(run["final_search_budget"], "--final-search-budget")
        settings = search.Settings(*budget, mutation_prob=0.3, seed=run["seed"])
        without = search.plan(model, target, original, init=model.rope, attention_factor=scale, search_n_hat=False)
        search.run_search(model, search_docs[target], without, settings,
                          search.Run(no_n_hat, resume=True, compare_methods=False,
                                     provenance={"stage": "ablation: second search without n_hat"}))
    second = search.plan(model, target, original, init=model.rope, attention_factor=scale)
    seeds, to_rope = dict(second.seeds), second.rope
    final = longrope.load_factors(os.path.join(out, "longrope", "factors-final.json"), model.config.rotary_dim)
    rows = [("second search (with n_hat)", tuned_dir, final, documents, target),
            ("second search without n_hat", tuned_dir, longrope.load_factors(no_n_hat, model.config.rotary_dim),
             documents, target),
            (f"{fmt(tuned)} factors stretched by PI (no second search)", tuned_dir, to_rope(seeds["init"]),
             documents, target),
            (f"{fmt(tuned)} factors stretched by YaRN's rule (no second search)", tuned_dir,
             to_rope(seeds["init-yarn"]), documents, target),
            ("final, recovered short factors", os.path.join(out, "longrope", "final"), None, short_documents,
             original),
            ("final, without recovery (identity short factors)", os.path.join(out, "longrope", "final"), "identity",
             short_documents, original),
            ("final, its long factors at L (the paper's model without recovery)", os.path.join(out, "longrope", "final"),
             "long", short_documents, original)]
    del model
    final_at_target = next((r for r in measured if r["model"] == "LongRoPE final" and r["length"] == target), None)
    for label, folder, rope, docs, n in rows:
        if any(r["ablation"] == label for r in records):
            continue
        if label == "second search (with n_hat)" and final_at_target is not None:
            # the final model with its own rope on the same documents at the target: the perplexity step measured it
            records.append({"ablation": label, **{k: final_at_target[k] for k in ("length", "ppl", "ppl_min",
                                                                                     "ppl_max", "documents")},
                            "n_hat": final.n_hat})
            save()
            continue
        model = load_model(folder, device=device)
        if rope is None or rope in ("identity", "long"):  # the final model's own, or its short set replaced
            rope = {None: model.rope, "identity": replace(model.rope, short_factor=None),
                    "long": replace(model.rope, short_factor=model.rope.long_factor)}[rope]
        losses = [search.evaluate_loss(model, rope, [d[:n]]) for d in docs]
        ppl = [math.exp(loss) for loss in losses]
        records.append({"ablation": label, "length": n, "ppl": math.exp(sum(losses) / len(losses)),
                        "ppl_min": min(ppl), "ppl_max": max(ppl), "documents": len(docs), "n_hat": rope.n_hat,
                        "long_factor": list(rope.long_factor)})
        save()
    return records


# ----------------------------------------------------------------------------------------------------------------
# Tables and figures


def figure1(records, tuned, path):
    plt = figures.pyplot()
    fig, ax = plt.subplots(figsize=(7.2, 4.8))
    for label in dict.fromkeys(r["model"] for r in records):
        rows = sorted((r for r in records if r["model"] == label), key=lambda r: r["length"])
        ppl = [r["ppl"] for r in rows]
        spread = [[p - r["ppl_min"] for p, r in zip(ppl, rows)], [r["ppl_max"] - p for p, r in zip(ppl, rows)]]
        style = "-" if "fine-tuned" in label or "final" in label else ":"
        ax.errorbar([r["length"] for r in rows], ppl, yerr=spread, marker="o", markersize=3, capsize=2,
                    linestyle=style, label=label)
    ax.axvline(tuned, color="grey", linestyle="--", linewidth=1)
    ax.text(tuned, 0.02, f" fine-tuned at {common.format_length(tuned)}", color="grey", va="bottom",
            transform=ax.get_xaxis_transform())  # x in data, y in axes coordinates: the bottom of the plot
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("context length (tokens)")
    ax.set_ylabel("perplexity (mean; bars: min-max)")
    ax.set_title("Figure 1 in miniature: fine-tuned PI and YaRN against LongRoPE")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def passkey_heatmaps(records, path):
    plt = figures.pyplot()
    models = list(dict.fromkeys(r["model"] for r in records))
    lengths = sorted({r["length"] for r in records})
    depths = sorted({r["depth"] for r in records})
    columns = 4
    fig, axes = plt.subplots((len(models) + columns - 1) // columns, columns, figsize=(12, 2.6 * math.ceil(
        len(models) / columns)), squeeze=False)
    for ax, label in zip(axes.flat, models):
        cell = {(r["length"], r["depth"]): r["accuracy"] for r in records if r["model"] == label}
        grid = [[cell.get((n, d), float("nan")) for n in lengths] for d in depths]
        ax.imshow(grid, vmin=0, vmax=1, cmap="RdYlGn", aspect="auto")
        ax.set_xticks(range(len(lengths)), [common.format_length(n) for n in lengths], fontsize=7)
        ax.set_yticks(range(len(depths)), [f"{d:.0%}" for d in depths], fontsize=7)
        ax.set_title(label, fontsize=8)
    for ax in list(axes.flat)[len(models):]:
        ax.axis("off")
    fig.suptitle("Passkey accuracy by length (x) and needle depth (y)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def results_markdown(state, documents, budget):
    fmt = common.format_length
    ppl, keys, ablation = state["perplexity"], state["passkey"], state["ablations"]
    lengths = sorted({r["length"] for r in ppl})
    lines = [f"Perplexity on {documents} held-out documents (truncated to each length): mean, and min-max over the "
             "documents.", "", "| model | " + " | ".join(fmt(n) for n in lengths) + " |",
             "|---|" + "---|" * len(lengths)]
    cell = {(r["model"], r["length"]): r for r in ppl}
    for label in dict.fromkeys(r["model"] for r in ppl):
        lines.append(f"| {label} | " + " | ".join(
            f"{cell[label, n]['ppl']:.3g} ({cell[label, n]['ppl_min']:.3g}-{cell[label, n]['ppl_max']:.3g})"
            for n in lengths) + " |")
    if keys:
        key_lengths = sorted({r["length"] for r in keys})
        trials = sum(r["trials"] for r in keys if r["model"] == keys[0]["model"] and r["length"] == key_lengths[0])
        lines += ["", f"Passkey accuracy ({trials} prompts per cell: depths x trials):", "",
                  "| model | " + " | ".join(fmt(n) for n in key_lengths) + " |", "|---|" + "---|" * len(key_lengths)]
        for label in dict.fromkeys(r["model"] for r in keys):
            accuracy = [[r["accuracy"] for r in keys if r["model"] == label and r["length"] == n] for n in key_lengths]
            lines.append(f"| {label} | " + " | ".join(f"{sum(a) / len(a):.2f}" for a in accuracy) + " |")
    if ablation:
        lines += ["", "Ablations (held-out documents):", "", "| ablation | length | perplexity (min-max) |",
                  "|---|---|---|"]
        lines += [f"| {r['ablation']} | {fmt(r['length'])} | {r['ppl']:.3f} ({r['ppl_min']:.3f}-{r['ppl_max']:.3f}) |"
                  for r in ablation]
    return "\n".join(lines + ["", budget, ""])


# ----------------------------------------------------------------------------------------------------------------
# Command line


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="tiny", help="the model to extend (default: the tiny one)")
    p.add_argument("--out", default="runs/compare", help="folder for every model, table and figure")
    p.add_argument("--methods", default=",".join(BASELINES), help="fine-tuned baselines: pi, yarn")
    p.add_argument("--lengths", default=FIGURE_LENGTHS, help="perplexity lengths (x: times the original length)")
    p.add_argument("--samples", type=int, default=5, help="held-out documents per perplexity cell")
    p.add_argument("--passkey-lengths", default="1x,8x,32x,64x,128x", help="passkey lengths (CPU: up to 16k)")
    p.add_argument("--depths", default="0,0.5,1", help="needle depths of the passkey prompts")
    p.add_argument("--trials", type=int, default=4, help="passkey prompts per length and depth")
    p.add_argument("--pipeline-args", default="", help="extra train.py options for the LongRoPE pipeline (and so "
                                                        "for the baselines' budget), e.g. '--steps 40,30'")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--resume", action="store_true", help="continue the experiment saved in --out")
    p.add_argument("--report", action="store_true", help="no work: write results.md and the figures from what --out "
                                                         "holds so far (a run still going, or stopped)")
    return p.parse_args(argv)


def main(argv=None):
    import shlex
    args = parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    for m in methods:
        if m not in BASELINES:
            raise ValueError(f"unknown fine-tuned baseline '{m}'; expected {' or '.join(BASELINES)}")
    for name in ("samples", "trials"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name} must be at least 1, got {getattr(args, name)}")
    torch.set_num_threads(args.threads)
    state_path = os.path.join(args.out, "compare.json")
    settings = {k: getattr(args, k) for k in ("model", "methods", "lengths", "samples", "passkey_lengths", "depths",
                                              "trials", "pipeline_args")}
    if args.report and not os.path.exists(state_path):
        raise ValueError(f"--report: {args.out} holds no experiment ({state_path} is missing)")
    if os.path.exists(state_path) and not (args.resume or args.report):
        raise ValueError(f"{args.out} already holds an experiment; add --resume to continue it or choose another --out")
    state = {"settings": settings, "done": [], "perplexity": [], "passkey": [], "ablations": []}
    if os.path.exists(state_path):
        with open(state_path) as f:
            state = json.load(f)
        for k, v in state["settings"].items():
            if settings.get(k) != v:
                raise ValueError(f"--resume: {state_path} was made with {k} = {v!r}, not {settings.get(k)!r}")
    save = lambda: common.save_json(state_path, state)  # noqa: E731

    # every length must exist in the held-out documents before hours are spent
    model = load_model(args.model, device="cpu", dtype=torch.bfloat16)
    original = common.original_length(model)
    lengths = common.parse_lengths(args.lengths, original)
    key_lengths = common.parse_lengths(args.passkey_lengths, original)
    depths = [float(d) for d in args.depths.split(",")]
    tokenizer = common.load_tokenizer(args.model)
    pipeline_args = shlex.split(args.pipeline_args)
    val_data = pipeline_args[pipeline_args.index("--val-data") + 1] if "--val-data" in pipeline_args else None
    held_out = common.split_documents(common.load_documents(val_data, tokenizer, "validation",
                                                            model.config.vocab_size))[1]
    what = "the held-out part of the validation documents"
    documents = common.sample_documents(held_out, max(lengths), args.samples, 2, what, join=True)
    short_documents = common.sample_documents(held_out, original, train.SHORT_EVAL_SAMPLES, 2, what, join=True)
    os.makedirs(args.out, exist_ok=True)

    pipeline_dir = os.path.join(args.out, "longrope")
    if not args.report:
        save()
    if "longrope" not in state["done"] and not args.report:
        train.main(["--model", args.model, "--out", pipeline_dir, "--resume", "--threads", str(args.threads),
                    *(["--device", args.device] if args.device else []), *pipeline_args])
        state["done"].append("longrope")
        save()
    if "longrope" not in state["done"]:
        raise ValueError(f"--report: the LongRoPE pipeline in {pipeline_dir} has not finished; nothing to report yet")
    with open(os.path.join(pipeline_dir, "pipeline.json")) as f:
        run = json.load(f)["run"]
    final = longrope.load_factors(os.path.join(pipeline_dir, "factors-final.json"), model.config.rotary_dim)
    target = int(round(final.factor * final.original_max_len))
    stages = train.plan_stages(original, target, train.finetune_lengths(
        run.get("finetune_lengths", plan.FINETUNE_LENGTHS), original))
    tuned = [n for _, kind, n in stages if kind == "finetune"][-1]
    ctx = finetune.Context(types.SimpleNamespace(device=args.device, sp=1, stop_after=None))
    for m in methods:
        if m not in state["done"] and not args.report:
            finetune_baseline(m, args.out, run, stages, original, model.config.vocab_size, ctx)
            state["done"].append(m)
            save()
    device = ctx.device
    rows = contestants(args.out, args.model, original, tuned, methods)
    if not args.report:
        perplexity(rows, documents, lengths, original, state["perplexity"], save, device)
        passkey(rows, key_lengths, depths, args.trials, run["seed"], state["passkey"], save, device)
        ablations(args.out, run, stages, original, target, tuned, documents, short_documents, state["ablations"],
                  save, device, state["perplexity"])
    missing = [step for step, records, per_model in (("perplexity", state["perplexity"], len(lengths)),
                                                     ("passkey", state["passkey"], len(key_lengths) * len(depths)))
               if len(records) < len(rows) * per_model]
    missing += [] if len(state["ablations"]) >= ABLATIONS else ["ablations"]
    budget = (f"The same budget for every fine-tuned model: the stages {', '.join(common.format_length(n) for _, k, n in stages if k == 'finetune')}, "
              f"steps {run['steps']}, {run['batch']} sequences of the stage length and {run['short_batch']} of "
              f"{original} tokens per step, learning rate {run['lr']} ({run['warmup']} warmup steps, linear decay), "
              f"{run['passkey_fraction']:.0%} of the sequences ending in a passkey example, the same sequences "
              f"(seed {run['seed']}); LongRoPE adds its searches. Command: "
              + common.reproducing_command(sys.argv[1:] if argv is None else argv, "compare.py"))
    if missing:
        budget += (f"\n\nIncomplete: {', '.join(missing)} not yet measured for every model "
                   f"(`python compare.py --out {args.out} --resume` continues)")
    written = [figure1(state["perplexity"], tuned, os.path.join(args.out, "figure1.png"))] if state["perplexity"] else []
    if state["passkey"]:
        written.append(passkey_heatmaps(state["passkey"], os.path.join(args.out, "passkey_heatmaps.png")))
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(results_markdown(state, len(documents), budget))
    written += [os.path.join(args.out, "results.md"), state_path]
    print(results_markdown(state, len(documents), budget))
    print("wrote " + ", ".join(written))


if __name__ == "__main__":
    common.run_cli(main)
