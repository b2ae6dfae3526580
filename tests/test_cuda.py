"""The CUDA paths against transformers: bf16 logits as close to a float64 reference as transformers' own, the GPU's
chunk size of the loss with Mistral's sliding window past its length and LongRoPE factors, memory linear in length
at 64k tokens, compiled blocks, and fine-tuning under bf16 autocast that resumes where it stopped.
Skipped without a CUDA GPU."""

import copy

import pytest
import torch

import train
from conftest import LONGROPE_DICT, hf_model, save_hf, tokens_for
from longrope import RopeScaling, save_factors
from model import load_model

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def relative_error(x, ref):
    return float((x.double().cpu() - ref).norm() / ref.norm())


@pytest.mark.parametrize("model_type", ["llama", "mistral"])
def test_bf16_logits_are_as_close_to_float64_as_transformers_bf16(tmp_path, model_type):
    """Both in bf16 on the GPU (ours through flash-attn when installed, else SDPA; Mistral's window of 8 at 40
    tokens through the masked blocks), each against transformers in float64 on the CPU."""
    from transformers import AutoModelForCausalLM
    hf = hf_model(model_type, rope_scaling=LONGROPE_DICT, max_position_embeddings=128)
    path = save_hf(hf, str(tmp_path / model_type))
    tokens = tokens_for(40)
    with torch.no_grad():
        ref = copy.deepcopy(hf).double()(tokens, use_cache=False).logits
        theirs = AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16, attn_implementation="sdpa")
        theirs = relative_error(theirs.cuda().eval()(tokens.cuda(), use_cache=False).logits, ref)
        ours = relative_error(load_model(path, device="cuda").logits(tokens.cuda()), ref)
    assert load_model(path, device="cuda").lm_head.weight.dtype == torch.bfloat16  # the CUDA default
    assert ours < 2e-2 and ours < 2 * theirs, (ours, theirs)


def test_float32_loss_over_several_gpu_chunks_equals_transformers(tmp_path):
    """3000 tokens of an 8192 vocabulary: the loss walks 2048-row chunks on a GPU; Mistral's 512-token window
    runs block by block past its length; LongRoPE's long factors and attention scale apply."""
    hf = hf_model("mistral", vocab_size=8192, sliding_window=512, rope_scaling=LONGROPE_DICT,
                  max_position_embeddings=128)
    tokens = tokens_for(3000, vocab=8192)
    ours = load_model(save_hf(hf, str(tmp_path / "m")), device="cuda", dtype=torch.float32)
    with torch.no_grad():
        expected = float(hf(tokens, labels=tokens, use_cache=False).loss)
        got = float(ours.loss(tokens.cuda()))
        unwindowed = float(hf_model("mistral", vocab_size=8192, sliding_window=None, rope_scaling=LONGROPE_DICT,
                                    max_position_embeddings=128)(tokens, labels=tokens, use_cache=False).loss)
    assert got == pytest.approx(expected, rel=1e-5)
    assert abs(unwindowed - expected) > 1e-3  # the window changes this loss: the check above sees it


def test_memory_at_64k_tokens_is_linear_and_far_below_the_logits(tmp_path):
    """A 32000-vocabulary GQA model in bf16: the float32 logits of 64k tokens alone would take 8000 MB."""
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=32000, hidden_size=256, intermediate_size=688, num_hidden_layers=2,
                         num_attention_heads=8, num_key_value_heads=2, head_dim=32, max_position_embeddings=4096)
    path = str(tmp_path / "gqa")
    LlamaForCausalLM(config).save_pretrained(path)
    ours = load_model(path, device="cuda")
    peaks = {}
    for n in (32768, 65536):
        tokens = torch.randint(0, 32000, (1, n), device="cuda")
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        with torch.inference_mode():
            loss = float(ours.loss(tokens))
        peaks[n] = (torch.cuda.max_memory_allocated() - base) / 2**20
        assert abs(loss - 10.37) < 0.2, loss  # about log(32000): random weights, random tokens
    assert peaks[65536] < 0.05 * 65536 * 32000 * 4 / 2**20, peaks
    assert peaks[65536] < 2.5 * peaks[32768], peaks  # linear: quadratic attention memory would be 4x


def test_compiled_blocks_equal_eager_on_cuda(tmp_path):
    hf = hf_model("mistral", rope_scaling=LONGROPE_DICT, max_position_embeddings=128)
    path = save_hf(hf, str(tmp_path / "m"))
    eager = load_model(path, device="cuda", dtype=torch.float32)
    compiled = load_model(path, device="cuda", dtype=torch.float32).compile_layers()
    with torch.inference_mode():
        for seq_len in (24, 100):  # below and past the window; the second length recompiles once
            tokens = tokens_for(seq_len).cuda()
            assert float(compiled.loss(tokens)) == pytest.approx(float(eager.loss(tokens)), rel=1e-5)
        prompt = tokens_for(10).cuda()
        assert torch.equal(compiled.generate(prompt, 8), eager.generate(prompt, 8))  # the cache path, eager


def test_finetune_in_bf16_autocast_resumes_where_it_stopped(tmp_path):
    """The built-in tiny model, fine-tuned 4 steps at 2x (PI-like factors) on the GPU: killed after 2 steps and
    resumed, its weights equal an uninterrupted run's (to the rounding of the GPU's attention backward)."""
    start = load_model("tiny", device="cpu")
    half = start.config.head_dim // 2
    rope = RopeScaling("longrope", 2.0, start.rope.original_max_len, long_factor=(2.0,) * half,
                       short_factor=(1.0,) * half)
    factors = save_factors(str(tmp_path / "pi.json"), rope, start.config.head_dim)
    stage = ["finetune", "--model", "tiny", "--factors", factors, "--length", "2x", "--steps", "4", "--batch", "2",
             "--short-batch", "1", "--warmup", "1", "--save-every", "1", "--device", "cuda"]
    train.main([*stage, "--out", str(tmp_path / "straight")])
    train.main([*stage, "--out", str(tmp_path / "resumed"), "--stop-after", "2"])
    train.main([*stage, "--out", str(tmp_path / "resumed"), "--resume"])
    straight, resumed = (load_model(str(tmp_path / d), device="cpu", dtype=torch.float32).state_dict()
                         for d in ("straight", "resumed"))
    before = start.state_dict()
    moved = max(float((straight[k] - before[k]).abs().max()) for k in straight)
    gap = max(float((straight[k] - resumed[k]).abs().max()) for k in straight)
    print(f"fine-tuning on CUDA: weights moved up to {moved:.2e}; resumed against uninterrupted: {gap:.2e}")
    assert moved > 1e-4 and gap < 1e-3 * moved
