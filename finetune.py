"""Fine-tuning one stage of LongRoPE's progressive extension (Ding et al. 2024, arXiv 2402.13753, Sections 3.3 and
4.1): a model at one length with one rescaling, AdamW with linear decay, gradient accumulation, activation
checkpointing, the chunked loss, bf16 autocast on GPUs that have it; on one device or, under a launcher, DeepSpeed
ZeRO-3 with Ulysses sequence parallelism (parallel.py). train.py runs it for each fine-tuning stage.

The data is a pure function of (seed, stage, step, index): `training_sequence` cuts each sequence from the packed
training documents at a seeded place, so a resumed run sees exactly the sequences an uninterrupted one would.
`--short-batch` sequences of the original length join every step (mixed-length training, LongRoPE2's; the paper
fine-tunes on long sequences only), and `--passkey-fraction` of the sequences at the stage's length end in a
passkey example.
"""

import math
import os
import shutil
import time

import numpy as np
import torch
import torch.nn as nn
from tqdm import tqdm

import common
from model import load_model, resolve_model_dir, save_model

LORA_ALPHA = 32  # LoRA scale alpha / rank, with parallel.LORA_RANK


class Interrupted(Exception):
    """--stop-after ran out: the run stops where a kill would, without saving anything more."""


class Context:
    """Where the run happens: ranks, device, sequence-parallel group, and the --stop-after countdown."""

    def __init__(self, args):
        import parallel
        self.rank, self.world, self.device = parallel.init_distributed()
        if args.device:
            self.device = torch.device(args.device)
            if self.device.type == "cuda" and not torch.cuda.is_available():
                raise ValueError(f"--device {args.device}: this machine has no CUDA GPU")
        self.sp = args.sp
        if self.world % self.sp:
            raise ValueError(f"--sp {self.sp} must divide the {self.world} processes")
        self.group = parallel.new_sequence_parallel_group(self.sp) if self.world > 1 else None
        self.dp_rank, self.dp_world = self.rank // self.sp, self.world // self.sp
        self.bf16 = self.device.type == "cuda" and torch.cuda.is_bf16_supported()
        self.left = args.stop_after
        self.window = "model"  # the sliding window every model of the run gets (--sliding-window)

    @property
    def main(self):
        return self.rank == 0

    def tick(self, units=1):
        """One unit of work (an optimizer step, a search iteration) done; raises Interrupted when none are left."""
        if self.left is not None:
            self.left -= units
            if self.left <= 0:
                raise Interrupted

    def barrier(self):
        if self.world > 1:
            torch.distributed.barrier()

    def inference_model(self, path):
        """A model for the searches and the summary: on this rank's device, sequence-parallel under a launcher."""
        model = common.apply_window(load_model(path, device=self.device), self.window)
        if self.world > 1:
            import parallel
            parallel.apply_sequence_parallel(model, self.group)
        return model

    def loss_fn(self):
        """Fitness / evaluation loss of a model on documents: plain, or sequence-parallel over the group."""
        if self.world == 1:
            import search
            return search.evaluate_loss
        import parallel

        @torch.inference_mode()
        def loss(model, rope, documents):
            model.set_rope(rope)
            return sum(float(parallel.sequence_parallel_loss(model, d[None].to(self.device), self.group))
                       for d in documents) / len(documents)
        return loss


class LoRALinear(nn.Module):
    """W x + (alpha / r) B A x with W frozen (Hu et al. 2021); B starts at zero, so training starts from W."""

    def __init__(self, base, rank):
        super().__init__()
        self.base = base.requires_grad_(False)
        self.scale = LORA_ALPHA / rank
        w = base.weight
        self.a = nn.Parameter(torch.randn(rank, w.shape[1], dtype=w.dtype, device=w.device) / math.sqrt(w.shape[1]))
        self.b = nn.Parameter(torch.zeros(w.shape[0], rank, dtype=w.dtype, device=w.device))

    def forward(self, x):
        return self.base(x) + nn.functional.linear(nn.functional.linear(x, self.a), self.b) * self.scale

    def merged(self):
        with torch.no_grad():
            self.base.weight += self.scale * (self.b @ self.a).to(self.base.weight.dtype)
        return self.base


def apply_lora(model, rank):
    """Freezes the model and adds trainable adapters on q, k, v, o (parallel.lora_parameter_count's layout)."""
    model.requires_grad_(False)
    for layer in model.layers:
        for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
            setattr(layer.self_attn, name, LoRALinear(getattr(layer.self_attn, name), rank))


def merge_lora(model):
    for layer in model.layers:
        for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
            module = getattr(layer.self_attn, name)
            if isinstance(module, LoRALinear):
                setattr(layer.self_attn, name, module.merged())
    model.requires_grad_(True)


def lr_multiplier(step, warmup, steps):
    """Linear warmup over `warmup` steps (ours), then linear decay to zero at `steps` (Section 4.1's decay)."""
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (steps - step) / (steps - warmup + 1))


def training_sequence(stream, seed, stage, step, index, length, tokenizer=None, passkey_fraction=0.0):
    """Sequence `index` of optimizer step `step`: length + 1 tokens of the packed documents (<s> doc </s> ...) at
    a place that depends only on (seed, stage, step, index), so a resumed run sees exactly the same data. With
    `passkey_fraction`, that share of the sequences ends in a passkey example of random length up to `length`
    (common.passkey_example), as pretraining mixed them in at the base length."""
    rng = np.random.default_rng([seed, stage, step, index])
    start = int(rng.integers(0, len(stream) - length))
    if passkey_fraction and rng.random() < passkey_fraction:
        tail = common.passkey_example(tokenizer, rng, length, with_task=not tokenizer.byte_level)
    else:
        tail = None
    if tail is None:
        return stream[start:start + length + 1]
    return torch.cat([stream[start:start + length + 1 - len(tail)], torch.tensor(tail, dtype=stream.dtype)])


TOKENIZER_SKIP = (".safetensors", ".bin", ".pth", ".pt", ".index.json")


def copy_tokenizer(src, dst):
    """Tokenizer and generation files of a model folder (not its weights, config or states) into dst."""
    for name in sorted(os.listdir(src)):
        path = os.path.join(src, name)
        if os.path.isfile(path) and not name.endswith(TOKENIZER_SKIP) and name not in (
                "config.json", "params.json", "provenance.json", "pretrain_state.pt"):
            shutil.copy2(path, os.path.join(dst, name))


def finetune(model_dir, rope, length, out_dir, stage, stream, tokenizer, opts, ctx, resume):
    """Fine-tunes the model in model_dir at `length` tokens with `rope` on windows of `stream` (`tokenizer` writes the
    passkey examples); writes it (HF format, the rope dict in its config.json) to out_dir. The state is saved every
    --save-every steps and read back on `resume`."""
    import parallel
    steps = opts.steps[min(stage, len(opts.steps) - 1)]
    batch = opts.batch  # a multiple of ctx.dp_world: both callers check it before any work
    model = common.apply_window(load_model(model_dir, device=ctx.device, dtype=torch.float32), ctx.window)
    model.set_rope(rope)
    model.gradient_checkpointing = True
    torch.manual_seed(opts.seed + stage)
    if opts.lora:
        apply_lora(model, parallel.LORA_RANK)
    os.makedirs(out_dir, exist_ok=True)
    state_path = os.path.join(out_dir, "state.pt")
    schedule = lambda step: lr_multiplier(step, opts.warmup, steps)  # noqa: E731
    engine = None
    if ctx.world > 1:
        parallel.apply_sequence_parallel(model, ctx.group)
        engine = parallel.deepspeed_engine(model, opts.lr, zero_stage=3, offload=opts.offload, grad_clip=1.0,
                                           grad_accum=(batch + opts.short_batch) // ctx.dp_world,
                                           lr_schedule=schedule)
    else:
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=opts.lr, betas=(0.9, 0.95), weight_decay=0.0)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    step, log = 0, []
    if resume:
        if engine is not None and os.path.exists(os.path.join(out_dir, "deepspeed", "latest")):
            _, client = engine.load_checkpoint(os.path.join(out_dir, "deepspeed"))
            step, log = client["step"], client["log"]
        elif engine is None and os.path.exists(state_path):
            state = torch.load(state_path, weights_only=False, map_location=ctx.device)
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            step, log = state["step"], state["log"]

    def save(step):
        if engine is not None:
            folder = os.path.join(out_dir, "deepspeed")
            engine.save_checkpoint(folder, tag=f"step{step}", client_state={"step": step, "log": log})
            torch.distributed.barrier()  # `latest` names the new tag on every rank: the older ones can go
            if ctx.main:
                for old in os.listdir(folder):
                    if old.startswith("step") and old != f"step{step}":
                        shutil.rmtree(os.path.join(folder, old))
        else:
            common.save_state({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                               "scheduler": scheduler.state_dict(), "step": step, "log": log}, state_path)

    # `batch` sequences at `length`, plus --short-batch at the original length: those are scored with the short
    # factors and the same attention scale, so the short context stays what it was (the mixed-length training of
    # LongRoPE2; the paper fine-tunes on long sequences only and recovers the short context by search)
    short = rope.original_max_len
    sequences = [(i, length, 0) for i in range(batch)] + [(batch + j, short, 1) for j in range(opts.short_batch)]
    mine = [s for k, s in enumerate(sequences) if k % ctx.dp_world == ctx.dp_rank]  # this data-parallel group's
    tokens_per_step = batch * length + opts.short_batch * short
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=ctx.bf16)
    model.train()
    bar = tqdm(range(step, steps), initial=step, total=steps, desc=f"finetune {common.format_length(length)}",
               disable=not ctx.main)
    for step in bar:
        started = time.time()
        sums = torch.zeros(2, dtype=torch.float64)  # summed loss of the long and of the short sequences
        for i, n, is_short in mine:
            # passkey examples at the stage's length only: the short sequences keep the short context's text
            passkey = 0.0 if is_short else opts.passkey_fraction
            tokens = training_sequence(stream, opts.seed, stage, step, i, n, tokenizer, passkey).to(ctx.device)[None]
            with autocast:
                if engine is not None:
                    loss = parallel.sequence_parallel_loss(engine, tokens[:, :-1], ctx.group, tokens[:, 1:])
                else:
                    loss = model.loss(tokens[:, :-1], tokens[:, 1:])
            if engine is not None:
                engine.backward(loss)  # DeepSpeed divides by its gradient accumulation, len(mine)
                engine.step()
            else:
                (loss / len(mine)).backward()
            sums[is_short] += loss.item()
        if engine is None:
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
        else:  # every rank of a sequence-parallel group holds its group's losses
            sums = sums.to(ctx.device)
            torch.distributed.all_reduce(sums)
            sums = sums.cpu() / ctx.sp
        total = float(sums[0]) / batch
        seconds = time.time() - started
        record = {"stage": f"finetune-{common.format_length(length)}", "step": step + 1, "loss": round(total, 5)}
        if opts.short_batch:
            record["short_loss"] = round(float(sums[1]) / opts.short_batch, 5)
        log.append(record | {"lr": opts.lr * schedule(step), "tokens_per_s": round(tokens_per_step / seconds, 1),
                             "seconds": round(seconds, 3)})
        bar.set_postfix(loss=f"{total:.3f}", tok_s=f"{tokens_per_step / seconds:,.0f}")
        if (step + 1) % opts.save_every == 0 and step + 1 < steps:
            save(step + 1)
        ctx.tick()
    model.eval()
    if engine is not None:
        import deepspeed
        with deepspeed.zero.GatheredParameters(list(model.parameters())):
            if ctx.main:
                merge_lora(model)
                save_model(model, out_dir, rope)
    else:
        merge_lora(model)
        save_model(model, out_dir, rope)
    if ctx.main:
        copy_tokenizer(resolve_model_dir(model_dir), out_dir)
        if ctx.device.type == "cuda":  # measured, beside the estimate printed before the stage
            peak, held = (f(ctx.device) / parallel.GB for f in (torch.cuda.max_memory_allocated,
                                                                 torch.cuda.max_memory_reserved))
            print(f"finetune {common.format_length(length)}: peak {peak:.1f} GB allocated ({held:.1f} GB reserved)")
    return log
