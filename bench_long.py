"""Two million tokens on one GPU: peak memory and time of a 7B-shaped model's perplexity forward from 128k to
2048k tokens, against transformers wherever transformers runs at all, and a passkey without a KV cache.

    python bench_long.py --device cuda --json docs/bench_cuda_2m.json     # Llama-2-7B's shape, bf16, random weights
    python bench_long.py --config small --lengths 16k,32k --whole-up-to 16k --passkey-length 16k   # a CPU run

The weights are random: the point is memory and time, not quality. The model is LongRoPE-extended to the longest
length (YaRN's factors as its long factors, s = longest / 4096). Each record is saved as it lands, so a run that is
killed or runs out of time keeps what it measured. In order:

  1. The shape without layers (embedding, final norm, chunked loss) at every length, then `--layers` layers of it
     (default 2). An inference forward runs the layers one after another and keeps nothing of a finished one, so
     the peak above the weights does not grow with depth: the whole model's peak is the measured one plus the
     whole model's weights. One layer takes (t_layers - t_0) / layers, the whole model t_0 + n_layers x that. Each
     record writes this arithmetic out.
  2. transformers' Llama on the very same weight tensors (shared, not copied), up to the first length it cannot
     hold.
  3. The whole model, every layer, at the lengths up to --whole-up-to: measured, which checks the extrapolation.
  4. A teacher-forced passkey at --passkey-length on the `--layers` model: one memory-bounded forward over prompt +
     key (eval.teacher_forced_predictions) where generation would need a KV cache of every layer. Random weights
     retrieve nothing; its memory and time are the point.
  5. A length the free memory cannot hold: refused before any work, with the estimate and what would fit.

Every model is warmed up untimed first, and passes up to --whole-up-to are timed twice (the second kept): a first
pass at a new length pays for the attention kernel's plans. A step predicted (from the times measured so far,
quadratic in the length) to outrun --budget-s is skipped and recorded as skipped. Memory, in GiB (2^30 bytes):
torch.cuda.max_memory_allocated above what was allocated just before the pass (the weights) on CUDA; on a CPU the
peak resident set above the one before the pass, a lower bound where the allocator reuses memory a previous pass
freed.
"""

import argparse
import gc
import time
from dataclasses import replace

import torch

import bench
import common
import longrope
from model import PRESETS, ModelConfig, Transformer, forward_chunk, forward_memory, free_memory_bytes

CONFIGS = {"7b": PRESETS["llama-2-7b"],
           "small": ModelConfig(vocab_size=32000, hidden_size=256, n_layers=4, n_heads=4, n_kv_heads=4, head_dim=64,
                                intermediate_size=688)}
GB = 2**30


def extended_rope(cfg, longest):
    """LongRoPE for `longest` tokens: YaRN's factors as the long factors, identity short ones (s = longest / L)."""
    original = cfg.max_position_embeddings
    yarn = longrope.make_rope("yarn", original, longest)
    long_factor = longrope.rescale_factors(yarn, cfg.rotary_dim, cfg.rope_theta, longest)
    return longrope.RopeScaling("longrope", longest / original, original, long_factor=long_factor,
                                short_factor=[1.0] * (cfg.rotary_dim // 2))


def random_model(cfg, n_layers, device, dtype, rope, seed=0):
    """Ours with `n_layers` layers of `cfg`'s shape, random weights made on the device (no host copy)."""
    with torch.device("meta"):
        model = Transformer(replace(cfg, n_layers=n_layers), rope).to(dtype)
    model.to_empty(device=device)
    generator = torch.Generator(device=device).manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.fill_(1.0)
            else:
                p.normal_(0.0, 0.02, generator=generator)
    return model.eval().requires_grad_(False)


def transformers_twin(model):
    """transformers' Llama holding the very tensors of `model` (assigned, not copied), with the same rope dict."""
    import transformers
    from checkpoint import hf_config_dict
    config = transformers.AutoConfig.for_model(**hf_config_dict(model.config, model.rope))
    config.original_max_position_embeddings = model.rope.original_max_len  # where some versions read it
    with torch.device("meta"):
        hf = transformers.AutoModelForCausalLM.from_config(config, attn_implementation="sdpa")
    weights = {("" if k.startswith("lm_head") else "model.") + k: v for k, v in model.state_dict().items()}
    loaded = hf.load_state_dict(weights, assign=True, strict=False)
    if loaded.missing_keys or loaded.unexpected_keys:
        raise ValueError(f"transformers' twin does not match ours: {loaded}")
    hf.model.rotary_emb = type(hf.model.rotary_emb)(config=config).to(model.lm_head.weight.device)
    return hf.eval().requires_grad_(False)


class Meter:
    """Peak memory above what is allocated just before the call, and seconds, of one call."""

    def __init__(self, device):
        self.cuda = torch.device(device).type == "cuda"

    def __call__(self, run):
        gc.collect()
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
        else:
            from bench import resident_kb
            base = resident_kb(reset_peak=True) * 1024
        started = time.perf_counter()
        value = run()
        if self.cuda:
            torch.cuda.synchronize()
        seconds = time.perf_counter() - started
        peak = torch.cuda.max_memory_allocated() - base if self.cuda else resident_kb(peak=True) * 1024 - base
        return value, seconds, peak / GB


def weights_gb(model):
    return sum(p.numel() * p.element_size() for p in model.parameters()) / GB


def loss_of(model, tokens):
    return bench.run_once(model, "ours" if isinstance(model, Transformer) else "transformers", tokens)


class Budget:
    """Seconds left, and a guess of a pass from the last one measured of its kind (quadratic in the length, or
    the guess a caller makes)."""

    def __init__(self, seconds):
        self.end, self.last = time.perf_counter() + seconds, {}

    def allows(self, kind, n, guess=None):
        if guess is None and kind in self.last:
            m, seconds = self.last[kind]
            guess = seconds * (n / m) ** 2
        return (guess or 0.0) < self.left()

    def note(self, kind, n, seconds):
        self.last[kind] = (n, seconds)

    def left(self):
        return self.end - time.perf_counter()


def run(args):
    cfg, device, lengths = CONFIGS[args.config], torch.device(args.device), args.lengths
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    rope = extended_rope(cfg, max(lengths))
    budget, meter, records = Budget(args.budget_s), Meter(device), []
    out = {"config": args.config, "shape": vars(cfg), "dtype": str(dtype).replace("torch.", ""),
           "layers": args.layers, "budget_s": args.budget_s, "torch": torch.__version__, "records": records,
           "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"}
    if device.type == "cuda":
        import importlib.util
        import transformers
        out.update({"cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(),
                    "transformers": transformers.__version__, "gpu_gb": torch.cuda.get_device_properties(device).total_memory / GB,
                    "flash_attn": importlib.util.find_spec("flash_attn") is not None})

    def save(record):
        records.append(record)
        print({k: round(v, 3) if isinstance(v, float) else v for k, v in record.items()}, flush=True)
        if args.json:
            common.save_json(args.json, out)
        return record

    def measure(what, model, n, kind, guess=None):
        """One pass at n tokens (two up to --whole-up-to, the second kept: the first pays for kernels' plans)."""
        if not budget.allows(kind, n, guess):
            return save({"what": what, "length": n, "skipped": f"predicted past the budget ({budget.left():.0f} s left)"})
        generator = torch.Generator().manual_seed(n)  # the same tokens for every model at this length
        tokens = torch.randint(0, cfg.vocab_size, (1, n), generator=generator).to(device)
        try:
            for _ in range(2 if args.whole_up_to and n <= args.whole_up_to else 1):
                loss, seconds, peak = meter(lambda: loss_of(model, tokens))
        except torch.OutOfMemoryError:
            return save({"what": what, "length": n, "fits": False})
        except ValueError as e:  # ours: refused before any work (model.forward_chunk)
            return save({"what": what, "length": n, "fits": False, "refused": str(e)})
        except RuntimeError as e:  # a kernel's own error: recorded, and the run goes on
            return save({"what": what, "length": n, "fits": False, "error": str(e)[:300]})
        budget.note(kind, n, seconds)
        return save({"what": what, "length": n, "fits": True, "seconds": seconds, "peak_gb": peak,
                     "weights_gb": weights_gb(model), "loss": loss})

    def warm(model):  # the process's first kernels, allocations and attention plans: never timed
        loss_of(model, torch.zeros(1, min(8192, min(lengths)), dtype=torch.long, device=device))

    torch.manual_seed(0)
    empty, model = random_model(cfg, 0, device, dtype, rope), random_model(cfg, args.layers, device, dtype, rope)
    warm(empty)
    warm(model)
    base = {n: measure("ours, no layers", empty, n, "empty") for n in lengths}
    del empty
    whole_weights = (weights_gb(model) + (cfg.n_layers - args.layers) *
                     sum(p.numel() for p in model.layers[0].parameters()) * model.lm_head.weight.element_size() / GB)
    extrapolated = {}
    for n in lengths:  # ours first, the figure that matters most, at every length
        ours = measure(f"ours, {args.layers} layers", model, n, "layers")
        if ours.get("fits") and base[n].get("fits"):
            per_layer = (ours["seconds"] - base[n]["seconds"]) / args.layers
            extrapolated[n] = base[n]["seconds"] + cfg.n_layers * per_layer
            ours.update({"seconds_per_layer": per_layer, "whole_model_seconds": extrapolated[n],
                         "whole_model_weights_gb": whole_weights,
                         "whole_model_peak_gb": whole_weights + ours["peak_gb"],
                         "arithmetic": f"{base[n]['seconds']:.2f} s + {cfg.n_layers} x ({ours['seconds']:.2f} - "
                                       f"{base[n]['seconds']:.2f}) / {args.layers} s; {whole_weights:.2f} GiB of "
                                       f"weights + {ours['peak_gb']:.2f} GiB above them"})
            if args.json:
                common.save_json(args.json, out)
    if args.transformers:
        twin = transformers_twin(model)
        warm(twin)
        for n in lengths:  # up to the first length it cannot hold
            if not measure(f"transformers, {args.layers} layers", twin, n, "transformers").get("fits"):
                break
        del twin
    whole_lengths = [n for n in lengths if args.whole_up_to and n <= args.whole_up_to]
    if whole_lengths and budget.left() > 0:
        whole = random_model(cfg, cfg.n_layers, device, dtype, rope)
        warm(whole)
        for n in whole_lengths:  # checks the extrapolation
            measure(f"ours, all {cfg.n_layers} layers", whole, n, "whole", guess=extrapolated.get(n))
        del whole
    if args.passkey_length:
        passkey(cfg, model, args.passkey_length, meter, budget, save)
    free = free_memory_bytes(device)
    if free is not None:
        dtype_bytes = torch.tensor([], dtype=dtype).element_size()
        n = max(lengths)
        while forward_memory(cfg, n, 256, dtype_bytes) <= free:
            n *= 2
        try:
            forward_chunk(cfg, n, free, dtype_bytes)
        except ValueError as e:
            save({"what": "refused before any work", "length": n, "message": str(e)})
    return out


def passkey(cfg, model, n, meter, budget, save):
    """The teacher-forced passkey at n tokens, its memory and time, and the KV cache that generation would need for
    the whole model of `cfg`'s shape."""
    from eval import passkey_results
    tokenizer = common.load_tokenizer("tiny")  # byte-level: its ids are valid in any vocabulary past 264
    if not budget.allows("layers", n):
        return save({"what": "teacher-forced passkey", "length": n, "skipped": "predicted past the budget"})
    model._rope_tables.clear()
    try:
        results, seconds, peak = meter(lambda: passkey_results(model, tokenizer, model.rope, n, 0.5, 1, 0, False,
                                                               "teacher-forced"))
    except (torch.OutOfMemoryError, ValueError, RuntimeError) as e:
        return save({"what": "teacher-forced passkey", "length": n, "fits": False, "error": str(e)[:300]})
    (key, answer, correct), = results
    save({"what": "teacher-forced passkey", "length": n, "seconds": seconds, "peak_gb": peak, "key": key,
          "answer": answer, "correct": correct,
          "kv_cache_gb_generation_would_need": 2 * cfg.n_layers * cfg.n_kv_heads * cfg.head_dim * n *
          model.lm_head.weight.element_size() / GB})


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", choices=sorted(CONFIGS), default="7b", help="the shape (7b: Llama-2-7B)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--lengths", default="128k,256k,512k,1024k,2048k")
    p.add_argument("--layers", type=int, default=2, help="layers of the model measured at every length")
    p.add_argument("--whole-up-to", default="256k", help="the whole model is measured up to this length ('none': never)")
    p.add_argument("--passkey-length", default="1024k", help="teacher-forced passkey length ('none': no passkey)")
    p.add_argument("--no-transformers", dest="transformers", action="store_false")
    p.add_argument("--budget-s", type=float, default=480.0, help="skip what would run past this many seconds")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--json", default=None, help="where the records go (saved after each)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    args.lengths = common.parse_lengths(args.lengths)
    args.whole_up_to, args.passkey_length = (common.parse_length(v) if v not in ("", "none") else None
                                             for v in (args.whole_up_to, args.passkey_length))
    if not args.lengths:
        raise ValueError("--lengths is empty")
    if args.layers < 1:
        raise ValueError(f"--layers must be at least 1, got {args.layers}")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is available here")
    return run(args)


if __name__ == "__main__":
    common.run_cli(main)
