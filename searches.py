"""The searches compared (`python bench.py --searches --out docs/searches.md`): LongRoPE's evolutionary search (2024,
arXiv 2402.13753) and LongRoPE2's (2025, arXiv 2502.20082), each with and without early rejection, a gradient fit
of the log-factors as a reference, and YaRN unsearched, on the built-in tiny model at 8x without fine-tuning:
held-out bits per byte, forward passes, minutes and passkey accuracy for each search's factors.
"""

import json
import math
import os
import time

import torch



def differentiable_tables(log_factors, rotary_dim, base, scale):
    """longrope.rope_cos_sin for the long factors exp(log_factors), n_hat = 0, as a function of (seq_len, device)
    that autograd sees through (the model's `rope_tables`)."""
    from longrope import inverse_frequencies
    theta_i = inverse_frequencies(rotary_dim, base)

    def tables(seq_len, device):
        positions = torch.arange(seq_len, dtype=torch.float32)
        angles = positions[:, None] * (theta_i / log_factors.exp())[None]  # (T, hd/2)
        angles = torch.cat((angles, angles), dim=-1).to(device)  # (T, hd)
        return angles.cos() * scale, angles.sin() * scale
    return tables


def gradient_fit(model, documents, original, length, steps, lr=0.05):
    """A reference, not a search: the log-factors fitted by Adam to the mean loss (every token) on the search
    documents, from YaRN's factors, with LongRoPE's attention scale and no n_hat. cos/sin are rebuilt from the
    factors inside the graph (the model's own tables are cached and carry no gradient). Returns the RopeScaling and
    the forward + backward passes it took."""
    from longrope import RopeScaling, longrope_attention_scale, make_rope, rescale_factors
    rotary_dim, theta = model.config.rotary_dim, model.config.rope_theta
    start = rescale_factors(make_rope("yarn", original, length), rotary_dim, theta, length)
    log_factors = torch.tensor(start, dtype=torch.float32).log().requires_grad_(True)
    tables = differentiable_tables(log_factors, rotary_dim, theta, longrope_attention_scale(length / original, original))
    weights = [p.requires_grad for p in model.parameters()]
    model.requires_grad_(False)
    model.rope_tables = tables  # this instance only, removed below
    optimizer = torch.optim.Adam([log_factors], lr=lr)
    try:
        with torch.enable_grad():
            for _ in range(steps):
                optimizer.zero_grad()
                for doc in documents:  # one graph at a time: the gradients add up
                    (model.loss(doc[None]) / len(documents)).backward()
                optimizer.step()
    finally:
        del model.rope_tables
        for p, w in zip(model.parameters(), weights):
            p.requires_grad_(w)
    factors = tuple(float(f) for f in log_factors.detach().exp())
    return RopeScaling("longrope", length / original, original, long_factor=factors), steps * len(documents)


def compare_searches(work, budget=(16, 8, 8, 8, 8), samples=8, held_out=8, margins=(0.02,), gradient_steps=30,
                     trials=10, seed=0, save=lambda result: None,
                     methods=("longrope", "longrope2", "gradient", "yarn")):
    """Each search on the tiny model at 8x, without fine-tuning, on the same `samples` search documents and the
    same budget (population, iterations, parents, mutations, crossovers): LongRoPE (search.py), LongRoPE2
    (search.py --longrope2: needles planted in the same documents), each also with `--early-reject MARGIN` for every
    margin, a gradient fit (`gradient_fit`) and YaRN unsearched. Each one's factors are then measured on `held_out`
    documents of the held-out part (common.split_documents), which no search saw: bits per byte per document, and
    passkey accuracy at 8x (5 depths x `trials`). Factor files, states and logs go to `work`; `save(result)` is
    called after each search, so a killed run keeps the rows it finished. `methods` picks the rows (searches with
    their early-rejection variants)."""
    import common
    import eval as evaluation
    import longrope2
    import search
    from longrope import make_rope
    from model import load_model
    model, tokenizer = load_model("tiny", device="cpu"), common.load_tokenizer("tiny")
    original = model.rope.original_max_len
    length = 8 * original
    search_part, held_part = common.split_documents(common.load_documents(None, tokenizer))
    documents = common.sample_documents(search_part, length, samples, seed, "the search documents", join=True)
    needles = longrope2.needle_samples(documents, tokenizer, seed)
    evaluation_docs = common.sample_documents(held_part, length, held_out, seed, "the held-out documents", join=True)
    runs = [(name, None, cd) for name, cd in (("longrope", None), ("longrope2", "auto")) if name in methods]
    runs = [r for name, _, cd in runs for r in [(name, None, cd)] + [(name, m, cd) for m in margins]]
    runs += [(name, None, None) for name in ("gradient fit", "yarn (no search)") if name.split()[0] in methods]
    setup = {"model": "tiny", "length": length, "original": original, "budget": list(budget), "samples": samples,
             "held_out": held_out, "margins": list(margins), "gradient_steps": gradient_steps, "trials": trials,
             "seed": seed, "critical_dim": search.plan(model, length, original, critical_dim="auto").space.critical_dim,
             "threads": torch.get_num_threads(), "methods": list(methods)}
    records = []
    for name, margin, cd in runs:
        label = name + ("" if margin is None else f" + early rejection {margin:g}")
        started = time.perf_counter()
        if name == "gradient fit":
            rope, passes = gradient_fit(model, documents, original, length, gradient_steps)
        elif name.startswith("yarn"):
            rope, passes = make_rope("yarn", original, length), 0
        else:
            plan = search.plan(model, length, original, critical_dim=cd)
            settings = search.Settings(*budget, seed=seed, early_reject=margin)
            out = os.path.join(work, label.replace(" ", "-").replace("+-", "") + ".json")
            rope = search.run_search(model, needles if cd else documents, plan, settings, search.Run(
                out, loss_fn=longrope2.needle_loss if cd else search.evaluate_loss, compare_methods=False,
                provenance={"command": f"python bench.py --searches ({label})"}))
            passes = rope.extra["forward_passes"]
        minutes = (time.perf_counter() - started) / 60
        model.set_rope(rope)
        bits = []
        for doc in evaluation_docs:
            nats, count = evaluation.document_loss(model, doc, length)
            bits.append(nats / count / math.log(2))
        passkey = [evaluation.passkey_accuracy(model, tokenizer, rope, length, depth, trials, seed, False)[0]
                   for depth in (0.0, 0.25, 0.5, 0.75, 1.0)]
        records.append({"search": label, "bits": sum(bits) / len(bits), "bits_min": min(bits), "bits_max": max(bits),
                        "bits_per_document": bits, "forward_passes": passes, "minutes": minutes,
                        "passkey": sum(passkey) / len(passkey), "passkey_by_depth": passkey,
                        "fitness": rope.extra.get("loss"), "long_factor": list(rope.long_factor or []),
                        "attention_factor": rope.attention_factor, "n_hat": rope.n_hat})
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in records[-1].items()
                          if k in ("search", "bits", "forward_passes", "minutes", "passkey")}))
        save({"setup": setup, "searches": records})
    return {"setup": setup, "searches": records}


def searches_table(result):
    """The markdown table of --searches (from its JSON)."""
    full = {r["search"]: r["forward_passes"] for r in result["searches"]}
    lines = ["| search | held-out bits per byte (min - max) | forward passes | share of the full search's | minutes "
             "| passkey at 8x |", "|---" * 6 + "|"]
    for r in result["searches"]:
        base = full.get(r["search"].split(" + ")[0])
        share = f"{r['forward_passes'] / base:.0%}" if " + " in r["search"] and base else "-"
        lines.append(f"| {r['search']} | {r['bits']:.4f} ({r['bits_min']:.3f} - {r['bits_max']:.3f}) | "
                     f"{r['forward_passes']} | {share} | {r['minutes']:.1f} | {r['passkey']:.2f} |")
    return "\n".join(lines)


def racing_table(results):
    """The markdown table of early rejection (margin 0) against the full search, one row per --searches run (from
    their JSONs, each with both rows) and their mean: held-out bits per byte, the difference, and the share of the
    full search's forward passes that racing spent."""
    lines = ["| seed | full search: held-out bits per byte | racing (margin 0) | difference | racing's forward passes "
             "(share of the full search's) |", "|---" * 5 + "|"]
    rows = []
    for result in sorted(results, key=lambda r: r["setup"]["seed"]):
        by_name = {r["search"]: r for r in result["searches"]}
        full, raced = by_name["longrope"], by_name["longrope + early rejection 0"]
        rows.append((result["setup"]["seed"], full["bits"], raced["bits"], 100 * (raced["bits"] / full["bits"] - 1),
                     raced["forward_passes"], raced["forward_passes"] / full["forward_passes"]))
    for seed, full, raced, difference, passes, share in rows:
        lines.append(f"| {seed} | {full:.4f} | {raced:.4f} | {difference:+.2f}% | {passes} ({share:.0%}) |")
    mean = [sum(r[i] for r in rows) / len(rows) for i in range(1, 6)]
    lines.append(f"| mean of {len(rows)} | {mean[0]:.4f} | {mean[1]:.4f} | {mean[2]:+.2f}% | {mean[3]:.0f} "
                 f"({mean[4]:.0%}) |")
    return "\n".join(lines)


def time_processes(work, processes, budget=(16, 8, 8, 8, 8), samples=8, seed=0, early_reject=None):
    """One search (search.py on the tiny model at 8x, `budget`, `samples` documents) timed as a user runs it: in one
    process with one thread, in one process with `processes` threads, and under torchrun in `processes` processes
    of one thread each, which share each generation's candidates (`algorithm1.score_generation`). Wall time of the
    whole command (start-up included), and whether each run's state and candidate log equal the first's byte for
    byte."""
    import socket
    import subprocess
    import sys
    here = os.path.dirname(os.path.abspath(__file__))
    shape = ["--model", "tiny", "--target", "8x", "--samples", samples, "--seed", seed, "--device", "cpu",
             *[v for flag, n in zip(("--population", "--iterations", "--parents", "--mutations", "--crossovers"),
                                    budget) for v in (flag, n)],
             *([] if early_reject is None else ["--early-reject", early_reject])]
    runs = [("1 process, 1 thread", 1, 1), (f"1 process, {processes} threads", 1, processes),
            (f"{processes} processes, 1 thread each", processes, 1)]
    records = []
    for label, n, threads in runs:
        out = os.path.join(work, f"processes-{n}x{threads}.json")
        for suffix in (".json", ".state.json", ".history.csv"):  # a fresh search each time
            if os.path.exists(out[:-5] + suffix):
                os.remove(out[:-5] + suffix)
        command = [os.path.join(here, "search.py"), *map(str, shape), "--threads", str(threads), "--out", out]
        if n > 1:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = str(s.getsockname()[1])
            command = ["-m", "torch.distributed.run", "--nproc_per_node", str(n), "--master_port", port, *command]
        started = time.perf_counter()
        done = subprocess.run([sys.executable, *command], env=dict(os.environ, OMP_NUM_THREADS=str(threads)),
                              capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise ValueError(f"the search in {label} failed ({last})")
        logs = [open(out[:-5] + suffix).read() for suffix in (".state.json", ".history.csv")]
        records.append({"run": label, "processes": n, "threads": threads, "seconds": seconds,
                        "forward_passes": json.load(open(out))["forward_passes"], "logs": logs})
        print(json.dumps({k: round(v, 1) if isinstance(v, float) else v for k, v in records[-1].items()
                          if k != "logs"}))
    first = records[0]["logs"]
    for r in records:
        r["same_result"] = r.pop("logs") == first
        r["speedup"] = records[0]["seconds"] / r["seconds"]
    return {"setup": {"model": "tiny", "target": "8x", "budget": list(budget), "samples": samples, "seed": seed,
                      "early_reject": early_reject, "cpus": os.cpu_count()}, "runs": records}


def processes_table(result):
    """The markdown table of --searches --processes (from its JSON)."""
    lines = ["| run | wall time (s) | speed-up over 1 process, 1 thread | forward passes | same state and log |",
             "|---" * 5 + "|"]
    for r in result["runs"]:
        lines.append(f"| {r['run']} | {r['seconds']:.1f} | {r['speedup']:.2f}x | {r['forward_passes']} | "
                     f"{'yes' if r['same_result'] else 'no'} |")
    return "\n".join(lines)


def main(args, argv):
    """`python bench.py --searches [--processes N]`: the searches compared, or one search timed in 1 and N
    processes; writes args.out (markdown, headed by the command) and a JSON beside it."""
    from common import save_json
    budget = [int(v) for v in args.budget.split(",")]
    if len(budget) != 5 or min(budget) < 1 or args.samples < 1 or args.held_out < 5:
        raise ValueError(f"--searches needs --budget P,T,K,N1,N2 of positive numbers and --held-out of at least "
                         f"5, got --budget {args.budget} --held-out {args.held_out}")
    if args.processes is not None and not 2 <= args.processes <= min(budget[3] + budget[4], budget[0]):
        raise ValueError(f"--processes must be between 2 and the fewest candidates of a generation "
                         f"({min(budget[3] + budget[4], budget[0])}), got {args.processes}")
    json_path = os.path.splitext(args.out)[0] + ".json"
    header = f"`python bench.py {' '.join(argv)}`\n\n"
    if args.processes:
        os.makedirs(args.work, exist_ok=True)
        result = time_processes(args.work, args.processes, tuple(budget), args.samples, args.seed)
        table = processes_table(result)
        save_json(json_path, result)
        with open(args.out, "w") as f:
            f.write(header + table + "\n")
    else:
        def save(result):  # after every search: a killed run keeps what it measured
            save_json(json_path, result)
            with open(args.out, "w") as f:
                f.write(header + searches_table(result) + "\n")
        methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
        unknown = sorted(set(methods) - {"longrope", "longrope2", "gradient", "yarn"})
        if unknown or not methods:
            raise ValueError(f"--methods takes longrope, longrope2, gradient and yarn, got {args.methods!r}")
        result = compare_searches(args.work, tuple(budget), args.samples, args.held_out,
                                  tuple(float(m) for m in args.margins.split(",") if m.strip()), args.gradient_steps,
                                  save=save, methods=methods, seed=args.seed)
        table = searches_table(result)
    print("\n" + table)
    print(f"wrote {args.out} and {json_path}")
