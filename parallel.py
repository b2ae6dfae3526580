"""Multi-GPU fine-tuning at 128k-256k tokens: Ulysses sequence parallelism and DeepSpeed ZeRO-3, applied to
model.py's Transformer from outside, plus a per-device memory estimate that says what a run needs.

LongRoPE (Ding et al. 2024, arXiv 2402.13753, Sections 3.3 and 4.1) fine-tunes Llama-2-7B at 128k and then 256k
tokens (on 16 A100s). Neither the model states nor the activations of one such sequence fit one GPU: full tuning with
mixed-precision AdamW holds 16 bytes per parameter (100 GB for 7B), and a 256k sequence keeps 32 layers x 256k x
4096 bf16 layer inputs (64 GB) even with activation checkpointing. Two orthogonal cuts, the "ALST" stack (Arctic
Long Sequence Training, Bekman et al. 2025):

ZeRO-3 (Rajbhandari et al. 2020) shards parameters, gradients and optimizer states over all N ranks, so each holds
1/N of the 16 bytes per parameter; a layer's full weights are all-gathered just before its forward/backward and
freed after. DeepSpeed does this; `deepspeed_engine` builds the engine from a config dict.

Ulysses sequence parallelism (Jacobs et al. 2023, DeepSpeed-Ulysses) shards the sequence over the P ranks of a
group: each rank embeds, normalizes and runs the MLP on its own T/P tokens, so everything except attention is
token-local. Attention mixes tokens, so around it one all-to-all re-shards q, k, v from sequence-sharded
(B, T/P, heads, hd) to head-sharded (B, T, heads/P, hd): every rank then holds whole sequences for 1/P of the
heads, runs the ordinary causal (or Mistral sliding-window) attention exactly as a single GPU would, and a second
all-to-all brings the output back to (B, T/P, heads, hd). Hence P must divide both the query heads and the KV
heads (a query head must land on the rank holding its KV head). Positions are global: rank r's tokens sit at
r*T/P .. (r+1)*T/P - 1, and RoPE (with LongRoPE's rescaling chosen for the full length T) is applied to q/k
before the exchange, from cos/sin tables built for T and sliced at r*T/P.

The hook: model.Attention calls its attention core through `self.attend` (model.attention by default);
`apply_sequence_parallel` swaps in `UlyssesAttention`, which wraps model.attention in DeepSpeed's
`DistributedAttention`. The loss shifts labels globally before sharding, sums nats per rank and all-reduces, so
loss and gradients equal the single-process ones (tests/test_parallel.py checks both to float32 rounding).

Launch (8 GPUs, each sequence split over all 8):  torchrun --nproc_per_node 8 train.py ... --sp 8
                                            or:  deepspeed --num_gpus 8 --no_local_rank train.py ... --sp 8
(without --no_local_rank the deepspeed launcher appends --local_rank=N to the script's arguments).
"""

import os

import torch
import torch.distributed as dist
import torch.nn as nn

import model as model_lib

# ----------------------------------------------------------------------------------------------------------------
# Process groups


def init_distributed():
    """Joins the process group a launcher (torchrun, deepspeed) described in RANK / WORLD_SIZE / LOCAL_RANK.

    Returns (rank, world_size, device). nccl on CUDA, gloo on CPU; a single process (no WORLD_SIZE, or 1) is a
    no-op, so train.py runs the same code with and without a launcher.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available()
    device = torch.device(f"cuda:{local_rank}" if cuda else "cpu")
    if world == 1:
        return 0, 1, device
    if cuda:
        torch.cuda.set_device(device)  # before any collective: nccl binds a communicator to the current device
    if not dist.is_initialized():
        try:
            import deepspeed  # initializes deepspeed.comm too, which DistributedAttention's all-to-all goes through
            deepspeed.init_distributed(dist_backend="nccl" if cuda else "gloo", verbose=False)
        except ImportError:
            dist.init_process_group("nccl" if cuda else "gloo")
    return dist.get_rank(), dist.get_world_size(), device


def share(compute, items, ranks):
    """[compute(item) for item in items] with the work dealt round-robin: process r of n computes items r, r + n, ...
    and every process gathers every result. A result does not depend on which process computed it (the same kernels
    on the same kind of device), so a caller reaches the same outcome for any number of processes."""
    rank, n_ranks = ranks
    mine = {i: compute(item) for i, item in enumerate(items) if i % n_ranks == rank}
    if n_ranks > 1:
        gathered = [None] * dist.get_world_size()
        dist.all_gather_object(gathered, mine)
        mine = {i: result for part in gathered for i, result in part.items()}
    return [mine[i] for i in range(len(items))]


def new_sequence_parallel_group(sp_degree):
    """Splits the world into consecutive groups of `sp_degree` ranks (0..P-1, P..2P-1, ...); returns this rank's.

    Ranks in one group share one sequence; groups are data-parallel replicas (data-parallel rank = rank // P).
    Every rank must create every group (torch.distributed's rule), hence the loop.
    """
    world, rank = dist.get_world_size(), dist.get_rank()
    if sp_degree < 1 or world % sp_degree:
        raise ValueError(f"sequence parallel degree {sp_degree} must divide the number of processes {world}")
    mine = None
    for first in range(0, world, sp_degree):
        ranks = list(range(first, first + sp_degree))
        group = dist.new_group(ranks)
        if rank in ranks:
            mine = group
    return mine


def _rank_and_size(group):
    if not dist.is_initialized():
        return 0, 1
    return dist.get_rank(group), dist.get_world_size(group)


# ----------------------------------------------------------------------------------------------------------------
# Ulysses sequence parallelism


class UlyssesAttention:
    """Drop-in for model.attention(q, k, v, q_start, window) on one rank of a sequence-parallel group.

    Receives this rank's T/P tokens for all heads, returns the same; in between, DeepSpeed's DistributedAttention
    all-to-alls to all T tokens for heads/P heads and runs model.attention on them. A plain callable, not an
    nn.Module, so the model's module tree (state_dict keys, ZeRO-3 hooks) is unchanged.
    """

    def __init__(self, group):
        from deepspeed.sequence.layer import DistributedAttention
        # DistributedAttention takes (B, T, H, hd) with batch_dim_idx=0: scatter heads (dim 2), gather sequence (1)
        self.exchange = DistributedAttention(self._local, group, scatter_idx=2, gather_idx=1)

    @staticmethod
    def _local(q, k, v, window):
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # (B, nh/P, T, hd), (B, nkv/P, T, hd)
        # q_start is 0 here: after the exchange this rank sees every sequence from its first token, so the causal
        # mask and the sliding window are exactly those of a single GPU. Heads split evenly in order: rank r holds
        # query heads r*nh/P.. and KV heads r*nkv/P.., so grouped-query pairs (h, h // (nh/nkv)) stay together.
        return model_lib.attention(q, k, v, 0, window).transpose(1, 2)  # (B, T, nh/P, hd)

    def __call__(self, q, k, v, q_start, window):
        # q (B, nh, T/P, hd), k/v (B, nkv, T/P, hd); q_start = this rank's global offset, already used by RoPE
        out = self.exchange(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),  # (B, T/P, heads, hd)
                            batch_dim_idx=0, window=window)  # (B, T/P, nh, hd)
        return out.transpose(1, 2)  # (B, nh, T/P, hd)


def apply_sequence_parallel(model, group=None):
    """Makes every attention layer of a model.Transformer run Ulysses over `group` (default: all processes).

    Only the attention core changes; weights, RoPE and the MLP are untouched. Call forward with this rank's tokens
    and their global offset: `model(local_tokens, start=rank * T // P, rope_len=T)` (`sequence_parallel_loss` does).
    Training and evaluation only: a KV cache (generation) is not sequence-sharded.
    """
    _, size = _rank_and_size(group)
    cfg = model.config
    if size == 1:
        return model
    if cfg.n_heads % size or cfg.n_kv_heads % size:
        raise ValueError(f"sequence parallel degree {size} must divide the number of query heads ({cfg.n_heads}) "
                         f"and of key/value heads ({cfg.n_kv_heads})")
    import deepspeed.comm
    if not deepspeed.comm.is_initialized():  # torch.distributed was set up without deepspeed: let it wrap that
        deepspeed.comm.init_distributed(dist_backend=dist.get_backend(), verbose=False)
    attend = UlyssesAttention(group)
    for layer in model.layers:
        layer.self_attn.attend = attend
    return model


def shard_batch(tokens, rank, world, targets=None):
    """tokens (B, T) -> this rank's (local tokens, local targets), each (B, T/world).

    Labels are shifted on the whole sequence first, so the target of a rank's last token is the next rank's first
    token; the very last token of the sequence has no target (-100), unless `targets` (B, T) are given (training
    feeds T + 1 tokens as tokens[:, :-1] and targets tokens[:, 1:]). Every rank gets the same number of tokens,
    which the all-to-all needs.
    """
    B, T = tokens.shape
    if T % world:
        raise ValueError(f"sequence length {T} must be divisible by the sequence parallel degree {world}")
    if targets is None:
        targets = torch.cat([tokens[:, 1:], tokens.new_full((B, 1), -100)], dim=1)  # (B, T)
    shard = slice(rank * (T // world), (rank + 1) * (T // world))
    return tokens[:, shard], targets[:, shard]  # (B, T/world) each


class ShardLoss(nn.Module):
    """Sum of next-token losses (nats) of one rank's shard.

    A module of its own so that under ZeRO-3 the LM head's weight, used outside lm_head's own forward by the
    chunked loss, is gathered for this forward and its backward (`deepspeed_engine` registers it).
    """

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, tokens, targets, start, rope_len):
        return self.model.loss(tokens, targets, reduction="sum", start=start, rope_len=rope_len)  # (B, T/P) shard


def sequence_parallel_loss(model, tokens, group=None, targets=None):
    """Mean next-token loss of the full batch tokens (B, T) (or of explicit `targets` (B, T)), every rank passing the same tokens.

    `model`: a Transformer after apply_sequence_parallel, or the engine from deepspeed_engine. Each rank sums its
    shard's nats; a differentiable all-reduce makes the value the global mean on every rank. Its backward sums the
    P ranks' upstream gradients, so each rank's parameter gradients are P x its own share: averaging gradients
    over the ranks, as DeepSpeed's data-parallel reduction does (or an all-reduce AVG), gives exactly the
    single-process gradient, also when several sequence-parallel groups run data-parallel side by side.
    """
    rank, size = _rank_and_size(group)
    local, targets = shard_batch(tokens, rank, size, targets)
    shard_loss = ShardLoss(model) if isinstance(model, model_lib.Transformer) else model
    total = shard_loss(local, targets, start=rank * local.shape[1], rope_len=tokens.shape[1])
    count = (targets != -100).sum()
    if size > 1:
        total = _SumOverGroup.apply(total, group)
        dist.all_reduce(count, group=group)
    return total / count.clamp(min=1)


class _SumOverGroup(torch.autograd.Function):
    """all-reduce (sum) with its true backward: every rank's loss depends on every rank's nats, so the gradient
    reaching a rank's own nats is the sum of all ranks' upstream gradients (one all-reduce more in backward)."""

    @staticmethod
    def forward(ctx, x, group):
        ctx.group = group
        x = x.clone()
        dist.all_reduce(x, group=group)
        return x

    @staticmethod
    def backward(ctx, grad):
        grad = grad.clone()
        dist.all_reduce(grad, group=ctx.group)
        return grad, None


# ----------------------------------------------------------------------------------------------------------------
# DeepSpeed ZeRO


def deepspeed_engine(model, lr, zero_stage=3, offload=False, grad_clip=1.0, weight_decay=0.0, betas=(0.9, 0.95),
                     eps=1e-8, micro_batch=1, grad_accum=1, bf16=None, lr_schedule=None):
    """A DeepSpeed engine training `model` (after apply_sequence_parallel if sequences are sharded).

    ZeRO `zero_stage` over all ranks, bf16 where the GPU supports it (bf16=None), AdamW, gradient clipping, and with
    `offload` the optimizer (and under ZeRO-3 the parameters) in CPU memory. Only parameters with requires_grad are
    optimized (LoRA freezes the rest); `lr_schedule(step) -> multiplier` is applied at every step.
    Use: `loss = sequence_parallel_loss(engine, tokens, group); engine.backward(loss); engine.step()`. The engine's
    module is ShardLoss(model); under ZeRO-3 read full weights inside
    `deepspeed.zero.GatheredParameters(list(model.parameters()))`.
    """
    import deepspeed
    cuda = torch.cuda.is_available()
    if not dist.is_initialized():  # one process without a launcher: DeepSpeed still wants a (one-rank) group
        os.environ.setdefault("LOCAL_RANK", "0")
        deepspeed.init_distributed(dist_backend="nccl" if cuda else "gloo", init_method="tcp://127.0.0.1:0", rank=0,
                                   world_size=1, auto_mpi_discovery=False, verbose=False)
    hidden = model.config.hidden_size
    zero = {
        "stage": zero_stage,
        "overlap_comm": cuda,
        "contiguous_gradients": True,
        # bucket sizes in elements, scaled to the layer width (the values Hugging Face's "auto" picks)
        "reduce_bucket_size": hidden * hidden,
        "stage3_prefetch_bucket_size": int(0.9 * hidden * hidden),
        "stage3_param_persistence_threshold": 10 * hidden,  # norms stay whole on every rank
        "stage3_gather_16bit_weights_on_model_save": True,
    }
    if offload:
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": cuda}
        if zero_stage == 3:
            zero["offload_param"] = {"device": "cpu", "pin_memory": cuda}
    config = {
        "train_micro_batch_size_per_gpu": micro_batch,
        "gradient_accumulation_steps": grad_accum,
        "gradient_clipping": grad_clip,
        "bf16": {"enabled": bool(cuda and torch.cuda.is_bf16_supported() if bf16 is None else bf16)},
        "zero_optimization": zero,
        # torch's AdamW on the GPU (no CUDA op to JIT-build); offload needs DeepSpeed's CPU Adam
        "optimizer": {"type": "AdamW", "params": {"lr": lr, "betas": list(betas), "eps": eps,
                                                  "weight_decay": weight_decay, "torch_adam": not offload}},
        "steps_per_print": 1 << 30,
    }
    shard_loss = ShardLoss(model)
    if zero_stage == 3:
        deepspeed.zero.register_external_parameter(shard_loss, model.lm_head.weight)
    scheduler = (lambda optimizer: torch.optim.lr_scheduler.LambdaLR(optimizer, lr_schedule)) if lr_schedule else None
    engine, *_ = deepspeed.initialize(model=shard_loss, config=config, lr_scheduler=scheduler,
                                      model_parameters=[p for p in model.parameters() if p.requires_grad])
    return engine


# ----------------------------------------------------------------------------------------------------------------
# Memory estimate


GB = 1024**3
LORA_RANK = 16  # LoRA adapters of this rank on q, k, v, o (LongLoRA's choice), when lora=True
OVERHEAD_GB = 2.0  # CUDA context, NCCL buffers, allocator fragmentation


def layer_parameter_count(cfg):
    attention = cfg.hidden_size * cfg.head_dim * (2 * cfg.n_heads + 2 * cfg.n_kv_heads)
    mlp = 3 * cfg.hidden_size * cfg.intermediate_size
    return attention + mlp + 2 * cfg.hidden_size  # two RMSNorm weights


def parameter_count(cfg):
    embeddings = cfg.vocab_size * cfg.hidden_size * (1 if cfg.tie_word_embeddings else 2)
    return cfg.n_layers * layer_parameter_count(cfg) + embeddings + cfg.hidden_size  # + the final norm


def lora_parameter_count(cfg, rank=LORA_RANK):
    # A (r x in) and B (out x r) on q, k, v, o
    q_o = 2 * rank * (cfg.hidden_size + cfg.n_heads * cfg.head_dim)
    k_v = 2 * rank * (cfg.hidden_size + cfg.n_kv_heads * cfg.head_dim)
    return cfg.n_layers * (q_o + k_v)


def estimate_memory(cfg, seq_len, n_gpus=1, sp_degree=1, zero_stage=3, lora=False, offload=False, dtype_bytes=2,
                    activation_checkpointing=True, compute_bytes=2):
    """GB per device to train one sequence of seq_len tokens (micro-batch 1) on n_gpus with Ulysses degree sp_degree.

    `dtype_bytes`: the weights' (and residual stream's) bytes, 2 under DeepSpeed's bf16, 4 for float32 weights;
    `compute_bytes`: the matmuls' (2 under bf16 autocast or bf16 weights, else 4).
    Returns {"parameters", "gradients", "optimizer", "activations", "total"} in GB, and "inputs" (the arguments).
    ZeRO shards over all n_gpus ranks (sequence-parallel ranks included, as in `deepspeed_engine`).
    """
    if seq_len % sp_degree or n_gpus % sp_degree:
        raise ValueError(f"sequence parallel degree {sp_degree} must divide seq_len {seq_len} and n_gpus {n_gpus}")
    N = parameter_count(cfg)
    trainable = lora_parameter_count(cfg) if lora else N
    layer_params = layer_parameter_count(cfg)

    # Parameters: dtype_bytes each; ZeRO-3 shards them over n_gpus (offload moves the shards to CPU) but gathers
    # whole layers while they run: the running one and one prefetched.
    if zero_stage >= 3 and n_gpus > 1:
        params = (0 if offload else N * dtype_bytes / n_gpus) + 2 * layer_params * dtype_bytes
    else:
        params = N * dtype_bytes
    # Gradients of trainable parameters in the training dtype; sharded from ZeRO-2 on.
    grads = trainable * dtype_bytes / (n_gpus if zero_stage >= 2 else 1)
    # AdamW: two float32 moments (8 bytes) plus, in mixed precision, a float32 master copy (4): 12 bytes / param.
    # Sharded from ZeRO-1 on; offload keeps them (and the update) on the CPU.
    optimizer_bytes = 8 + (4 if dtype_bytes < 4 else 0)
    optimizer = 0 if offload else trainable * optimizer_bytes / (n_gpus if zero_stage >= 1 else 1)

    # Activations, in bytes per token of this rank's t = seq_len / sp: r = dtype_bytes, c = compute_bytes.
    # One layer keeps for its backward: per RMSNorm its float32 input and output and the copy the next matmul reads
    # (8 + c bytes per channel); q, k, v after RoPE, the attention output and o_proj's input, and under sequence
    # parallelism the same again in the other Ulysses layout (the attention itself is a flash kernel, linear in T);
    # the MLP's gate, up, silu(gate) and product. Its backward adds two (t x intermediate) gradients and the
    # attention's float32 dq accumulator. With checkpointing only each layer's input survives the forward and one
    # layer's set is rebuilt at a time; without it every layer keeps its set.
    # Measured on an H100: four Llama-2-7B layers in float32 under bf16 autocast (r = 4, c = 2) peaked at 4.0,
    # 8.1 and 17.7 GB over their model states at 16k, 32k and 64k tokens; this counts 5.8, 11.5 and 22.8, and with
    # the states and OVERHEAD_GB it is within 1.5% of what PyTorch reserved from 32k to 128k (docs/bench_cuda_finetune).
    h, q_heads, kv_heads = cfg.hidden_size, cfg.n_heads * cfg.head_dim, cfg.n_kv_heads * cfg.head_dim
    r, c = dtype_bytes, compute_bytes
    attention = c * (q_heads + 2 * kv_heads + 2 * q_heads) * (2 if sp_degree > 1 else 1)
    layer_set = 2 * (8 + c) * h + attention + 4 * c * cfg.intermediate_size
    backward = 2 * c * cfg.intermediate_size + 4 * q_heads
    t = seq_len // sp_degree
    if activation_checkpointing:
        acts = t * (cfg.n_layers * r * h + layer_set + backward)
    else:
        acts = t * (cfg.n_layers * layer_set + backward)
    # The final hidden states and their float32 gradient, and the chunked loss: at most 2^24 logits alive, in the
    # compute dtype, as float32 and their float32 gradient. cos/sin tables cover all seq_len positions.
    acts += t * h * (r + 4) + (1 << 24) * (c + 8) + 2 * seq_len * cfg.head_dim * 4

    result = {"parameters": params / GB, "gradients": grads / GB, "optimizer": optimizer / GB,
              "activations": acts / GB}
    result["total"] = sum(result.values()) + OVERHEAD_GB
    result["inputs"] = dict(cfg=cfg, seq_len=seq_len, n_gpus=n_gpus, sp_degree=sp_degree, zero_stage=zero_stage,
                            lora=lora, offload=offload, dtype_bytes=dtype_bytes,
                            activation_checkpointing=activation_checkpointing, compute_bytes=compute_bytes)
    return result


def _sp_choices(cfg, seq_len, n_gpus):
    """Ulysses degrees that are possible: dividing the heads, the KV heads, the GPUs and the sequence."""
    return [p for p in range(1, n_gpus + 1)
            if cfg.n_heads % p == 0 and cfg.n_kv_heads % p == 0 and n_gpus % p == 0 and seq_len % p == 0]


def fit_advice(estimate, device_memory_gb, max_gpus=1024):
    """None when the estimate fits a device of device_memory_gb, otherwise one sentence on what would make it fit.

    First the same GPUs with ZeRO-3 and the largest possible sequence parallel degree; if that is not enough, every
    way that works among: the fewest GPUs (doubling, up to max_gpus), LoRA, CPU offload, LoRA with offload.
    """
    if estimate["total"] <= device_memory_gb:
        return None
    inp = estimate["inputs"]
    cfg, seq_len, n_gpus = inp["cfg"], inp["seq_len"], inp["n_gpus"]
    need = f"It needs {estimate['total']:.0f} GB per device, more than {device_memory_gb:.0f} GB"

    def total(**change):  # ZeRO-3 and the largest sequence parallel degree the GPUs and heads allow
        n = change.get("n_gpus", n_gpus)
        sp = max(_sp_choices(cfg, seq_len, n))
        return estimate_memory(**{**inp, "zero_stage": 3, "sp_degree": sp, **change})["total"], sp

    same, sp = total()
    if same <= device_memory_gb:
        return f"{need}; ZeRO-3 with sequence parallel degree {sp} on the same {n_gpus} GPUs would fit ({same:.0f} GB)."
    more = []
    n = n_gpus * 2
    while n <= max_gpus and not more:
        value, more_sp = total(n_gpus=n)
        if value <= device_memory_gb:
            more = [f"on {n} GPUs at sequence parallel degree {more_sp} ({value:.0f} GB)"]
        n *= 2
    here = []
    for change, words in ((dict(lora=True), "LoRA"), (dict(offload=True), "CPU offload"),
                          (dict(lora=True, offload=True), "LoRA and CPU offload")):
        value, _ = total(**change)
        if value <= device_memory_gb and not (len(change) == 2 and here):  # both only if neither alone works
            here.append(f"with {words} ({value:.0f} GB)")
    if here:
        at = f" at sequence parallel degree {sp}" if sp > 1 else ""
        here = [f"on the same {n_gpus} GPU{'s' if n_gpus > 1 else ''}{at} " + " or ".join(here)]
    if more or here:
        return f"{need}; with ZeRO-3 it would fit " + ", or ".join(more + here) + "."
    top = max(_sp_choices(cfg, seq_len, max_gpus))
    return (f"{need}, and neither up to {max_gpus} GPUs nor LoRA nor offload makes it fit: the activations of "
            f"{seq_len} tokens need a larger sequence parallel degree than the {top} that {cfg.n_heads} query and "
            f"{cfg.n_kv_heads} key/value heads allow, or a shorter sequence.")
