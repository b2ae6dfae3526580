"""The searches compared (`python bench.py --searches --out docs/searches.md`): LongRoPE's evolutionary search (2024,
arXiv 2402.13753) and LongRoPE2's (2025, arXiv 2502.20082), each with and without early rejection, a gradient fit
of the log-factors as a reference, and YaRN unsearched, on the built-in tiny model at 8x without fine-tuning:
held-out bits per byte, forward passes, minutes and passkey accuracy for each search's factors. Also a generation of
candidates scored in one batch against one by one (`python bench.py --batched-candidates`), and candidates scored per
minute, ours against transformers (`python bench.py --search`).

With `--model` a model fine-tuned with LongRoPE factors (the pipeline's `finetune-8k`) and `--target 512x`, the same
table for the progressive extension's second search (Section 3.3): every search keeps the attention scale the
model was fine-tuned with, LongRoPE's adds the fine-tuned factors stretched (PI and YaRN's rule on top of them) to
its seeds as `python train.py` does, and YaRN's rule on top of the fine-tuned factors is the unsearched row.
"""

import json
import math
import os
import statistics
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


def gradient_fit(model, documents, original, length, steps, lr=0.05, initial_factors=None, attention_factor=None):
    """A reference, not a search: the log-factors fitted by Adam to the mean loss (every token) on the search
    documents, from YaRN's factors (or `initial_factors`), with LongRoPE's attention scale (or `attention_factor`)
    and no n_hat.
    cos/sin are rebuilt from the factors inside the graph (the model's own tables are cached and carry no
    gradient). Returns the RopeScaling and the forward + backward passes it took."""
    from longrope import RopeScaling, longrope_attention_scale, make_rope, rescale_factors
    rotary_dim, theta = model.config.rotary_dim, model.config.rope_theta
    if initial_factors is None:
        initial_factors = rescale_factors(make_rope("yarn", original, length), rotary_dim, theta, length)
    log_factors = torch.tensor(initial_factors, dtype=torch.float32).log().requires_grad_(True)
    scale = longrope_attention_scale(length / original, original) if attention_factor is None else attention_factor
    tables = differentiable_tables(log_factors, rotary_dim, theta, scale)
    weights = [p.requires_grad for p in model.parameters()]
    model.requires_grad_(False)
    model.rope_tables = tables  # this instance only, removed below
    device = next(model.parameters()).device
    optimizer = torch.optim.Adam([log_factors], lr=lr)
    try:
        with torch.enable_grad():
            for _ in range(steps):
                optimizer.zero_grad()
                for doc in documents:  # one graph at a time: the gradients add up
                    (model.loss(doc[None].to(device)) / len(documents)).backward()
                optimizer.step()
    finally:
        del model.rope_tables
        for p, w in zip(model.parameters(), weights):
            p.requires_grad_(w)
    factors = tuple(float(f) for f in log_factors.detach().exp())
    return (RopeScaling("longrope", length / original, original, long_factor=factors,
                        attention_factor=attention_factor), steps * len(documents))


def batched_losses(model, ropes, document):
    """Each rescaling's mean next-token loss on `document` (T,), all in one forward: the document repeated once per
    rope, each row rotated by its own cos/sin tables (B, 1, T, hd) in place of the model's (`Transformer.forward`
    takes either)."""
    from longrope import rope_cos_sin
    from loss import chunked_cross_entropy
    T, device = len(document), model.embed_tokens.weight.device
    tables = [rope_cos_sin(r, model.config.rotary_dim, model.config.rope_theta, torch.arange(T), T, device)
              for r in ropes]
    cos = torch.stack([c for c, _ in tables])[:, None]  # (B, 1, T, hd)
    sin = torch.stack([s for _, s in tables])[:, None]  # (B, 1, T, hd)
    model.rope_tables = lambda seq_len, device: (cos, sin)  # this instance only, removed below
    try:
        hidden = model.forward(document.to(device).expand(len(ropes), T))  # (B, T, D)
    finally:
        del model.rope_tables
    targets = document[1:].to(device)
    return [float(chunked_cross_entropy(h[:-1], model.lm_head.weight, targets)) / (T - 1) for h in hidden]


def batched_candidates(device, count=8, rounds=5, scale=8):
    """A generation of `count` LongRoPE candidates on the tiny model at `scale` x its length, scored as search.py
    scores them (one after another: set_rope, then the loss) and in one batch (`batched_losses`), alternating on the
    same document after a warm-up of each: median seconds per generation and their ratio, and the largest
    difference between the two losses of a candidate."""
    import random
    from common import load_documents, load_tokenizer, sample_documents
    from longrope import RopeScaling
    from model import load_model
    model = load_model("tiny", device=device)
    original, half = model.rope.original_max_len, model.config.rotary_dim // 2
    document = sample_documents(load_documents(None, load_tokenizer("tiny")), scale * original, 1, 0)[0]
    rng = random.Random(0)
    ropes = [RopeScaling("longrope", float(scale), original, n_hat=rng.choice((0, 4, 16)),
                         long_factor=tuple(sorted(round(rng.uniform(1, 1.25 * scale), 2) for _ in range(half))))
             for _ in range(count)]

    def one_by_one():
        out = []
        for rope in ropes:
            model.set_rope(rope)
            out.append(float(model.loss(document[None].to(device))))
        return out

    runs = {"one by one": one_by_one, "batched": lambda: batched_losses(model, ropes, document)}
    times = {which: [] for which in runs}
    with torch.inference_mode():
        losses = {which: run() for which, run in runs.items()}  # also the warm-up
        for _ in range(rounds):
            for which, run in runs.items():
                started = time.perf_counter()
                run()
                times[which].append(time.perf_counter() - started)
    one, batch = statistics.median(times["one by one"]), statistics.median(times["batched"])
    return {"device": str(device), "dtype": str(model.embed_tokens.weight.dtype), "threads": torch.get_num_threads(),
            "candidates": count, "length": scale * original, "rounds": rounds, "one_by_one_s": one,
            "batched_s": batch, "ratio": batch / one,
            "max_loss_diff": max(abs(a - b) for a, b in zip(losses["one by one"], losses["batched"]))}


def batched_line(r):
    """The one-line result of --batched-candidates (BENCHMARKS.md quotes it from its --json)."""
    return (f"{r['candidates']} candidates at {r['length']} tokens on {r['device']} ({r['dtype']}, {r['threads']} "
            f"threads): one by one {r['one_by_one_s']:.3f} s, batched {r['batched_s']:.3f} s, ratio {r['ratio']:.2f}; "
            f"largest loss difference {r['max_loss_diff']:.1e}")


def search_throughput(seconds=30, samples=5, compile=False):
    """LongRoPE candidates scored per minute on the tiny model at 8x (1024 tokens): ours as search.py scores them
    (set_rope, then the chunked loss), against transformers' Llama on the same weights with each candidate's rope
    dict (rope_type longrope, its rotary embedding rebuilt, `labels=` loss). Alternating, same candidates. With
    `compile`, also ours with compiled blocks (search.py --compile); its compile time is reported apart."""
    import random
    import transformers
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding
    from common import load_documents, load_tokenizer, sample_documents
    from longrope import RopeScaling, to_hf
    from model import TINY_DIR, load_model
    ours = load_model("tiny", device="cpu")
    compiled = load_model("tiny", device="cpu").compile_layers() if compile else None
    hf = transformers.AutoModelForCausalLM.from_pretrained(TINY_DIR, dtype=torch.float32,
                                                           attn_implementation="sdpa").eval()
    original, head_dim = ours.rope.original_max_len, ours.config.head_dim
    docs = sample_documents(load_documents(None, load_tokenizer("tiny")), 8 * original, samples, 0)
    rng = random.Random(0)

    def score_ours(rope, model=ours):
        model.set_rope(rope)
        return sum(float(model.loss(d[None])) for d in docs) / len(docs)

    def score_hf(rope):  # n_hat is ours alone: transformers' longrope has none, so the candidates keep n_hat = 0
        hf.config.rope_parameters = {**to_hf(rope, head_dim), "rope_theta": ours.config.rope_theta}
        hf.model.rotary_emb = LlamaRotaryEmbedding(hf.config)
        return sum(float(hf(d[None], labels=d[None]).loss) for d in docs) / len(docs)

    scorers = {"ours": score_ours, "transformers": score_hf}
    compile_s = 0.0
    if compiled is not None:
        scorers["compiled"] = lambda rope: score_ours(rope, compiled)
        started = time.perf_counter()
        with torch.inference_mode():  # compiles the blocks for this length, once
            scorers["compiled"](RopeScaling("pi", 8.0, original))
        compile_s = time.perf_counter() - started
    spent, counts, gap = {which: 0.0 for which in scorers}, 0, 0.0
    with torch.inference_mode():
        while sum(spent.values()) < seconds or counts < 2:
            factors = sorted(round(rng.uniform(1, 10), 2) for _ in range(head_dim // 2))
            rope = RopeScaling("longrope", 8.0, original, long_factor=tuple(factors))
            losses = {}
            for which, score in scorers.items():
                started = time.perf_counter()
                losses[which] = score(rope)
                spent[which] += time.perf_counter() - started
            gap = max(gap, *(abs(losses[which] - losses["transformers"]) for which in losses))
            counts += 1
    per_minute = {k: 60 * counts / v for k, v in spent.items()}
    record = {"candidates": counts, "documents": samples, "ours_per_min": per_minute["ours"],
              "transformers_per_min": per_minute["transformers"],
              "ratio": per_minute["ours"] / per_minute["transformers"], "max_loss_diff": gap}
    if compiled is not None:
        record.update(compiled_per_min=per_minute["compiled"], compile_s=compile_s,
                      compiled_ratio=per_minute["compiled"] / per_minute["transformers"])
    return record


def search_line(r):
    """The sentence the README quotes (from --search --json)."""
    line = (f"ours {r['ours_per_min']:.1f} candidates per minute, transformers {r['transformers_per_min']:.1f} "
            f"(ratio {r['ratio']:.2f})")
    if "compiled_per_min" in r:
        line += (f"; ours compiled {r['compiled_per_min']:.1f} (ratio {r['compiled_ratio']:.2f}), after "
                 f"{r['compile_s']:.0f} s of compiling")
    return line


def compare_searches(work, budget=(16, 8, 8, 8, 8), samples=8, held_out=8, margins=(0.02,), gradient_steps=30,
                     trials=10, seed=0, save=lambda result: None,
                     methods=("longrope", "longrope2", "gradient", "yarn"), model_dir="tiny", target="8x",
                     device="cpu", depths=(0.0, 0.25, 0.5, 0.75, 1.0), race=("longrope", "longrope2")):
    """Each search on `model_dir` (default: the tiny model) at `target` (a length: 8x its original one), on `device`,
    on the same `samples` search documents and the same budget (population, iterations, parents, mutations,
    crossovers): LongRoPE (search.py), LongRoPE2 (search.py --longrope2: needles planted in the same documents), each
    of those in `race` also with `--early-reject MARGIN` for every margin, a gradient fit (`gradient_fit`) and YaRN
    unsearched. Each one's factors are then measured on `held_out` documents of the held-out part
    (common.split_documents), which no search saw: bits per byte per document, and passkey accuracy at the length
    (`depths` x `trials`; none with trials = 0, "-" in the table). Factor files, states and logs go to `work`;
    `save(result)` is called after each search, so a killed run keeps the rows it finished. `methods` picks the
    rows.

    A model that carries LongRoPE factors (a pipeline's `finetune-8k`) gets the second search of Section 3.3, as
    train.py runs it: every candidate keeps the attention scale the weights were fine-tuned with, LongRoPE's search
    also starts from the fine-tuned factors stretched (its `init` and `init-yarn` seeds), the gradient fit starts
    from `init-yarn`'s factors (without its n_hat), and `init-yarn` itself (YaRN's rule on top of the fine-tuned
    factors, on the search's grid) is the unsearched row."""
    import common
    import eval as evaluation
    import longrope2
    import search
    import train
    from longrope import make_rope
    from model import load_model
    model, tokenizer = load_model(model_dir, device=device), common.load_tokenizer(model_dir)
    original = model.rope.original_max_len
    length = common.parse_length(target, original)
    second = model.rope.method == "longrope" and model.rope.long_factor is not None  # Section 3.3's second search
    tuned_length = round(model.rope.factor * original)
    if second and length <= tuned_length:
        raise ValueError(f"--target {target} ({length} tokens) must exceed the {tuned_length} tokens {model_dir} was "
                         f"fine-tuned for: the second search extends it further")
    if length <= original:
        raise ValueError(f"--target {target} ({length} tokens) must exceed the original length {original}")
    fixed_attention = {"attention_factor": train.tuned_attention_scale(model)} if second else {}
    longrope_plan = search.plan(model, length, original, **fixed_attention, **({"init": model.rope} if second else {}))
    init_yarn = dict(longrope_plan.seeds).get("init-yarn")
    with_task = not tokenizer.byte_level
    search_part, held_part = common.split_documents(common.load_documents(None, tokenizer))
    documents = common.sample_documents(search_part, length, samples, seed, "the search documents", join=True)
    needles = longrope2.needle_samples(documents, tokenizer, seed)
    evaluation_docs = common.sample_documents(held_part, length, held_out, seed, "the held-out documents", join=True)
    if trials:
        evaluation.check_memory(model, length, 1)
    runs = [(name, None, cd) for name, cd in (("longrope", None), ("longrope2", "auto")) if name in methods]
    runs = [r for name, _, cd in runs for r in [(name, None, cd)] + [(name, m, cd) for m in margins if name in race]]
    unsearched = "yarn on the fine-tuned factors (no search)" if second else "yarn (no search)"
    runs += [(name, None, None) for name in ("gradient fit", unsearched) if name.split()[0] in methods]
    setup = {"model": model_dir, "length": length, "original": original, "target": str(target),
             "budget": list(budget), "samples": samples, "held_out": held_out, "margins": list(margins),
             "race": list(race), "gradient_steps": gradient_steps, "trials": trials, "depths": list(depths),
             "with_task": with_task, "seed": seed,
             "critical_dim": search.plan(model, length, original, critical_dim="auto").space.critical_dim,
             "second_search": second, "attention_factor": fixed_attention.get("attention_factor"),
             "threads": torch.get_num_threads(), "device": str(device), "methods": list(methods)}
    records, measured = [], {}
    for name, margin, cd in runs:
        label = name + ("" if margin is None else f" + early rejection {margin:g}")
        started = time.perf_counter()
        if name == "gradient fit":
            rope, passes = gradient_fit(model, documents, original, length, gradient_steps,
                                        initial_factors=init_yarn.factors if second else None,
                                        attention_factor=fixed_attention.get("attention_factor"))
        elif name == unsearched:
            rope, passes = (longrope_plan.rope(init_yarn) if second else make_rope("yarn", original, length)), 0
        else:
            plan = search.plan(model, length, original, critical_dim=cd, **fixed_attention) if cd else longrope_plan
            settings = search.Settings(*budget, seed=seed, early_reject=margin)
            out = os.path.join(work, label.replace(" ", "-").replace("+-", "") + ".json")
            rope = search.run_search(model, needles if cd else documents, plan, settings, search.Run(
                out, loss_fn=longrope2.needle_loss if cd else search.evaluate_loss, compare_methods=False,
                provenance={"command": f"python bench.py --searches ({label})"}))
            passes = rope.extra["forward_passes"]
        minutes = (time.perf_counter() - started) / 60
        if rope not in measured:  # factors a row before ended on are not measured again (extra: not compared)
            model.set_rope(rope)
            bits = []
            for doc in evaluation_docs:
                nats, count = evaluation.document_loss(model, doc, length)
                bits.append(nats / count / math.log(2))
            passkey = [evaluation.passkey_accuracy(model, tokenizer, rope, length, depth, trials, seed, with_task)[0]
                       for depth in depths] if trials else []
            measured[rope] = bits, passkey
        bits, passkey = measured[rope]
        records.append({"search": label, "bits": sum(bits) / len(bits), "bits_min": min(bits), "bits_max": max(bits),
                        "bits_per_document": bits, "forward_passes": passes, "minutes": minutes,
                        "passkey": sum(passkey) / len(passkey) if passkey else None, "passkey_by_depth": passkey,
                        "fitness": rope.extra.get("loss"), "long_factor": list(rope.long_factor or []),
                        "attention_factor": rope.attention_factor, "n_hat": rope.n_hat})
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in records[-1].items()
                          if k in ("search", "bits", "forward_passes", "minutes", "passkey")}), flush=True)
        save({"setup": setup, "searches": records})
    return {"setup": setup, "searches": records}


def searches_table(result):
    """The markdown table of --searches (from its JSON)."""
    full = {r["search"]: r["forward_passes"] for r in result["searches"]}
    setup = result["setup"]
    lines = ["| search | held-out bits per byte (min - max) | forward passes | share of the full search's | minutes "
             f"| passkey at {setup['length'] // setup['original']}x |", "|---" * 6 + "|"]
    for r in result["searches"]:
        base = full.get(r["search"].split(" + ")[0])
        share = f"{r['forward_passes'] / base:.0%}" if " + " in r["search"] and base else "-"
        lines.append(f"| {r['search']} | {r['bits']:.4f} ({r['bits_min']:.3f} - {r['bits_max']:.3f}) | "
                     f"{r['forward_passes']} | {share} | {r['minutes']:.1f} | "
                     f"{'-' if r['passkey'] is None else format(r['passkey'], '.2f')} |")
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
        race = tuple(m.strip() for m in args.race.split(",") if m.strip())
        if set(race) - {"longrope", "longrope2"}:
            raise ValueError(f"--race takes longrope and longrope2 (or nothing), got {args.race!r}")
        try:
            depths = tuple(float(d) for d in args.depths.split(","))
        except ValueError:
            depths = ()
        if not depths or not all(0 <= d <= 1 for d in depths):
            raise ValueError(f"--depths takes positions between 0 and 1, comma-separated, got {args.depths!r}")
        if args.trials < 0:
            raise ValueError(f"--trials must be at least 0, got {args.trials}")
        result = compare_searches(args.work, tuple(budget), args.samples, args.held_out,
                                  tuple(float(m) for m in args.margins.split(",") if m.strip()), args.gradient_steps,
                                  trials=args.trials, seed=args.seed, save=save, methods=methods, model_dir=args.model,
                                  target=args.target, device=args.device or "cpu", depths=depths, race=race)
        table = searches_table(result)
    print("\n" + table)
    print(f"wrote {args.out} and {json_path}")
