"""Speed and memory of perplexity evaluation: our model against transformers' Llama (or Mistral), same weights.

    python bench.py                                  # CPU, a small config (32000 vocab) at 1k, 4k, 16k + the tiny model
    python bench.py --config 7b-layers --device cuda --lengths 8k,16k,32k     # 4 Llama-2-7B layers in bf16
    python bench.py --config mistral-7b-layers --device cuda --lengths 8k,16k,32k   # 4 Mistral-7B layers, window 4k
    python bench.py --memory-only --lengths 64k      # peak memory at 64k tokens (float32 logits alone: 8 GB)
    python bench.py --search                         # LongRoPE search throughput on the tiny model at 8x
    python bench.py --compile                        # also ours with torch.compile'd blocks (model.compile_layers)
    python bench.py --finetune --config 7b-layers --lengths 16k,32k,64k,128k     # train.py finetune's GPU memory
    python bench.py --chunked --lengths 4k,8k,16k,32k,64k,128k,256k --threads 1   # the chunked forward's memory
    python bench.py --chunked-speed --lengths 4k,8k,16k,32k    # its time against the whole-sequence forward
    python bench.py --batched-candidates             # 8 candidates (tiny, 8x) one by one against one batch
    python bench.py --searches --out docs/searches.md   # LongRoPE's and LongRoPE2's searches compared (tiny, 8x)
    python bench.py --searches --processes 2 --out docs/search_processes.md   # one search in 1 and in 2 processes
    python bench.py --searches --model docs/finetuned/longrope/finetune-8k --target 512x   # the second search, 64k

Perplexity evaluation is the inner loop of the LongRoPE search (Section 3.2: every candidate is scored by the
model's perplexity on long documents), so its speed decides how long a search takes. Both models run in the same
process on the same tokens, alternating, after a warm-up; the table shows median times and, as time ratio, the
median over rounds of ours / theirs within a round.
transformers computes the loss the usual way (`model(ids, labels=ids)`), which materializes `length x vocab`
float32 logits; ours runs a chunked cross-entropy over the final hidden states. Peak memory on CPU is measured per
run in a fresh subprocess (growth of the peak resident set over the loaded model); on CUDA with
torch.cuda.max_memory_allocated.

`--chunked` and `--chunked-speed` compare our inference forward as it runs by default (norms, projections and MLP
in chunks, model.forward_chunk) with the same model forced to run every layer over the whole sequence at once.
"""

import argparse
import csv
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import torch

from common import format_length, parse_lengths, run_cli, save_json
import searches
from searches import main as searches_main

CONFIGS = {  # transformers LlamaConfig (or model_type's config) arguments
    "small": dict(vocab_size=32000, hidden_size=256, intermediate_size=688, num_hidden_layers=4,
                  num_attention_heads=4, num_key_value_heads=4, head_dim=64, max_position_embeddings=4096),
    "small-gqa": dict(vocab_size=32000, hidden_size=256, intermediate_size=688, num_hidden_layers=4,
                      num_attention_heads=8, num_key_value_heads=2, head_dim=32, max_position_embeddings=4096),
    "7b-layers": dict(vocab_size=32000, hidden_size=4096, intermediate_size=11008, num_hidden_layers=4,
                      num_attention_heads=32, num_key_value_heads=32, head_dim=128, max_position_embeddings=4096),
    "mistral-7b-layers": dict(model_type="mistral", vocab_size=32000, hidden_size=4096, intermediate_size=14336,
                              num_hidden_layers=4, num_attention_heads=32, num_key_value_heads=8, head_dim=128,
                              max_position_embeddings=32768, sliding_window=4096),
}


def make_checkpoint(config, folder):
    """A random transformers Llama (or Mistral) of CONFIGS[config] in `folder` (once), with the byte-level tokenizer."""
    import transformers
    from pretrain import save_byte_tokenizer
    if not os.path.exists(os.path.join(folder, "config.json")):
        torch.manual_seed(0)
        args = dict(CONFIGS[config])
        hf_config = transformers.AutoConfig.for_model(args.pop("model_type", "llama"), **args)
        transformers.AutoModelForCausalLM.from_config(hf_config).save_pretrained(folder)
    if not os.path.exists(os.path.join(folder, "tokenizer.json")):
        save_byte_tokenizer(folder)
    return folder


def finetune_memory(config, folder, lengths, steps=3):
    """Peak GPU memory and speed of `train.py finetune` (float32 weights under bf16 autocast, AdamW, activation
    checkpointing; LongRoPE factors of a uniform 32x) against the estimate train.py prints before it starts, one
    fresh process per length. A length the estimate does not fit stops there, as train.py does."""
    from longrope import RopeScaling, save_factors
    from model import load_model
    cfg = load_model(make_checkpoint(config, folder), device="cpu", dtype=torch.bfloat16).config
    half, original = cfg.head_dim // 2, cfg.max_position_embeddings
    factors = save_factors(os.path.join(folder, "factors-32x.json"), RopeScaling(
        "longrope", 32.0, original, long_factor=(32.0,) * half, short_factor=(1.0,) * half), cfg.head_dim)
    records = []
    for n in lengths:
        with tempfile.TemporaryDirectory() as out:
            done = subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "train.py"),
                                   "finetune", "--model", folder, "--factors", factors, "--length", str(n), "--steps",
                                   str(steps), "--batch", "1", "--short-batch", "0", "--warmup", "1", "--save-every",
                                   str(steps), "--device", "cuda", "--out", out], capture_output=True, text=True)
            estimate = re.search(r"about ([\d.]+) GB per device", done.stdout)
            peak = re.search(r"peak ([\d.]+) GB allocated \(([\d.]+) GB reserved\)", done.stdout)
            if estimate is None or (peak is None and "does not fit" not in done.stderr):
                raise ValueError(f"train.py finetune at {n} tokens failed: {done.stderr.strip()[-300:]}")
            record = {"config": config, "length": n, "estimate_gb": float(estimate.group(1))}
            if peak:
                with open(os.path.join(out, "log.csv")) as f:
                    speeds = [float(row["tokens_per_s"]) for row in csv.DictReader(f)][1:]  # after the first step
                record.update(allocated_gb=float(peak.group(1)), reserved_gb=float(peak.group(2)),
                              tokens_per_s=statistics.median(speeds))
            records.append(record)
            print(json.dumps(record))
    return records


def finetune_table(records):
    """The markdown table the README shows (from --finetune --json)."""
    lines = ["| model | length | estimate (GB) | peak allocated (GB) | peak reserved (GB) | tokens/s |",
             "|---|---|---|---|---|---|"]
    for r in records:
        measured = "does not fit | - | -"
        if "allocated_gb" in r:
            measured = f"{r['allocated_gb']:.1f} | {r['reserved_gb']:.1f} | {r['tokens_per_s']:,.0f}"
        lines.append(f"| {r['config']} | {format_length(r['length'])} | {r['estimate_gb']:.1f} | {measured} |")
    return "\n".join(lines)


def build_pair(config, folder, device, dtype, compile=False, only=None):
    """A random transformers Llama saved to `folder`, and ours loaded from the same files (twice with `compile`:
    the second copy with compiled blocks). `only` ("ours" or "transformers") loads that one and None for the other."""
    import transformers
    from model import load_model
    if config == "tiny":
        from model import TINY_DIR
        folder = TINY_DIR
    else:
        make_checkpoint(config, folder)
    attn = "sdpa"
    if device == "cuda":
        try:
            import flash_attn  # noqa: F401
            attn = "flash_attention_2"
        except ImportError:
            pass
    hf = ours = None
    if only != "ours":
        hf = transformers.AutoModelForCausalLM.from_pretrained(folder, dtype=dtype, attn_implementation=attn)
        hf = hf.to(device).eval()
    if only != "transformers":
        ours = load_model(folder, device=device, dtype=dtype)
    compiled = None
    if compile:
        torch._dynamo.reset()  # what another config compiled (and the shapes it saw) must not shape this one's code
        compiled = load_model(folder, device=device, dtype=dtype).compile_layers()
    return ours, hf, attn, compiled


def run_once(model, which, tokens):
    """One evaluation's loss. Neither model keeps a KV cache (transformers' would add every layer's K and V to its
    peak) nor the rope tables of another length (ours are cached per length; they are not this pass's memory)."""
    with torch.inference_mode():
        if which != "transformers":  # ours, eager or compiled
            model._rope_tables.clear()
            return float(model.loss(tokens))
        return float(model(tokens, labels=tokens, use_cache=False).loss)


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def time_pair(models, tokens, reps, device):
    """Median seconds of each of `models` ({name: model}), alternating so drifts in machine load hit all alike, and
    the median over rounds of each one's time over transformers' in the same round: on a shared machine whose speed
    drifts by a third within a minute, the ratio within a round is steadier than the ratio of the medians."""
    times = {which: [] for which in models}
    losses = {}
    for which, model in models.items():  # warm-up (and compilation)
        losses[which] = run_once(model, which, tokens)
    for _ in range(reps):
        for which, model in models.items():
            sync(device)
            start = time.perf_counter()
            run_once(model, which, tokens)
            sync(device)
            times[which].append(time.perf_counter() - start)
    ratios = {k: statistics.median(a / b for a, b in zip(v, times["transformers"])) for k, v in times.items()}
    return {k: statistics.median(v) for k, v in times.items()}, ratios, losses


def peak_memory_mb(config, folder, which, length, device, dtype, threads=None):
    """Peak memory growth of one evaluation over the loaded model, in MB."""
    if device == "cuda":
        ours, hf, _, _ = build_pair(config, folder, device, dtype)
        model = ours if which == "ours" else hf
        tokens = torch.randint(0, model.config.vocab_size, (1, length), device=device)
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        run_once(model, which, tokens)
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    return child_peak(start_child(config, folder, which, length, threads), which, length)


def start_child(config, folder, which, length, threads=None):
    """A fresh process measuring one CPU evaluation's peak memory (child_memory), started and not waited for."""
    return subprocess.Popen([sys.executable, os.path.abspath(__file__), "--_child", which, "--config", config,
                             "--folder", folder, "--lengths", str(length),
                             *(["--threads", str(threads)] if threads else [])],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def child_peak(process, which, length):
    """The peak (MB) a start_child process printed, once it has ended."""
    out, err = process.communicate()
    if process.returncode != 0:
        raise ValueError(f"memory measurement of {which} at {length} tokens failed: {err.strip()[-300:]}")
    return float(out.strip().splitlines()[-1])


def child_memory(args):
    """Runs in a fresh process: load the measured model only, warm up on 16 tokens, then the measured evaluation.
    `ours-whole`: ours with every layer over the whole sequence at once (no chunks)."""
    only = "transformers" if args._child == "transformers" else "ours"
    ours, hf, _, _ = build_pair(args.config, args.folder, "cpu", torch.float32, only=only)
    model = hf if hf is not None else ours
    del hf, ours
    length = parse_lengths(args.lengths)[0]
    if args._child == "ours-whole":
        model.chunk_size = length
    run_once(model, args._child, torch.randint(0, model.config.vocab_size, (1, 16)))
    tokens = torch.randint(0, model.config.vocab_size, (1, length))
    base = resident_kb(reset_peak=True)
    run_once(model, args._child, tokens)
    print((resident_kb(peak=True) - base) / 1024)


def resident_kb(peak=False, reset_peak=False):
    """Resident memory (or its peak) in kB from /proc (Linux); ru_maxrss elsewhere. ru_maxrss alone will not
    do on Linux: a child started by fork + exec inherits its parent's high-water mark."""
    try:
        if reset_peak:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # resets the peak resident set to the current one
        with open("/proc/self/status") as f:
            fields = dict(line.split(":", 1) for line in f)
        return int(fields["VmHWM" if peak else "VmRSS"].split()[0])
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def chunked_memory(config, folder, lengths, threads, json_path=None):
    """Peak CPU memory of ours chunked (the default) and whole, one fresh process each, both running at once (each
    process's peak is its own), against the estimate model.forward_memory makes for each; the seconds are each
    process's wall time, load included, while the other runs beside it. Records saved after every length."""
    from checkpoint import config_from_hf
    from model import forward_chunk, forward_memory
    with open(os.path.join(make_checkpoint(config, folder), "config.json")) as f:
        cfg = config_from_hf(json.load(f))  # the shape only: each child loads the weights
    records = []
    for n in lengths:
        chunk = forward_chunk(cfg, n, None, 4)
        record = {"config": config, "length": n, "chunk": chunk, "threads": threads, "side_by_side": True,
                  "estimate_chunked_mb": forward_memory(cfg, n, chunk, 4) / 2**20,
                  "estimate_whole_mb": forward_memory(cfg, n, n, 4) / 2**20}
        started = time.perf_counter()

        def measure(which, key, process):
            try:
                record[key] = child_peak(process, which, n)
            except Exception as e:  # re-raised below, in the calling thread
                record[key] = e
            record[key.replace("peak_mb", "s")] = time.perf_counter() - started

        children = []
        try:
            for which, key in (("ours", "chunked_peak_mb"), ("ours-whole", "whole_peak_mb")):
                children.append((which, key, start_child(config, folder, which, n, threads)))
        except BaseException:
            for _, _, process in children:  # no child left running unwaited
                process.kill()
            raise
        waiters = [threading.Thread(target=measure, args=child) for child in children]
        for waiter in waiters:
            waiter.start()
        for waiter in waiters:
            waiter.join()
        for key in ("chunked_peak_mb", "whole_peak_mb"):
            if isinstance(record[key], Exception):
                raise record[key]
        record["saved_mb"] = record["whole_peak_mb"] - record["chunked_peak_mb"]
        records.append(record)
        print(json.dumps({k: round(v, 1) if isinstance(v, float) else v for k, v in record.items()}))
        if json_path:
            save_json(json_path, records)
    return records


def chunked_speed(config, folder, lengths, reps):
    """Seconds of ours chunked (the default) and whole in the same process, alternating, and the median over rounds
    of chunked / whole within a round."""
    from model import forward_chunk, load_model
    model = load_model(make_checkpoint(config, folder), device="cpu")
    records = []
    for n in lengths:
        tokens = torch.randint(0, model.config.vocab_size, (1, n))
        times = {"chunked": [], "whole": []}
        for round_ in range(reps + 1):  # the first round warms up
            for which in times:
                model.chunk_size = None if which == "chunked" else n
                started = time.perf_counter()
                run_once(model, "ours", tokens)
                if round_:
                    times[which].append(time.perf_counter() - started)
        record = {"config": config, "length": n, "chunk": forward_chunk(model.config, n, None, 4), "reps": reps,
                  "chunked_s": statistics.median(times["chunked"]), "whole_s": statistics.median(times["whole"]),
                  "time_ratio": statistics.median(a / b for a, b in zip(times["chunked"], times["whole"]))}
        records.append(record)
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in record.items()}))
    return records


def chunked_table(records):
    """The markdown table of --chunked (memory) or --chunked-speed (time) records."""
    if "chunked_peak_mb" in records[0]:
        lines = ["| model | length | chunk | chunked peak (MB) | whole peak (MB) | saved (MB) | estimate chunked / whole "
                 "(MB) |", "|---|---|---|---|---|---|---|"]
        lines += [f"| {r['config']} | {format_length(r['length'])} | {r['chunk']} | {r['chunked_peak_mb']:.0f} | "
                  f"{r['whole_peak_mb']:.0f} | {r['saved_mb']:.0f} | {r['estimate_chunked_mb']:.0f} / "
                  f"{r['estimate_whole_mb']:.0f} |" for r in records]
        return "\n".join(lines)
    lines = ["| model | length | chunk | chunked (s) | whole (s) | time ratio |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['config']} | {format_length(r['length'])} | {r['chunk']} | {r['chunked_s']:.3f} | "
              f"{r['whole_s']:.3f} | {r['time_ratio']:.3f} |" for r in records]
    return "\n".join(lines)


def table(records):
    """The markdown table the README shows (from bench.py's --json records)."""
    compiled = any("compiled_s" in r for r in records)
    extra = " ours compiled (s) | compiled ratio |" if compiled else ""
    lines = [f"| model | length | ours (s) | transformers (s) | time ratio |{extra} ours peak (MB) "
             "| transformers peak (MB) | memory ratio |", "|---" * (8 + 2 * compiled) + "|"]
    for r in records:
        mem = (f"{r['ours_peak_mb']:.0f} | {r['transformers_peak_mb']:.0f} | {r['memory_ratio']:.2f}"
               if "memory_ratio" in r else "- | - | -")
        extra = f" {r['compiled_s']:.3f} | {r['compiled_ratio']:.2f} |" if compiled else ""
        lines.append(f"| {r['config']} | {format_length(r['length'])} | {r['ours_s']:.3f} | {r['transformers_s']:.3f} "
                     f"| {r['time_ratio']:.2f} |{extra} {mem} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="small", choices=[*CONFIGS, "tiny"])
    parser.add_argument("--lengths", default="1k,4k,16k")
    parser.add_argument("--reps", type=int, default=9, help="timed rounds of each (after one warm-up)")
    parser.add_argument("--device", default=None,
                        help="cpu or cuda (default: cuda when present; cpu for --searches, as its tables were run)")
    parser.add_argument("--dtype", default=None, help="default: bfloat16 on CUDA, float32 on CPU")
    parser.add_argument("--memory-only", action="store_true", help="measure peak memory of ours only")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory measurement")
    parser.add_argument("--tiny", action=argparse.BooleanOptionalAction, default=True,
                        help="also time the built-in tiny model at 8x its length")
    parser.add_argument("--search", action="store_true", help="only measure search throughput (tiny, 8x)")
    parser.add_argument("--finetune", action="store_true",
                        help="peak memory and speed of train.py finetune against its estimate (CUDA)")
    parser.add_argument("--compile", action="store_true",
                        help="also time ours with torch.compile'd blocks (search.py --compile), after its warm-up")
    parser.add_argument("--chunked", action="store_true",
                        help="CPU peak memory of ours chunked (default) against every layer over the whole sequence")
    parser.add_argument("--chunked-speed", action="store_true",
                        help="CPU time of ours chunked (default) against the whole sequence, alternating")
    parser.add_argument("--batched-candidates", action="store_true",
                        help="time a generation of 8 candidates (tiny, 8x) scored one by one, as search.py does, "
                             "and in one batch with a rope per row")
    parser.add_argument("--searches", action="store_true",
                        help="compare LongRoPE's and LongRoPE2's searches (with and without early rejection) and a "
                             "gradient fit on the tiny model at 8x (or --model at --target); writes --out "
                             "(markdown) and a JSON beside it")
    parser.add_argument("--out", default="docs/searches.md", help="--searches: the table (default: %(default)s)")
    parser.add_argument("--budget", default="16,8,8,8,8",
                        help="--searches: population, iterations, parents, mutations, crossovers (default: "
                             "%(default)s)")
    parser.add_argument("--samples", type=int, default=8, help="--searches: fitness documents (default: %(default)s)")
    parser.add_argument("--held-out", type=int, default=8,
                        help="--searches: held-out documents measured (default: %(default)s)")
    parser.add_argument("--margins", default="0,0.02",
                        help="--searches: early-rejection margins in nats, comma-separated (default: %(default)s)")
    parser.add_argument("--gradient-steps", type=int, default=30,
                        help="--searches: Adam steps of the gradient fit (default: %(default)s)")
    parser.add_argument("--methods", default="longrope,longrope2,gradient,yarn",
                        help="--searches: the rows, of longrope, longrope2, gradient, yarn (default: %(default)s)")
    parser.add_argument("--model", default="tiny",
                        help="--searches: the model searched; one fine-tuned with LongRoPE factors (a pipeline's "
                             "finetune-8k) gets the second search of Section 3.3 (default: %(default)s)")
    parser.add_argument("--target", default="8x",
                        help="--searches: the length searched, e.g. 1024, 64k, or 512x (times the original length "
                             "the model's rope names, 128 for the tiny model and its fine-tunes) (default: "
                             "%(default)s)")
    parser.add_argument("--race", default="longrope,longrope2",
                        help="--searches: which of longrope, longrope2 also run with early rejection, once per "
                             "margin; empty for none (default: %(default)s)")
    parser.add_argument("--trials", type=int, default=10,
                        help="--searches: passkey trials per depth at the target length, 0 for none "
                             "(default: %(default)s)")
    parser.add_argument("--depths", default="0,0.25,0.5,0.75,1",
                        help="--searches: where the passkey sits in the prompt, comma-separated, 0 (start) to 1 "
                             "(end) (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="--searches: the seed of the searches and of the "
                        "documents they and the measurement use (default: %(default)s)")
    parser.add_argument("--processes", type=int, default=None, metavar="N",
                        help="--searches: instead, time one search in 1 process and in N (torchrun, one thread each)")
    parser.add_argument("--work", default="runs/searches",
                        help="--searches: where the factor files and search logs go (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--json", default=None, help="write the records here")
    parser.add_argument("--folder", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--_child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.device is None and not args.searches:
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.threads:
        if args.threads < 1:
            raise ValueError(f"--threads must be at least 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    if args._child:
        return child_memory(args)
    if args.searches:
        return searches_main(args, sys.argv[1:])
    if args.batched_candidates:
        r = searches.batched_candidates(args.device)
        print(searches.batched_line(r))
        if args.json:
            save_json(args.json, r)
        return
    if args.search:
        r = searches.search_throughput(compile=args.compile)
        print(f"search throughput, tiny model at 8x ({r['candidates']} candidates of {r['documents']} documents each, "
              f"the same for all): {searches.search_line(r)}; largest loss difference {r['max_loss_diff']:.1e}")
        if args.json:
            save_json(args.json, r)
        return
    folder = args.folder or os.path.join(tempfile.gettempdir(), f"longrope-bench-{args.config}")
    lengths = parse_lengths(args.lengths)
    if args.chunked or args.chunked_speed:
        if args.device != "cpu" or args.config == "tiny":
            raise ValueError("--chunked and --chunked-speed measure a CPU: they need --device cpu and a --config "
                             "other than tiny")
        records = (chunked_memory(args.config, folder, lengths, args.threads, args.json) if args.chunked else
                   chunked_speed(args.config, folder, lengths, args.reps))
        print("\n" + chunked_table(records))
        if args.json:
            save_json(args.json, records)
            print(f"wrote {args.json}")
        return
    if args.finetune:
        if args.device != "cuda" or args.config == "tiny":
            raise ValueError("--finetune measures GPU memory: it needs --device cuda and a --config other than tiny")
        records = finetune_memory(args.config, folder, lengths)
        print("\n" + finetune_table(records))
        if args.json:
            save_json(args.json, records)
        return
    dtype = getattr(torch, args.dtype) if args.dtype else (torch.bfloat16 if args.device == "cuda" else torch.float32)
    import transformers
    print(f"device {args.device} ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
          f", torch {torch.__version__}, transformers {transformers.__version__}, {dtype}, config {args.config}")
    records = []
    if args.memory_only:
        for n in lengths:
            mb = peak_memory_mb(args.config, folder, "ours", n, args.device, dtype)
            vocab = CONFIGS.get(args.config, {}).get("vocab_size", 0)
            records.append({"length": n, "ours_peak_mb": mb, "float32_logits_mb": n * vocab * 4 / 2**20})
            print(f"{format_length(n):>6}: ours peak {mb:.0f} MB (float32 logits alone would be "
                  f"{records[-1]['float32_logits_mb']:.0f} MB)")
    else:
        suites = [(args.config, lengths)] + ([("tiny", [8 * 128])] if args.tiny and args.config != "tiny" else [])
        for config, suite_lengths in suites:
            ours, hf, attn, compiled = build_pair(config, folder, args.device, dtype, args.compile)
            models = {"ours": ours, "transformers": hf, **({"compiled": compiled} if compiled else {})}
            for n in suite_lengths:
                tokens = torch.randint(0, ours.config.vocab_size, (1, n), device=args.device)
                times, ratios, losses = time_pair(models, tokens, args.reps, args.device)
                record = {"config": config, "length": n, "ours_s": times["ours"],
                          "transformers_s": times["transformers"], "time_ratio": ratios["ours"],
                          "loss_diff": max(abs(loss - losses["transformers"]) for loss in losses.values()),
                          "transformers_attention": attn}
                if compiled:
                    record.update(compiled_s=times["compiled"], compiled_ratio=ratios["compiled"])
                if not args.no_memory:
                    for which in ("ours", "transformers"):
                        record[f"{which}_peak_mb"] = peak_memory_mb(config, folder, which, n, args.device, dtype)
                    record["memory_ratio"] = record["ours_peak_mb"] / max(record["transformers_peak_mb"], 1e-9)
                records.append(record)
                print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in record.items()}))
            del ours, hf, compiled, models
        print("\n" + table(records))
    if args.json:
        save_json(args.json, records)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    run_cli(main)
