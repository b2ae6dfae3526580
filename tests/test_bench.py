"""bench.py's checkpoints and its CLI's refusals (its numbers are checked against the README in test_docs.py)."""

import os
import subprocess
import sys

import pytest
import torch

import bench
import searches

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_mistral_config_is_a_windowed_mistral_whose_loss_ours_equals(tmp_path, monkeypatch):
    """The mistral-7b-layers shape, shrunk: transformers writes a MistralForCausalLM with a byte-level tokenizer,
    and at 4x its window our loss equals transformers' (the window changes it)."""
    small = dict(bench.CONFIGS["mistral-7b-layers"], hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2, head_dim=16, sliding_window=64)
    monkeypatch.setitem(bench.CONFIGS, "mistral-small", small)
    ours, hf, attn, _ = bench.build_pair("mistral-small", str(tmp_path / "m"), "cpu", torch.float32)
    assert type(hf).__name__ == "MistralForCausalLM" and ours.config.sliding_window == 64 and attn == "sdpa"
    assert os.path.exists(tmp_path / "m" / "tokenizer.json")
    tokens = torch.randint(0, 32000, (1, 256), generator=torch.Generator().manual_seed(0))
    loss = bench.run_once(ours, "ours", tokens)
    assert loss == pytest.approx(bench.run_once(hf, "transformers", tokens), abs=1e-5)
    hf.config.sliding_window = None  # transformers without the window: another loss
    assert abs(bench.run_once(hf, "transformers", tokens) - loss) > 1e-4


def test_an_evaluation_keeps_no_kv_cache_and_no_other_lengths_rope_tables(tmp_path, monkeypatch):
    """A memory figure counts one evaluation: transformers builds no KV cache (every layer's K and V would add to
    its peak), and ours holds only this length's rope tables, with the same loss either way."""
    import transformers.cache_utils as cache_utils
    small = dict(bench.CONFIGS["mistral-7b-layers"], hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2, head_dim=16, sliding_window=None)
    monkeypatch.setitem(bench.CONFIGS, "llama-small", small)
    ours, hf, _, _ = bench.build_pair("llama-small", str(tmp_path / "m"), "cpu", torch.float32)
    caches = []
    init = cache_utils.DynamicCache.__init__

    def counted(self, *args, **kwargs):
        caches.append(1)
        init(self, *args, **kwargs)
    monkeypatch.setattr(cache_utils.DynamicCache, "__init__", counted)
    import model as model_module
    held = []  # the tables of other lengths still held when this length's are built
    build = model_module.rope_cos_sin

    def built(*args):
        held.extend(key[1] for key in ours._rope_tables)
        return build(*args)
    monkeypatch.setattr(model_module, "rope_cos_sin", built)
    tokens = torch.randint(0, 32000, (1, 96), generator=torch.Generator().manual_seed(0))
    bench.run_once(ours, "ours", tokens[:, :64])
    assert bench.run_once(ours, "ours", tokens) == pytest.approx(bench.run_once(hf, "transformers", tokens), abs=1e-5)
    assert caches == [] and held == []


def test_finetune_memory_needs_a_gpu():
    done = subprocess.run([sys.executable, os.path.join(ROOT, "bench.py"), "--finetune", "--device", "cpu"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert done.stderr.strip() == ("error: --finetune measures GPU memory: it needs --device cuda and a --config "
                                   "other than tiny")


def test_the_gradient_fit_differentiates_the_models_own_rope_and_lowers_the_loss():
    """`differentiable_tables` are longrope.rope_cos_sin's tables for the same factors; the fit's factors score a lower
    loss on its documents than YaRN's, where it starts."""
    import longrope
    import search
    from model import ModelConfig, Transformer
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=64, hidden_size=32, n_layers=2, n_heads=2, n_kv_heads=2, head_dim=16,
                      intermediate_size=64, max_position_embeddings=32)
    model = Transformer(cfg)
    with torch.no_grad():  # sharper attention, so positions matter to the loss
        for layer in model.layers:
            layer.self_attn.q_proj.weight.mul_(4.0)
            layer.self_attn.k_proj.weight.mul_(4.0)
    factors = torch.tensor([1.0, 1.3, 1.9, 2.5, 3.0, 3.2, 3.9, 4.0])
    rope = longrope.RopeScaling("longrope", 4.0, 32, long_factor=tuple(factors.tolist()))
    cos, sin = searches.differentiable_tables(factors.log(), 16, 10000.0, longrope.longrope_attention_scale(4.0, 32))(
        128, "cpu")
    expected = longrope.rope_cos_sin(rope, 16, 10000.0, torch.arange(128), 128)
    assert torch.allclose(cos, expected[0], atol=1e-5) and torch.allclose(sin, expected[1], atol=1e-5)
    docs = [torch.randint(0, 64, (128,), generator=torch.Generator().manual_seed(i)) for i in range(2)]
    fitted, passes = searches.gradient_fit(model, docs, 32, 128, steps=5)
    start = longrope.rescale_factors(longrope.make_rope("yarn", 32, 128), 16, 10000.0, 128)
    yarn = longrope.RopeScaling("longrope", 4.0, 32, long_factor=tuple(start))
    assert passes == 10 and search.evaluate_loss(model, fitted, docs) < search.evaluate_loss(model, yarn, docs) - 1e-3
    assert all(p.requires_grad for p in model.parameters()) and "rope_tables" not in vars(model)  # left as it was


def test_more_search_processes_than_candidates_is_one_sentence():
    done = subprocess.run([sys.executable, os.path.join(ROOT, "bench.py"), "--searches", "--processes", "9",
                           "--budget", "8,2,4,4,4"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2 and done.stderr.strip() == (
        "error: --processes must be between 2 and the fewest candidates of a generation (8), got 9")


def test_the_searches_on_a_fine_tuned_model_are_its_second_search_and_each_row_is_measured_with_its_own_rope(
        tmp_path, monkeypatch):
    """`bench.py --searches --model finetune-dir --target 4x`: the tiny model, as if fine-tuned at 2x with LongRoPE
    factors, searched at 4x. Every candidate keeps the attention scale the weights were tuned with (not the default
    for 4x), LongRoPE's population starts from the fine-tuned factors stretched (`init`, `init-yarn`), the
    unsearched row is YaRN's rule on top of them and the gradient fit starts there, only the searches in `race` get
    an early-rejection row, each distinct rope is measured once, and each row's bits per byte are its own rope's on
    the held-out documents."""
    import csv
    import math
    import common
    import eval as evaluation
    import longrope
    import search
    import train
    from checkpoint import export_model
    from model import load_model
    tuned_factors = [1.0 + 0.05 * i for i in range(32)]
    tuned = longrope.RopeScaling("longrope", 2.0, 128, long_factor=tuple(tuned_factors),
                                 short_factor=tuple([1.0] * 32), n_hat=2)
    longrope.save_factors(str(tmp_path / "factors-256.json"), tuned, 64)
    export_model("tiny", str(tmp_path / "factors-256.json"), str(tmp_path / "finetune-256"))
    measured = []
    document_loss = evaluation.document_loss
    monkeypatch.setattr(evaluation, "document_loss", lambda model, *a: measured.append(model.rope) or
                        document_loss(model, *a))
    result = searches.compare_searches(str(tmp_path / "work"), budget=(4, 1, 2, 1, 1), samples=2, held_out=5,
                                       margins=(0,), gradient_steps=0, trials=0,
                                       methods=("longrope", "longrope2", "gradient", "yarn"),
                                       model_dir=str(tmp_path / "finetune-256"), target="4x", race=("longrope",))
    model = load_model(str(tmp_path / "finetune-256"))
    scale = train.tuned_attention_scale(model)
    assert scale == pytest.approx(longrope.longrope_attention_scale(2.0, 128))
    assert abs(scale - longrope.longrope_attention_scale(4.0, 128)) > 0.01
    assert result["setup"]["second_search"] and result["setup"]["attention_factor"] == pytest.approx(scale)
    rows = {r["search"]: r for r in result["searches"]}
    unsearched = "yarn on the fine-tuned factors (no search)"
    assert list(rows) == ["longrope", "longrope + early rejection 0", "longrope2", "gradient fit", unsearched]
    with open(tmp_path / "work" / "longrope.history.csv") as f:
        origins = {row["origin"] for row in csv.DictReader(f)}
    assert {"seed-init", "seed-init-yarn", "seed-yarn", "seed-pi"} <= origins
    on_top = [min(f, 5.0) for f in search.yarn_on_top(tuned_factors, 64, 10000.0, 256, 2.0)]  # 5: the space's bound
    assert rows[unsearched]["long_factor"] == pytest.approx(on_top, abs=0.0051) and rows[unsearched]["n_hat"] == 2
    assert rows["gradient fit"]["long_factor"] == pytest.approx(rows[unsearched]["long_factor"], rel=1e-5)  # 0 steps
    assert rows["gradient fit"]["n_hat"] == 0 and rows["gradient fit"]["forward_passes"] == 0
    assert len(measured) == 5 * len(set(measured)) and len(set(measured)) >= 3
    _, held_part = common.split_documents(common.load_documents(None, common.load_tokenizer("tiny")))
    documents = common.sample_documents(held_part, 512, 5, 0, join=True)
    for row in rows.values():
        assert row["attention_factor"] == pytest.approx(scale)
        model.set_rope(longrope.RopeScaling("longrope", 4.0, 128, long_factor=tuple(row["long_factor"]),
                                            attention_factor=row["attention_factor"], n_hat=row["n_hat"]))
        bits = [float(model.loss(d[None], reduction="sum")) / 511 / math.log(2) for d in documents]
        assert row["bits_per_document"] == pytest.approx(bits, rel=1e-5)
    table = searches.searches_table(result)
    assert "| passkey at 4x |" in table and all(line.endswith("| - |") for line in table.splitlines()[2:])
    with pytest.raises(ValueError, match="must exceed the 256 tokens .* was fine-tuned for"):
        searches.compare_searches(str(tmp_path / "work2"), model_dir=str(tmp_path / "finetune-256"), target="2x")


def test_bad_searches_options_are_one_sentence():
    for extra, message in ((["--race", "yarn"], "error: --race takes longrope and longrope2 (or nothing), got 'yarn'"),
                           (["--depths", "0,x"], "error: --depths takes positions between 0 and 1, comma-separated, "
                                                 "got '0,x'"),
                           (["--depths", "1.5"], "error: --depths takes positions between 0 and 1, comma-separated, "
                                                 "got '1.5'"),
                           (["--trials", "-1"], "error: --trials must be at least 0, got -1"),
                           (["--target", "256q"], "error: length '256q' is not a number with an optional k, m or x "
                                                  "suffix (e.g. 4096, 4k, 2m, 8x)"),
                           (["--target", "1x"], "error: --target 1x (128 tokens) must exceed the original length "
                                                "128")):
        done = subprocess.run([sys.executable, os.path.join(ROOT, "bench.py"), "--searches", *extra],
                              capture_output=True, text=True, cwd=ROOT)
        assert done.returncode == 2 and done.stderr.strip() == message


@pytest.mark.parametrize("chunk", [None, 100])
def test_candidates_scored_in_one_batch_get_each_its_own_rope(chunk):
    """`searches.batched_losses`: three rescalings (other factors, n_hat and attention scale) scored in one forward,
    each row rotated by its own tables, give the losses `set_rope` + `loss` gives one by one, in the whole-sequence
    forward and in the chunked one; and the model's own rope tables are back afterwards."""
    import longrope
    from model import load_model
    model = load_model("tiny")
    model.chunk_size = chunk
    ropes = [longrope.make_rope("yarn", 128, 512),
             longrope.RopeScaling("longrope", 4.0, 128, long_factor=tuple(1 + 0.1 * i for i in range(32)), n_hat=16),
             longrope.RopeScaling("longrope", 4.0, 128, long_factor=tuple([4.0] * 32), attention_factor=1.0)]
    document = torch.randint(0, 256, (512,), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        batched = searches.batched_losses(model, ropes, document)
        one_by_one = []
        for rope in ropes:
            model.set_rope(rope)
            one_by_one.append(float(model.loss(document[None])))
    assert batched == pytest.approx(one_by_one, abs=2e-5)
    assert max(one_by_one) - min(one_by_one) > 0.01 and "rope_tables" not in vars(model)


def test_the_chunked_forward_peaks_below_the_whole_one_each_in_its_own_process(tmp_path, monkeypatch):
    """bench.py --chunked: the chunked and the whole forward run side by side in fresh processes, and each peak is
    filed under its own name. The shape has a wide MLP (4096 for D 64), so at 16k tokens the whole forward's MLP
    intermediates (gate and up for every token, about 0.5 GB a layer) dwarf the resident set's noise of tens of MB,
    against one 4096-token chunk's; each peak is near model.forward_memory's estimate for its chunk. The children
    load the checkpoint the parent wrote (under the name small), so the shape reaches them through the folder."""
    from model import forward_memory, load_model
    monkeypatch.setitem(bench.CONFIGS, "small", dict(vocab_size=32000, hidden_size=64, intermediate_size=4096,
                                                    num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
                                                    head_dim=32, max_position_embeddings=4096))
    records = bench.chunked_memory("small", str(tmp_path / "wide"), [16384], threads=1,
                                   json_path=str(tmp_path / "curve.json"))
    (r,) = records
    config = load_model(str(tmp_path / "wide"), device="cpu").config
    assert r["chunk"] == 4096 and r["side_by_side"]
    chunked, whole = (forward_memory(config, 16384, c, 4) / 2**20 for c in (4096, 16384))
    assert whole - chunked > 300
    assert 0.7 < r["chunked_peak_mb"] / chunked < 1.4 and 0.6 < r["whole_peak_mb"] / whole < 1.4, r
    assert r["saved_mb"] == r["whole_peak_mb"] - r["chunked_peak_mb"] > 0.6 * (whole - chunked)
    assert r["chunked_s"] > 0 and r["whole_s"] > 0
    assert bench.json.load(open(tmp_path / "curve.json")) == records
