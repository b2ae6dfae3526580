"""The progressive extension's plan (LongRoPE, Ding et al. 2024, arXiv 2402.13753, Section 3.3), before any work:
its stages, what each stage costs in forward and backward passes, the wall time that comes to on the device at hand,
and the memory each fine-tuning stage needs (parallel.estimate_memory).

The time is measured, not assumed. A forward pass (and a fine-tuning pass: forward, the recomputation that
activation checkpointing adds, and backward) is timed at each stage's length when that is short enough to time
quickly, PROBE_TOKENS at most. Beyond it the cost is split in two parts, each measured at the probe length: what
grows linearly with the tokens (embeddings, projections, MLP, norms, the loss) and attention, which grows with the
tokens times the keys each one sees (its square, or the length times Mistral's window). One layer's attention is
timed alone at the probe length for the second part, so the extrapolation rests on measured kernels only:

    seconds(n) = (probe - attention_probe) * n / probe_len + attention_probe * (n * keys(n)) / (probe_len * keys(probe_len))
"""

import os
import statistics
import time

import torch

import common
from model import attention

PROBE_TOKENS = {"cpu": 16 * 1024, "cuda": 64 * 1024}  # longest pass timed whole; longer ones are extrapolated
MIN_PROBE_SECONDS = 0.1  # short passes are repeated until they add up to this much, in PROBE_ROUNDS rounds
PROBE_ROUNDS = 5
WARM_UP_BELOW = 1.0  # a pass shorter than this many seconds is first run once untimed


FINETUNE_LENGTHS = "32x,64x"  # the paper's fine-tuning stages: 128k and 256k for a 4k model


def plan_stages(original, target, finetune=None):
    """[(name, kind, length)] in order. Fine-tuning at each of `finetune` (default 32 L and 64 L; those up to the
    target; the target itself when all lie beyond it), then one more search at the target if it lies beyond
    (512 L = 2048k)."""
    fmt = common.format_length
    finetune = finetune or common.parse_lengths(FINETUNE_LENGTHS, original)
    tuned = [n for n in finetune if n <= target] or [target]
    stages = [(f"search-{fmt(n)}", "search", n) for n in tuned]
    stages += [(f"finetune-{fmt(n)}", "finetune", n) for n in tuned]
    if target > tuned[-1]:
        stages.append((f"search-{fmt(target)}", "extend", target))
    return stages + [("recover", "recover", original), ("export", "export", target), ("summary", "summary", target)]


def stage_passes(stages, opts, budgets, original, recover_samples, short_eval_samples):
    """{stage: [(length, "forward" | "train", count)]}: the passes each stage runs, from its budget.

    A search scores population + iterations x (mutations + crossovers) candidates (fewer when duplicates run
    out), each on its documents, where P_0 holds every seed even past the population (the second search has five:
    PI, NTK, YaRN and the fine-tuned factors stretched by PI and by YaRN; the recovery two); a fine-tuning step
    trains --batch sequences at its length and --short-batch at the original one; the summary scores four models
    at the original and the last fine-tuned length, two more at a target beyond it (search.py, finetune.finetune,
    train.summary)."""
    from search import SEED_METHODS

    def searched(budget, samples, seeds):
        population, iterations, _, mutations, crossovers = budget
        return (max(population, seeds) + iterations * (mutations + crossovers)) * samples

    tuned = [n for _, kind, n in stages if kind == "finetune"]
    target = stages[-1][2]
    long_eval, short_eval = opts.eval_samples, max(opts.eval_samples, short_eval_samples)
    passes = {}
    for name, kind, length in stages:
        if kind == "search":
            passes[name] = [(length, "forward", searched(budgets["search_budget"], opts.search_samples,
                                                         len(SEED_METHODS)))]
        elif kind == "finetune":
            steps = opts.steps[min(tuned.index(length), len(opts.steps) - 1)]
            passes[name] = [(length, "train", steps * opts.batch), (original, "train", steps * opts.short_batch)]
        elif kind == "extend":
            passes[name] = [(length, "forward", searched(budgets["final_search_budget"], opts.search_samples,
                                                         len(SEED_METHODS) + 2))]
        elif kind == "recover":
            samples = max(opts.search_samples, recover_samples)
            passes[name] = [(original, "forward", searched(budgets["recover_budget"], samples, 2))]
        elif kind == "summary":  # four models at 1x and the last fine-tuned length, two more beyond it
            passes[name] = [(original, "forward", 4 * short_eval), (tuned[-1], "forward", 4 * long_eval)]
            if target > tuned[-1]:
                passes[name].append((target, "forward", 2 * long_eval))
        else:
            passes[name] = []
    return {name: [p for p in ps if p[2] > 0] for name, ps in passes.items()}


def _timed(run, sync, at_least=0.0):
    """Mean seconds of calls of `run`, as many as add up to `at_least` seconds (one at least)."""
    started, calls = time.perf_counter(), 0
    while not calls or time.perf_counter() - started < at_least:
        run()
        sync()
        calls += 1
    return (time.perf_counter() - started) / calls


def _seconds(run, sync):
    """Seconds of one call of `run`. A long call is timed once. A short one, whose first call at a new length also
    pays for that length's memory, is first run untimed, then in PROBE_ROUNDS rounds of MIN_PROBE_SECONDS each, and
    the median round counts: on a shared CPU one slow round would otherwise set the estimate (one 0.1 s timing of
    the 128-token pass gave 21 ms and the next 15 ms)."""
    first = _timed(run, sync)
    if first >= WARM_UP_BELOW:
        return first
    return statistics.median(_timed(run, sync, MIN_PROBE_SECONDS) for _ in range(PROBE_ROUNDS))


class PassTimer:
    """Seconds of one forward or fine-tuning pass of `model` at any length, measured on its device (see above)."""

    def __init__(self, model, autocast=False):
        self.model, self.autocast = model, autocast
        self.device = next(model.parameters()).device
        self.probe = PROBE_TOKENS.get(self.device.type, PROBE_TOKENS["cpu"])
        self.cache = {}
        self.sync = torch.cuda.synchronize if self.device.type == "cuda" else (lambda: None)
        for train in (False, True):  # first calls pay for allocations and thread pools: not part of any estimate
            self._model_pass(min(256, self.probe), train)

    def _model_pass(self, n, train):
        tokens = torch.randint(0, self.model.config.vocab_size, (1, n + 1), device=self.device)
        autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.autocast)

        def run():
            if train:
                self.model.zero_grad(set_to_none=True)
                with autocast:
                    loss = self.model.loss(tokens[:, :-1], tokens[:, 1:])
                loss.backward()
            else:  # no_grad, not inference_mode: the cos/sin tables it caches serve the training passes too
                with torch.no_grad():
                    self.model.loss(tokens[:, :-1], tokens[:, 1:])

        checkpointing, self.model.gradient_checkpointing = self.model.gradient_checkpointing, train
        try:
            return _seconds(run, self.sync)
        finally:
            self.model.gradient_checkpointing = checkpointing
            self.model.zero_grad(set_to_none=True)

    def _attention_pass(self, n, train):
        """All layers' attention at n tokens, from one layer's (every head, as the model calls it) timed alone. One
        head timed alone and multiplied by the heads overestimates it: on 2 CPU threads 4 x one head took 2.23 s at
        16k and 8.72 s at 32k, the 4 heads in one call 2.0 s and 8.0 s."""
        cfg, window = self.model.config, self.model.layers[0].self_attn.window
        dtype = next(self.model.parameters()).dtype if not self.autocast else torch.bfloat16
        q, k, v = (torch.randn(1, heads, n, cfg.head_dim, device=self.device, dtype=dtype, requires_grad=train)
                   for heads in (cfg.n_heads, cfg.n_kv_heads, cfg.n_kv_heads))

        def run():
            if train:  # the forward, its recomputation under checkpointing, and the backward
                with torch.no_grad():
                    attention(q, k, v, 0, window)
                attention(q, k, v, 0, window).sum().backward()
            else:
                with torch.no_grad():
                    attention(q, k, v, 0, window)
        return _seconds(run, self.sync) * cfg.n_layers

    def seconds(self, n, kind):
        train = kind == "train"
        if (n, train) not in self.cache:
            if n <= self.probe:
                self.cache[n, train] = self._model_pass(n, train)
            else:
                p = self.probe
                whole, attn = self._model_pass(p, train), self._attention_pass(p, train)
                attn = min(attn, whole)
                window = self.model.layers[0].self_attn.window
                keys = lambda m: min(m, window) if window else m  # noqa: E731
                self.cache[n, train] = (whole - attn) * n / p + attn * (n * keys(n)) / (p * keys(p))
        return self.cache[n, train]


def estimate_minutes(timer, passes, dp_world=1):
    """{stage: minutes} from the passes each stage runs and the timer; data-parallel groups share the passes."""
    return {name: sum(count * timer.seconds(n, kind) for n, kind, count in ps) / dp_world / 60
            for name, ps in passes.items()}


def print_plan(passes, minutes, device):
    fmt = common.format_length
    print(f"plan ({device}; times from passes timed on it just now):")
    for name, ps in passes.items():
        what = ", ".join(f"{count} {'forward' if kind == 'forward' else 'fine-tuning'} passes at {fmt(n)}"
                         for n, kind, count in ps) or "no passes"
        print(f"  {name:16s} {_duration(minutes[name]):>9s}  ({what})")
    total = sum(minutes.values())
    print(f"  {'total':16s} {_duration(total):>9s}")
    if total > 120 and device.type == "cpu":
        print("  on a CPU this takes hours: one GPU makes it minutes (every stage runs there unchanged)")
    return total


def _duration(minutes):
    if minutes < 1:
        return f"{minutes * 60:.0f} s"
    if minutes < 120:
        return f"{minutes:.1f} min"
    return f"{minutes / 60:.1f} h"


def check_memory(cfg, stages, opts, ctx):
    """Prints what each fine-tuning stage needs per device; one that cannot fit stops the run before it starts."""
    import parallel
    if ctx.device.type == "cuda":
        have = torch.cuda.get_device_properties(ctx.device).total_memory / parallel.GB
    else:
        have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / parallel.GB
    for name, kind, length in stages:
        if kind != "finetune":
            continue
        estimate = parallel.estimate_memory(cfg, length, n_gpus=ctx.world, sp_degree=ctx.sp,
                                            zero_stage=3 if ctx.world > 1 else 0, lora=opts.lora,
                                            offload=opts.offload, dtype_bytes=2 if ctx.world > 1 and ctx.bf16 else 4,
                                            compute_bytes=2 if ctx.bf16 else 4)
        if ctx.main:
            print(f"{name}: about {estimate['total']:.1f} GB per device of {have:.0f} GB (parameters "
                  f"{estimate['parameters']:.1f}, gradients {estimate['gradients']:.1f}, optimizer "
                  f"{estimate['optimizer']:.1f}, activations {estimate['activations']:.1f})")
        advice = parallel.fit_advice(estimate, have)
        if advice:
            raise ValueError(f"stage {name} ({length} tokens) does not fit: {advice}")
