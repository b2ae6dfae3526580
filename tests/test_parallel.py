"""parallel.py against a single process: two CPU processes (gloo) running Ulysses sequence parallelism and DeepSpeed
ZeRO-3 must give the loss, the gradients and the AdamW-updated weights of one process on the same batch; the memory
estimate must match a hand count and the 7B cases of the paper's setup."""

import importlib.util
import os
import socket
import warnings

import pytest
import torch

import model
import parallel
from conftest import randomize_
from longrope import RopeScaling

HAS_DEEPSPEED = importlib.util.find_spec("deepspeed") is not None
needs_deepspeed = pytest.mark.skipif(not HAS_DEEPSPEED, reason="deepspeed is not installed (pip install deepspeed)")

WORLD = 2
TINY = dict(vocab_size=100, hidden_size=64, n_layers=2, n_heads=4, n_kv_heads=2, head_dim=16, intermediate_size=96,
            max_position_embeddings=16)
LONGROPE = RopeScaling("longrope", factor=4.0, original_max_len=16, n_hat=20,
                       long_factor=tuple(1 + 3 * i / 7 for i in range(8)),
                       short_factor=tuple(1 + 0.5 * i / 7 for i in range(8)))
# name: (config overrides, rope, sequence length, gradient checkpointing)
CASES = {
    "llama": (dict(), None, 16, False),
    # the window (5) is far shorter than the sequence and windows cross the boundary between the two shards;
    # with activation checkpointing, which recomputes the all-to-alls in the backward pass
    "mistral-window": (dict(sliding_window=5, model_type="mistral"), None, 24, True),
    # 32 > original 16 selects the long factors only if RoPE sees the global length; positions 16..19 of rank 1
    # keep the original angles (n_hat = 20) only if they are global positions
    "longrope": (dict(), LONGROPE, 32, False),
}
LR, BETAS, WEIGHT_DECAY = 1e-2, (0.9, 0.95), 0.1
# Clipping rescales any gradient to one norm, hiding a wrongly scaled one: on in one test, out of reach in the other
CLIP, NO_CLIP = 0.5, 100.0
# Adam's first steps are lr * sign(g) when eps is tiny: blind to a wrongly scaled gradient and, where g ~ eps,
# amplifying float32 rounding to ~lr. A larger eps makes the update a smooth function of the gradient's size.
EPS = 1e-3


def schedule(step):
    return 1.0 / (1 + step)


def make_model(case, seed=0):
    overrides, rope, _, checkpointing = CASES[case]
    m = randomize_(model.Transformer(model.ModelConfig(**{**TINY, **overrides}), rope=rope), seed)
    m.gradient_checkpointing = checkpointing
    return m


def batch(case, n=2, seed=1):
    return torch.randint(0, TINY["vocab_size"], (n, CASES[case][2]), generator=torch.Generator().manual_seed(seed))


# ----------------------------------------------------------------------------------------------------------------
# The two processes: every distributed check in one spawn (DeepSpeed's import and start-up dominate the time)


def _worker(rank, port, out_dir):
    os.environ.update(DS_ACCELERATOR="cpu", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      LOCAL_RANK=str(rank), WORLD_SIZE=str(WORLD))
    warnings.filterwarnings("ignore", category=FutureWarning)
    torch.set_num_threads(1)
    import deepspeed
    import torch.distributed as dist
    rank, world, _ = parallel.init_distributed()
    results = {}

    # Ulysses, plain PyTorch: loss and gradients averaged over the two ranks
    for case in CASES:
        m = parallel.apply_sequence_parallel(make_model(case))
        loss = parallel.sequence_parallel_loss(m, batch(case))
        loss.backward()
        for p in m.parameters():
            dist.all_reduce(p.grad, op=dist.ReduceOp.AVG)
        results[case] = (loss.item(), {n: p.grad for n, p in m.named_parameters()})

    try:
        parallel.apply_sequence_parallel(model.Transformer(model.ModelConfig(**{**TINY, "n_kv_heads": 1})))
    except ValueError as e:
        results["one-kv-head"] = str(e)

    # ZeRO-3 + Ulysses: both ranks share one sequence batch, two AdamW steps with an lr schedule
    m = parallel.apply_sequence_parallel(make_model("mistral-window"))
    engine = parallel.deepspeed_engine(m, LR, zero_stage=3, grad_clip=NO_CLIP, weight_decay=WEIGHT_DECAY, betas=BETAS,
                                       eps=EPS, bf16=False, lr_schedule=schedule)
    for step in range(2):
        loss = parallel.sequence_parallel_loss(engine, batch("mistral-window", seed=10 + step))
        engine.backward(loss)
        engine.step()
    with deepspeed.zero.GatheredParameters(list(m.parameters())):
        results["zero3-sp"] = {n: p.detach().clone() for n, p in m.named_parameters()}

    # ZeRO-3 data parallel: groups of one rank, each rank its own sequence of the batch, gradients clipped
    group = parallel.new_sequence_parallel_group(1)
    m = parallel.apply_sequence_parallel(make_model("llama"), group)
    engine = parallel.deepspeed_engine(m, LR, zero_stage=3, grad_clip=CLIP, weight_decay=WEIGHT_DECAY, betas=BETAS,
                                       eps=EPS, bf16=False)
    for step in range(2):
        loss = parallel.sequence_parallel_loss(engine, batch("llama", seed=20 + step)[rank:rank + 1], group)
        engine.backward(loss)
        engine.step()
    with deepspeed.zero.GatheredParameters(list(m.parameters())):
        results["zero3-dp"] = {n: p.detach().clone() for n, p in m.named_parameters()}

    torch.save(results, os.path.join(out_dir, f"rank{rank}.pt"))
    dist.destroy_process_group()


@pytest.fixture(scope="module")
def distributed(tmp_path_factory):
    if not HAS_DEEPSPEED:
        pytest.skip("deepspeed is not installed (pip install deepspeed)")
    import torch.multiprocessing as mp
    out_dir = str(tmp_path_factory.mktemp("parallel"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_worker, args=(port, out_dir), nprocs=WORLD)
    return [torch.load(os.path.join(out_dir, f"rank{r}.pt"), weights_only=False) for r in range(WORLD)]


def adamw_reference(case, batches, lrs, clip):
    """The same steps in one process: model.loss on the whole batch, clipping, torch's AdamW."""
    m = make_model(case)
    opt = torch.optim.AdamW(m.parameters(), lr=LR, betas=BETAS, eps=EPS, weight_decay=WEIGHT_DECAY)
    norms = []
    for tokens, lr in zip(batches, lrs):
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad()
        m.loss(tokens).backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(m.parameters(), clip)))
        opt.step()
    return m, norms


@needs_deepspeed
@pytest.mark.parametrize("case", list(CASES))
def test_sequence_parallel_equals_one_process(distributed, case):
    m = make_model(case)
    loss = m.loss(batch(case))
    loss.backward()
    for results in distributed:  # the same global loss on both ranks
        assert results[case][0] == pytest.approx(loss.item(), abs=1e-5)
    grads = distributed[0][case][1]
    for name, p in m.named_parameters():
        assert p.grad.abs().max() > 1e-4, name  # every parameter really gets a gradient
        torch.testing.assert_close(grads[name], p.grad, atol=1e-5, rtol=1e-4, msg=name)


@needs_deepspeed
def test_sequence_parallel_rejects_indivisible_heads(distributed):
    assert "must divide the number of query heads (4) and of key/value heads (1)" in distributed[0]["one-kv-head"]


@needs_deepspeed
def test_zero3_sequence_parallel_steps_equal_adamw(distributed):
    batches = [batch("mistral-window", seed=10 + step) for step in range(2)]
    ref, norms = adamw_reference("mistral-window", batches, [LR * schedule(0), LR * schedule(1)], NO_CLIP)
    assert max(norms) < NO_CLIP  # the gradients' scale reaches the update
    start = make_model("mistral-window")
    for results in distributed:
        for (name, p), p0 in zip(ref.named_parameters(), start.parameters()):
            assert (p - p0).abs().max() > 1e-3, name  # the steps moved every weight
            torch.testing.assert_close(results["zero3-sp"][name], p.detach(), atol=1e-5, rtol=0, msg=name)


@needs_deepspeed
def test_zero3_data_parallel_steps_equal_adamw(distributed):
    batches = [batch("llama", seed=20 + step) for step in range(2)]
    ref, norms = adamw_reference("llama", batches, [LR, LR], CLIP)
    assert min(norms) > CLIP  # clipping is active, so DeepSpeed's global norm over the shards is checked too
    for results in distributed:
        for name, p in ref.named_parameters():
            torch.testing.assert_close(results["zero3-dp"][name], p.detach(), atol=1e-5, rtol=0, msg=name)


def test_shard_batch_shifts_labels_before_sharding():
    tokens = torch.arange(12).view(2, 6)  # two sequences 0..5 and 6..11
    local0, targets0 = parallel.shard_batch(tokens, 0, 3)
    local2, targets2 = parallel.shard_batch(tokens, 2, 3)
    assert local0.tolist() == [[0, 1], [6, 7]] and targets0.tolist() == [[1, 2], [7, 8]]
    assert local2.tolist() == [[4, 5], [10, 11]] and targets2.tolist() == [[5, -100], [11, -100]]
    with pytest.raises(ValueError, match="divisible"):
        parallel.shard_batch(tokens, 0, 4)


def test_sequence_parallel_loss_single_process_is_model_loss():
    m = make_model("longrope")
    tokens = batch("longrope")
    assert parallel.sequence_parallel_loss(m, tokens).item() == pytest.approx(m.loss(tokens).item(), abs=1e-6)


# ----------------------------------------------------------------------------------------------------------------
# Memory estimate

GB = 1024**3


def test_estimate_memory_matches_hand_count():
    cfg = model.ModelConfig(**TINY)
    tiny = model.Transformer(cfg)
    N = sum(p.numel() for p in tiny.parameters())
    per_layer = sum(p.numel() for p in tiny.layers[0].parameters())
    assert parallel.parameter_count(cfg) == N
    # LoRA rank 16 on q (64->64), k (64->32), v (64->32), o (64->64), two layers
    assert parallel.lora_parameter_count(cfg) == 2 * 16 * ((64 + 64) + (64 + 32) + (64 + 32) + (64 + 64))

    e = parallel.estimate_memory(cfg, seq_len=1024, n_gpus=4, sp_degree=2, zero_stage=3)
    assert e["parameters"] * GB == pytest.approx(N * 2 / 4 + 2 * per_layer * 2)  # bf16 shard + two whole layers
    assert e["gradients"] * GB == pytest.approx(N * 2 / 4)
    assert e["optimizer"] * GB == pytest.approx(N * 12 / 4)  # fp32 master, m, v
    t = 512  # tokens per rank
    layer_input = 64 * 2  # the checkpoint kept per layer, bytes per token
    norms = 2 * (4 + 4 + 2) * 64  # float32 input and output, bf16 copy for the next matmul
    qkv_out_both_layouts = 2 * 2 * (64 + 2 * 32 + 2 * 64)  # q, k, v, attention output, o_proj's input
    mlp = 4 * 2 * 96  # gate, up, silu(gate), product
    backward = 2 * 2 * 96 + 4 * 64  # two MLP-sized gradients, float32 dq
    acts = t * (2 * layer_input + norms + qkv_out_both_layouts + mlp + backward)
    acts += t * 64 * (2 + 4) + (1 << 24) * (2 + 4 + 4) + 2 * 1024 * 16 * 4  # final hidden, loss chunk, cos/sin
    assert e["activations"] * GB == pytest.approx(acts)
    assert e["total"] == pytest.approx(sum(e[k] for k in ("parameters", "gradients", "optimizer", "activations"))
                                       + parallel.OVERHEAD_GB)

    z1 = parallel.estimate_memory(cfg, 1024, n_gpus=4, sp_degree=2, zero_stage=1, lora=True, offload=False)
    L = parallel.lora_parameter_count(cfg)
    assert z1["parameters"] * GB == pytest.approx(N * 2)  # ZeRO-1 keeps whole weights
    assert z1["gradients"] * GB == pytest.approx(L * 2)
    assert z1["optimizer"] * GB == pytest.approx(L * 12 / 4)
    off = parallel.estimate_memory(cfg, 1024, n_gpus=4, sp_degree=2, zero_stage=3, offload=True)
    assert off["optimizer"] == 0 and off["parameters"] * GB == pytest.approx(2 * per_layer * 2)
    no_ckpt = parallel.estimate_memory(cfg, 1024, n_gpus=4, sp_degree=2, activation_checkpointing=False)
    layer_set = norms + qkv_out_both_layouts + mlp
    # every layer keeps its set instead of its input alone, with one set rebuilt at a time
    assert (no_ckpt["activations"] - e["activations"]) * GB == pytest.approx(
        t * (2 * layer_set - (2 * layer_input + layer_set)))
    float32 = parallel.estimate_memory(cfg, 1024, n_gpus=4, sp_degree=2, compute_bytes=4)
    assert (float32["activations"] - e["activations"]) * GB == pytest.approx(
        t * 2 * (2 * 64 + (64 + 2 * 32 + 2 * 64) * 2 + 4 * 96 + 2 * 96) + (1 << 24) * 2)


@pytest.mark.parametrize("name", ["llama-2-7b", "llama-2-13b", "mistral-7b", "tiny"])
def test_parameter_counts_are_those_of_the_real_model(name):
    """parallel's closed-form counts against the parameters of the network itself, built on the meta device (no
    memory), with train.py's LoRA adapters attached for the LoRA count."""
    import train
    cfg = model.ModelConfig(**TINY) if name == "tiny" else model.PRESETS[name]
    with torch.device("meta"):
        network = model.Transformer(cfg)
    assert parallel.parameter_count(cfg) == sum(p.numel() for p in network.parameters())
    assert parallel.layer_parameter_count(cfg) == sum(p.numel() for p in network.layers[0].parameters())
    with torch.device("meta"):
        train.apply_lora(network, parallel.LORA_RANK)
    adapters = sum(p.numel() for p in network.parameters() if p.requires_grad)
    assert parallel.lora_parameter_count(cfg) == adapters
    e = parallel.estimate_memory(cfg, 4096, n_gpus=4, sp_degree=2, zero_stage=3)
    frozen = parallel.estimate_memory(cfg, 4096, n_gpus=4, sp_degree=2, zero_stage=3, lora=True)
    assert (e["gradients"] - frozen["gradients"]) * GB == pytest.approx(
        (sum(p.numel() for p in network.parameters()) - 2 * adapters) * 2 / 4)  # bf16 gradients, ZeRO-sharded


def test_estimate_memory_llama2_7b():
    cfg = model.PRESETS["llama-2-7b"]
    assert parallel.parameter_count(cfg) == 6_738_415_616  # Llama-2-7b-hf's published count

    one = parallel.estimate_memory(cfg, 256 * 1024, n_gpus=1, sp_degree=1, zero_stage=3)
    states = one["parameters"] + one["gradients"] + one["optimizer"]
    assert states == pytest.approx(6_738_415_616 * 16 / GB)  # ~100 GB of model states alone
    # 32 layer checkpoints of 256k x 4096 bf16 values: 64 GB before any layer runs
    assert one["activations"] > 32 * 262144 * 4096 * 2 / GB
    advice = parallel.fit_advice(one, 80)
    assert advice is not None and "GPUs" in advice and "sequence parallel degree" in advice
    assert advice.endswith(".") and ". " not in advice  # one sentence

    eight = parallel.estimate_memory(cfg, 128 * 1024, n_gpus=8, sp_degree=8, zero_stage=3)
    assert parallel.fit_advice(eight, 80) is None
    assert 15 < eight["total"] < 40  # ~13 GB of states, the rest activations: 8 x 80 GB A100s suffice
    assert parallel.fit_advice(parallel.estimate_memory(cfg, 256 * 1024, 8, 8, 3), 80) is None

    no_sp = parallel.estimate_memory(cfg, 128 * 1024, n_gpus=8, sp_degree=1, zero_stage=3)
    assert no_sp["total"] > 80  # ZeRO-3 alone leaves a whole 128k sequence's activations on one GPU
    assert "sequence parallel degree 8 on the same 8 GPUs" in parallel.fit_advice(no_sp, 80)
    with pytest.raises(ValueError, match="must divide"):
        parallel.estimate_memory(cfg, 128 * 1024, n_gpus=8, sp_degree=3)


def test_fit_advice_names_every_way_that_fits():
    cfg = model.PRESETS["llama-2-7b"]
    # 8 GPUs, 128k, a 16 GB device: 25 GB needed; 16 GPUs (14 GB), or LoRA / offload (14 GB each) on the same 8
    e = parallel.estimate_memory(cfg, 128 * 1024, n_gpus=8, sp_degree=8, zero_stage=3)
    advice = parallel.fit_advice(e, 16)
    assert advice.startswith(f"It needs {e['total']:.0f} GB per device, more than 16 GB;") and advice.endswith(".")
    for words, option in (("on 16 GPUs at sequence parallel degree 16", dict(n_gpus=16, sp_degree=16)),
                          ("with LoRA", dict(lora=True)), ("with CPU offload", dict(offload=True))):
        total = parallel.estimate_memory(**{**e["inputs"], **option})["total"]
        assert total <= 16 and f"{words} ({total:.0f} GB)" in advice

    # Mistral's 8 KV heads cap sequence parallelism at 8: 256k on 20 GB devices cannot fit however many GPUs
    mistral = model.PRESETS["mistral-7b"]
    e = parallel.estimate_memory(mistral, 256 * 1024, n_gpus=8, sp_degree=8, zero_stage=3)
    advice = parallel.fit_advice(e, 20)
    assert "neither up to 1024 GPUs nor LoRA nor offload" in advice and "than the 8 that 32 query and 8" in advice
    assert parallel.estimate_memory(mistral, 256 * 1024, 1024, 8, lora=True, offload=True)["total"] > 20
