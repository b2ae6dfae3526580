"""LongRoPE's evolutionary search for non-uniform RoPE rescale factors (Ding et al. 2024, arXiv 2402.13753).

Section 3.2, Algorithm 1 (algorithm1.py, `evolve`): every frequency i of RoPE gets its own rescale factor lambda_i,
and the first n_hat positions keep their original angles (Eq. 3). Both are found by an evolutionary search whose
fitness here is the perplexity of the unchanged model on a few long documents at the target length
(`evaluate_loss`), seeded with PI, NTK and YaRN's factors for the scale s.

Section 3.3: `--recover` repeats the search at the original length for the short factors, which take over when a
sequence fits the original window, so the extended model keeps its short-context quality. What a search looks for,
long or short factors, at which length and from which seeds, is its SearchPlan (`plan`).

`--longrope2` (or `--critical-dim`, `--length-scale`, `--needle-fitness`): LongRoPE2's search (Shang et al. 2025,
arXiv 2502.20082; `longrope2.py`): only the pairs past the critical dimension are searched, in [s, S] and strictly
increasing, the others tied to it; the fitness is the loss on the answer of needles planted in the documents.

`--early-reject MARGIN` (racing, ours: the same search for fewer forward passes): a new candidate is scored one
document at a time and dropped once its mean loss so far exceeds the worst parent's on the same documents by more
than MARGIN nats (`algorithm1.race`). It could only have become a parent by doing much better on the documents left. P_0
races in blocks of k against the k-th best scored in full before each block (`algorithm1.score_children`).
Under `torchrun --nproc_per_node N search.py ...` each process scores every N-th candidate of a generation and the
losses are gathered (`algorithm1.score_generation`): the same result for any N.

    python search.py --model tiny --target 8x --out factors.json          # search the long factors
    python search.py --model tiny --recover --factors factors.json --out factors_rec.json
    python search.py --model tiny --factors factors_rec.json --export tiny_8x   # a folder transformers loads

The state (history, population, RNG) is saved after every iteration (`Logbook`); `--resume` continues to the result
an uninterrupted run with the same seed reaches.
"""

import argparse
import math
import os
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch

import common
import longrope
import longrope2
import parallel
from algorithm1 import GRID, Candidate, SearchSpace, Settings, candidate_of, evolve, forward_passes, search_space
from checkpoint import export_model
from logbook import Logbook, history_csv_path, perplexity
from longrope import RopeScaling
from model import load_model, resolve_model_dir

SEED_METHODS = ("pi", "ntk", "yarn")  # the default; --seeds may add dynamic-ntk and llama3


@torch.inference_mode()
def evaluate_loss(model, rope, documents):
    """Fitness: mean next-token loss (nats) of the unchanged model with `rope` over equal-length documents."""
    model.set_rope(rope)
    device = next(model.parameters()).device
    return sum(float(model.loss(doc[None].to(device))) for doc in documents) / len(documents)



# ----------------------------------------------------------------------------------------------------------------
# What a search looks for


@dataclass
class SearchPlan:
    """One search, as `plan` sets it up: the factors its candidates fill in, the length they are scored at, and
    where the population starts."""
    length: int  # tokens of each fitness document
    factor: float  # s: the factors stretch the original length s times
    original: int  # L, the original length
    space: SearchSpace
    seeds: list  # (name, Candidate): P_0's first members
    base: RopeScaling  # every candidate's rescaling but for the factors it searches
    short: bool = False  # the short factors (recovery, Section 3.3); otherwise the long ones and n_hat
    seed_methods: tuple = SEED_METHODS
    fingerprint: dict = field(default_factory=dict)  # what a resumed search must share, beyond length and documents

    def rope(self, candidate):
        if self.short:
            return replace(self.base, short_factor=candidate.factors)
        factors, cd = candidate.factors, self.space.critical_dim
        if cd is not None:  # LongRoPE2: the pairs below cd exactly lambda_cd^(i/cd), not their grid values
            factors = tuple(longrope2.tie_low_factors(factors, cd))
        return replace(self.base, long_factor=factors, n_hat=candidate.n_hat)


def plan(model, target_len=None, original=None, recover=None, short_len=None, init=None, attention_factor=None,
         seed_methods=SEED_METHODS, search_n_hat=True, critical_dim=None, length_scale=None):
    """What is searched: the long factors and n_hat at target_len, or (recover: a RopeScaling, Section 3.3) its short
    factors at short_len (default: the original length) with the long ones fixed. Returns a SearchPlan.

    `init` (a RopeScaling, e.g. the factors a model was fine-tuned with) adds two seeds, its long factors stretched
    by target_len / its own length: PI on top of them, and YaRN's rule on top of them (`yarn_on_top`), for the
    progressive extension's second search (Section 3.3).
    `attention_factor` fixes the attention scale of every candidate (default: sqrt(1 + ln s / ln L) for this s).
    `seed_methods` are the rescaling methods whose factors at target_len seed the population.
    `search_n_hat=False` keeps n_hat at 0 (the ablation of Table 11).
    `critical_dim` (a pair index, or "auto" for `longrope2.critical_dim`) makes it LongRoPE2's search space
    (`plan_longrope2`): pairs from it on in [s, length_scale] (default 2 s), those below tied to it, no n_hat."""
    rotary_dim, theta = model.config.rotary_dim, model.config.rope_theta
    fingerprint = {"recover": None if recover is None else list(recover.long_factor),
                   "init": None if init is None else list(init.long_factor), "attention_factor": attention_factor,
                   **({} if search_n_hat else {"search_n_hat": False})}
    if recover is not None:
        factor, original = recover.factor, recover.original_max_len
        length = short_len or original
        if length > original:
            raise ValueError(f"the short length {length} exceeds the original length {original}; short factors "
                             f"only apply to sequences that fit it")
        space = search_space(factor, rotary_dim, length, search_n_hat=False)  # n_hat only acts on long sequences
        seeds = [("identity", space.snap([1.0] * (rotary_dim // 2))), ("long", space.snap(recover.long_factor))]
        if recover.short_factor:
            seeds.append(("short", space.snap(recover.short_factor)))
        return SearchPlan(length, factor, original, space, seeds, recover, True, seed_methods, fingerprint)
    original = original or model.rope.original_max_len  # a fine-tuned model's config holds its extended length
    length = target_len
    if length <= original:
        raise ValueError(f"target length {length} must exceed the original length {original}")
    factor = length / original
    if critical_dim is not None:
        if init is not None:
            raise ValueError("--init is not used by LongRoPE2's search (its official code ignores initial factors)")
        return plan_longrope2(model, length, original, critical_dim, length_scale, attention_factor, seed_methods)
    space = search_space(factor, rotary_dim, length, search_n_hat)
    seeds = [(m, space.snap(longrope.rescale_factors(longrope.make_rope(m, original, length), rotary_dim, theta,
                                                     length))) for m in seed_methods]
    if init is not None:
        if init.original_max_len != original or not init.long_factor:
            raise ValueError(f"the initial factors are for original length {init.original_max_len}, not {original}")
        stretch = factor / init.factor
        n_hat = init.n_hat if init.n_hat in space.n_hat_choices else 0
        seeds.append(("init", space.snap([f * stretch for f in init.long_factor], n_hat)))
        on_top = yarn_on_top(init.long_factor, rotary_dim, theta, int(round(init.factor * original)), stretch)
        seeds.append(("init-yarn", space.snap(on_top, n_hat)))
    base = RopeScaling("longrope", factor, original, attention_factor=attention_factor)
    return SearchPlan(length, factor, original, space, seeds, base, False, seed_methods, fingerprint)


def plan_longrope2(model, length, original, critical_dim="auto", length_scale=None, attention_factor=None,
                   seed_methods=SEED_METHODS):
    """LongRoPE2's search (`longrope2.py`): the critical pair cd (the official default, or a given index), factors
    of the pairs from cd on, on the 0.01 grid in [s, S], those below tied to lambda_cd, no n_hat; 8 NTK-shaped seeds;
    the attention scale sqrt(1 + ln s / ln L) for every candidate unless `attention_factor` fixes another."""
    rotary_dim, theta, factor = model.config.rotary_dim, model.config.rope_theta, length / original
    given = critical_dim != "auto"
    cd = int(critical_dim) if given else longrope2.critical_dim(rotary_dim, theta, original)
    longrope2.check_critical_dim(cd, rotary_dim // 2, given)
    scale = 2 * factor if length_scale is None else length_scale  # the official LLaMA3 example: S = 32 = 2 s
    if not (math.isfinite(scale) and scale >= factor):
        raise ValueError(f"--length-scale must be at least the extension ratio s = {factor:g}, got {scale}")
    lower, upper = int(math.ceil(factor * GRID - 1e-6)), int(math.floor(scale * GRID + 1e-6))
    space = SearchSpace(rotary_dim // 2, upper, (0,), lower, cd)
    seeds = [(f"ntk-{j}", Candidate(steps)) for j, steps in
             enumerate(longrope2.seed_steps(rotary_dim // 2, cd, factor, lower, upper))]
    attention = longrope2.attention_scale(factor, original) if attention_factor is None else attention_factor
    base = RopeScaling("longrope", factor, original, attention_factor=attention)
    fingerprint = {"recover": None, "init": None, "attention_factor": attention_factor, "critical_dim": cd,
                   "length_scale": scale}
    return SearchPlan(length, factor, original, space, seeds, base, False, seed_methods, fingerprint)


def yarn_on_top(factors, head_dim, base, length, scale, beta_fast=32.0, beta_slow=1.0):
    """YaRN's "NTK-by-parts" rule (Peng et al. 2023, arXiv 2309.00071) on frequencies already rescaled by `factors`,
    stretching a window of `length` tokens `scale` times: a frequency that turns r times over the window keeps its
    factor if r > beta_fast, is interpolated by `scale` if r < beta_slow, and in between by the paper's ramp
    gamma = (r - beta_slow) / (beta_fast - beta_slow) (transformers ramps over channel indices instead).

    A seed of ours for the second search of Section 3.3, which does not describe its seeds: the model was fine-tuned
    at `length` with `factors`, so the fast frequencies it already handles keep their angles and only the slow ones,
    which never turned in that window, are stretched; PI on top of the same factors (the "init" seed) also slows the
    fast ones down."""
    factors = torch.tensor(factors, dtype=torch.float64)
    turns = length * longrope.inverse_frequencies(head_dim, base).double() / factors / (2 * math.pi)
    gamma = ((turns - beta_slow) / (beta_fast - beta_slow)).clamp(0, 1)
    return (factors / (gamma + (1 - gamma) / scale)).tolist()


# ----------------------------------------------------------------------------------------------------------------
# A search on a model


@dataclass
class Run:
    """Where and how one search runs, apart from what it looks for (SearchPlan) and its shape (Settings)."""
    out: str = "factors.json"  # the factor file; its state and candidate log go next to it
    resume: bool = False  # continue the search saved next to `out` (a new one if there is none)
    stop_after: int | None = None  # end after that many iterations without writing `out`, as a kill would
    write: bool = True  # False: write nothing (processes other than the first, which compute the same state)
    loss_fn: Callable = evaluate_loss  # (model, rope, documents) -> mean loss; train.py passes a sequence-parallel one
    ranks: tuple = (0, 1)  # (this process, processes) sharing the scoring of each generation (data-parallel)
    compare_methods: bool = True  # also score the seed methods themselves, each with its own attention scale
    provenance: dict = field(default_factory=dict)  # recorded in the factor file: command, data, stage


def run_search(model, documents, search_plan, settings, run=None):
    """The search on a loaded model: writes the factor file `run.out` (its state and candidate log next to it) and
    returns the best RopeScaling, or None when `run.stop_after` ended it first. Candidates are scored on `model` one
    rope after another; the model gets its own rope back at the end (the rope a caller plans from next, as
    compare.py's ablations do after a search on the same model)."""
    own = model.rope
    try:
        return search_on(model, documents, search_plan, settings, run)
    finally:
        model.set_rope(own)


def search_on(model, documents, search_plan, settings, run=None):
    p, run = search_plan, run or Run()
    check_ranks(settings, run.ranks[1])
    started = time.time()
    state_path = os.path.splitext(run.out)[0] + ".state.json"
    needles = isinstance(documents[0], longrope2.Needle)  # LongRoPE2's needle-driven fitness
    config = {"length": p.length, "original": p.original, "factor": p.factor, "samples": len(documents),
              "documents": [int(d.sum()) % 1000003 for d in documents],  # a fingerprint of the documents
              **p.fingerprint, **({"fitness": "needle"} if needles else {})}
    say = print if run.write else lambda *_: None  # one voice for a launched run
    space, cd = p.space, p.space.critical_dim
    what = (f"{space.n_factors} factors on [1, {space.upper / GRID:.2f}] and n_hat in {list(space.n_hat_choices)}"
            if cd is None else f"factors {cd}..{space.n_factors - 1} of {space.n_factors} on [{space.lower / GRID:.2f}, "
                               f"{space.upper / GRID:.2f}], strictly increasing, those below tied to factor {cd}")
    say(f"searching {what} at length {p.length} (s = {p.factor:g}), fitness on {len(documents)} "
        f"{'needles (answer tokens only)' if needles else 'documents'}")

    def score(candidate):  # one document at a time: early rejection may stop after any of them
        rope = p.rope(candidate)
        return (run.loss_fn(model, rope, [doc]) for doc in documents)

    logbook = Logbook(state_path, run.resume, run.write, config)
    state = evolve(score, p.space, p.seeds, settings, logbook, run.stop_after, run.ranks)
    if state["iteration"] < settings.iterations:
        return None
    history = state["history"]
    best = history[state["population"][0]]
    rope = p.rope(candidate_of(best))
    seeds = {f"seed-{name}" for name, _ in p.seeds}
    seed_ppl = {h["origin"][len("seed-"):]: h["ppl"] for h in history if h["origin"] in seeds}
    minutes = (time.time() - started) / 60
    record = {"target_length": int(round(p.factor * p.original)), "original_length": p.original,
              "search_length": p.length, "loss": best["loss"], "ppl": best["ppl"], "seed_ppl": seed_ppl,
              "evaluated": len(history), "forward_passes": forward_passes(history, len(documents)),
              "samples": len(documents), "search": settings.fingerprint(),
              "log": history_csv_path(state_path), **run.provenance, "minutes": round(minutes, 2)}
    if p.short:
        record = {k: v for k, v in p.base.extra.items() if k != "max_position_embeddings"} | {"recovery": record}
    elif run.compare_methods:
        # the seed methods themselves, each with its own attention scale, on the same documents
        record["method_ppl"] = {m: perplexity(run.loss_fn(model, longrope.make_rope(m, p.original, p.length),
                                                          documents)) for m in p.seed_methods}
    if run.write:
        longrope.save_factors(run.out, rope, model.config.rotary_dim, **record)
        print(f"wrote {run.out}, {state_path} and {history_csv_path(state_path)}")
    new = [h for h in history if h["iteration"] > logbook.resumed_at]  # a resumed run scores only the rest
    say(f"best perplexity {best['ppl']:.4f} at length {p.length} (n_hat {rope.n_hat}); seeds: "
        + ", ".join(f"{k} {v:.4f}" for k, v in seed_ppl.items())
        + f"; {len(new)} candidates evaluated ({forward_passes(new, len(documents))} forward passes) in "
          f"{minutes:.1f} min ({len(new) / max(minutes, 1e-9):.3g}/min)")
    return replace(rope, extra=record)


def check_ranks(settings, n_ranks):
    """Processes share a generation's candidates: each needs at least one."""
    fewest = min(settings.population, settings.mutations + settings.crossovers)
    if n_ranks > fewest:
        raise ValueError(f"{n_ranks} processes would share generations of as few as {fewest} candidates (population "
                         f"{settings.population}, {settings.mutations} mutations + {settings.crossovers} crossovers); "
                         f"launch at most {fewest} processes")


# ----------------------------------------------------------------------------------------------------------------
# Command line


def parse_args(argv=None):
    d = Settings()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="tiny", help="model folder (Hugging Face or Meta) or 'tiny' (default: tiny)")
    p.add_argument("--target", help="target length: 8x (times the original length), 1k, 128k, 2m")
    p.add_argument("--original-length", help="original context length (default: the model config's, or its "
                                              "sliding window when that is shorter, as for Mistral-7B)")
    p.add_argument("--sliding-window", default="target",
                   help="Mistral's window while scoring: target (widened to the search length, as the official code "
                        "does), none, model (the checkpoint's) or a length (default: %(default)s)")
    p.add_argument("--population", type=int, default=d.population, help="population size P (default: %(default)s)")
    p.add_argument("--iterations", type=int, default=d.iterations, help="iterations T (default: %(default)s)")
    p.add_argument("--parents", type=int, default=d.parents, help="top-k parents kept (default: %(default)s)")
    p.add_argument("--mutations", type=int, default=d.mutations, help="mutations N1 per iteration (default: %(default)s)")
    p.add_argument("--crossovers", type=int, default=d.crossovers,
                   help="crossovers N2 per iteration (default: %(default)s)")
    p.add_argument("--mutation-prob", type=float, default=d.mutation_prob,
                   help="chance that a mutation changes each factor and n_hat (default: %(default)s)")
    p.add_argument("--seed", type=int, default=d.seed,
                   help="seeds the search and the choice of documents (default: %(default)s)")
    p.add_argument("--early-reject", type=float, metavar="MARGIN",
                   help="racing: score a new candidate one document at a time and drop it once its mean loss so far "
                        "exceeds the worst parent's on the same documents by more than MARGIN nats, e.g. 0.02 "
                        "(default: off, every candidate is scored on every document)")
    p.add_argument("--samples", type=int, default=5, help="documents the fitness is measured on (default: %(default)s)")
    p.add_argument("--data", help="text file/folder or token file (default: the stdlib validation split)")
    p.add_argument("--out", default="factors.json",
                   help="factor file; the state and the candidate log go next to it (default: %(default)s)")
    p.add_argument("--resume", action="store_true",
                   help="continue the search saved next to --out (a new one if there is none)")
    p.add_argument("--recover", action="store_true", help="Section 3.3: search the short factors of --factors")
    p.add_argument("--short-length", help="length of the recovery search (default: the original length)")
    p.add_argument("--factors", help="an existing factor file (for --recover and --export)")
    p.add_argument("--init", help="a factor file whose long factors, stretched to --target (PI and YaRN on top of "
                                  "them), join the seeds (the second search of the progressive extension)")
    p.add_argument("--export", metavar="DIR",
                   help="no search: write a copy of --model whose config.json carries --factors to DIR")
    p.add_argument("--attention-factor", type=float, help="fix LongRoPE's attention scale (default: sqrt(1 + ln s / "
                                                          "ln L), as transformers computes it)")
    p.add_argument("--seeds", default=",".join(SEED_METHODS),
                   help="methods whose factors seed the search: pi, ntk, dynamic-ntk, yarn, llama3 (default: "
                        "%(default)s)")
    p.add_argument("--longrope2", action="store_true",
                   help="LongRoPE2's search (Shang et al. 2025): --critical-dim auto, --length-scale 2s, "
                        "--needle-fitness, and the attention scale sqrt(1 + ln s / ln L) fixed for every candidate")
    p.add_argument("--critical-dim", metavar="auto|N",
                   help="LongRoPE2: search only the pairs from N on, in [s, --length-scale], strictly increasing; "
                        "those below follow lambda_N^(i/N); auto: ceil((d/2) log_b(L / 2 pi)) - 1 (default: off)")
    p.add_argument("--length-scale", type=float, metavar="S",
                   help="LongRoPE2: the largest factor of the searched pairs (default: 2 s, as the official LLaMA3 "
                        "example)")
    p.add_argument("--needle-fitness", action="store_true",
                   help="LongRoPE2: the fitness is the loss on the answer tokens only of a passkey planted in each "
                        "document, at spread depths (default: the loss on every token)")
    p.add_argument("--device", help="cpu or cuda (default: cuda when present)")
    p.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's choice; 1 is fastest for "
                                               "the tiny model on a busy machine)")
    p.add_argument("--compile", action="store_true", help="torch.compile the model's blocks: 6-13%% faster on "
                   "the tiny model at 8x after ~10 s of compiling; losses agree with eager to float rounding")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.export:
        if not args.factors:
            raise ValueError("--export needs --factors FILE, the factors to write into the config")
        out = export_model(args.model, args.factors, args.export)
        print(f"wrote {out} (config.json with rope_type longrope; weights linked from {resolve_model_dir(args.model)})")
        return
    for name in ("population", "iterations", "parents", "samples"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name} must be at least 1, got {getattr(args, name)}")
    if not 0 <= args.mutation_prob <= 1:
        raise ValueError(f"--mutation-prob must lie in [0, 1], got {args.mutation_prob}")
    seed_methods = tuple(args.seeds.split(","))
    unknown = [m for m in seed_methods if m not in ("pi", "ntk", "dynamic-ntk", "yarn", "llama3")]
    if unknown or not seed_methods:
        raise ValueError(f"--seeds takes methods among pi, ntk, dynamic-ntk, yarn, llama3, got '{args.seeds}'")
    if args.recover and not args.factors:
        raise ValueError("--recover needs --factors FILE, the long factors to recover the short context of")
    if not args.recover and not args.target:
        raise ValueError("--target is required (e.g. --target 8x or --target 128k)")
    if args.attention_factor is not None and not (math.isfinite(args.attention_factor) and args.attention_factor > 0):
        raise ValueError(f"--attention-factor must be a positive number, got {args.attention_factor}")
    if args.early_reject is not None and not (math.isfinite(args.early_reject) and args.early_reject >= 0):
        raise ValueError(f"--early-reject must be a margin of at least 0 nats, got {args.early_reject}")
    if args.longrope2:
        args.critical_dim, args.needle_fitness = args.critical_dim or "auto", True
    critical_dim = args.critical_dim
    if critical_dim is not None and critical_dim != "auto":
        try:
            critical_dim = int(critical_dim)
        except ValueError:
            raise ValueError(f"--critical-dim takes auto or a pair index, got '{critical_dim}'") from None
    if args.length_scale is not None and critical_dim is None:
        raise ValueError("--length-scale bounds LongRoPE2's search space: it needs --critical-dim or --longrope2")
    if args.recover and (critical_dim is not None or args.needle_fitness):
        raise ValueError("--recover searches the short factors as LongRoPE does; LongRoPE2's options apply to the "
                         "long factors")
    settings = Settings(args.population, args.iterations, args.parents, args.mutations, args.crossovers,
                        args.mutation_prob, args.seed, args.early_reject)
    rank, n_ranks, device = 0, int(os.environ.get("WORLD_SIZE", "1")), args.device  # torchrun sets WORLD_SIZE
    check_ranks(settings, n_ranks)
    if n_ranks > 1:
        rank, n_ranks, launched_on = parallel.init_distributed()
        device = device or launched_on
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_model(args.model, device=device)
    if args.compile:
        model.compile_layers()
    rotary_dim = model.config.rotary_dim
    recover = longrope.load_factors(args.factors, rotary_dim) if args.recover else None
    init = longrope.load_factors(args.init, rotary_dim) if args.init else None
    original = common.original_length(model, args.original_length)
    if recover is not None:
        length = common.parse_length(args.short_length, recover.original_max_len) if args.short_length else None
        needed = length or recover.original_max_len
    else:
        length = needed = common.parse_length(args.target, original)
    reach = int(round(recover.factor * recover.original_max_len)) if recover else length  # what the factors are for
    common.apply_window(model, common.parse_window(args.sliding_window, reach))
    tokenizer = common.load_tokenizer(args.model)
    docs = common.load_documents(args.data, tokenizer, "validation", model.config.vocab_size)
    documents = common.sample_documents(docs, needed, args.samples, seed=args.seed,
                                        what=args.data or "the stdlib validation split")
    if args.needle_fitness:
        documents = longrope2.needle_samples(documents, tokenizer, seed=args.seed)
    provenance = {"data": args.data or "stdlib-validation", "model": args.model,
                  "command": "python search.py " + shlex.join(argv if argv is not None else sys.argv[1:])}
    search_plan = plan(model, None if recover else length, original, recover, length if recover else None, init,
                       args.attention_factor, seed_methods, critical_dim=critical_dim, length_scale=args.length_scale)
    loss_fn = longrope2.needle_loss if args.needle_fitness else evaluate_loss
    run_search(model, documents, search_plan, settings, Run(args.out, args.resume, write=rank == 0, loss_fn=loss_fn,
                                                            ranks=(rank, n_ranks), provenance=provenance))
    if n_ranks > 1:
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    common.run_cli(main)
