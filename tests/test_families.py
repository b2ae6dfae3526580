"""The model families beyond Llama 2 / Mistral (Llama 3.x, Qwen2, Phi-3 / Phi-4-mini) against transformers' own
classes on tiny random checkpoints that transformers writes, and every rope dict key transformers reads."""

import json
import math
import os
import sys
from dataclasses import replace

import pytest
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import common  # noqa: E402
import longrope  # noqa: E402
from checkpoint import config_from_hf, hf_key_map, load_model, save_model  # noqa: E402
from conftest import TINY, randomize_, tokens_for  # noqa: E402
from longrope import RopeScaling, rope_frequencies, rope_from_hf, to_hf  # noqa: E402

ORIGINAL = 32  # TINY's original length; the scaled configs reach 4x
SHORT, LONG = [1.0, 1.1, 1.3, 1.6], [1.0, 1.8, 3.5, 6.0]  # longrope factors for 8 rotated channels (4 frequencies)
SHORT8, LONG8 = [1.0, 1.05, 1.1, 1.2, 1.3, 1.5, 1.7, 2.0], [1.0, 1.5, 2.2, 3.0, 4.0, 5.5, 7.0, 9.0]  # for 16
FAMILIES = {  # name -> (transformers config class, its arguments besides TINY's)
    "llama3": ("LlamaConfig", dict(
        num_key_value_heads=2, tie_word_embeddings=True, max_position_embeddings=128,  # Llama 3.2 ties them
        rope_parameters={"rope_type": "llama3", "factor": 4.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                         "original_max_position_embeddings": ORIGINAL, "rope_theta": 1000.0})),
    "qwen2": ("Qwen2Config", dict(  # Qwen2.5's long-context recipe: YaRN in the config
        num_key_value_heads=2, max_position_embeddings=128,
        rope_parameters={"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": ORIGINAL,
                         "rope_theta": 1000.0})),
    "phi3": ("Phi3Config", dict(  # Phi-3-mini-128k: the legacy name "su", a sliding window, fused weights
        num_key_value_heads=2, max_position_embeddings=128, original_max_position_embeddings=ORIGINAL,
        sliding_window=40, pad_token_id=0, eos_token_id=2,
        rope_scaling={"type": "su", "original_max_position_embeddings": ORIGINAL, "rope_theta": 1000.0,
                      "short_factor": SHORT8, "long_factor": LONG8})),
    "phi4-mini": ("Phi3Config", dict(  # rotates half of each head here (Phi-4-mini: 3/4), ties its embeddings
        num_key_value_heads=2, max_position_embeddings=128, original_max_position_embeddings=ORIGINAL,
        partial_rotary_factor=0.5, tie_word_embeddings=True, pad_token_id=0, eos_token_id=2,
        rope_parameters={"rope_type": "longrope", "factor": 4.0, "rope_theta": 1000.0,
                         "original_max_position_embeddings": ORIGINAL, "short_factor": SHORT, "long_factor": LONG})),
}


def hf_family(name, **overrides):
    import transformers
    config_class, args = FAMILIES[name]
    config = getattr(transformers, config_class)(**{**TINY, **args, **overrides}, attn_implementation="eager")
    return randomize_(transformers.AutoModelForCausalLM.from_config(config), seed=len(name)).eval()


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """name -> (transformers model, the folder it saved itself to)."""
    out = {}
    for name in FAMILIES:
        model = hf_family(name)
        path = str(tmp_path_factory.mktemp(name))
        model.save_pretrained(path)
        out[name] = model, path
    return out


@torch.no_grad()
def hf_loss(model, tokens):
    return float(model(tokens, labels=tokens, use_cache=False).loss)


def rewrite_config(path, **changes):
    """config.json with `changes`; a None drops the key."""
    config = json.load(open(os.path.join(path, "config.json")))
    config.update(changes)
    json.dump({k: v for k, v in config.items() if v is not None}, open(os.path.join(path, "config.json"), "w"))


# ----------------------------------------------------------------------------------------------------------------
# Each family equals transformers, below and above the original length


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize("length", [24, 80])
def test_family_equals_transformers(folders, name, length):
    hf, path = folders[name]
    ours, tokens = load_model(path, device="cpu"), tokens_for(length)
    with torch.no_grad():
        logits, loss = ours.logits(tokens), float(ours.loss(tokens))
        expected = hf(tokens, use_cache=False).logits
    assert (logits - expected).abs().max() < 1e-4
    assert loss == pytest.approx(hf_loss(hf, tokens), abs=1e-4)
    if length > ORIGINAL:  # the rescaling matters here: plain RoPE would be far off
        ours.set_rope(RopeScaling(original_max_len=ORIGINAL))
        with torch.no_grad():
            assert (ours.logits(tokens) - expected).abs().max() > 1e-2


def test_phi3_legacy_su_config(folders, tmp_path):
    """Phi-3's first config.json files: rope_scaling {"type": "su"} and the original length beside it only
    (transformers 5 reads "su" as longrope but then asks for the length inside the dict; here it is taken from
    beside it, as transformers does for "longrope")."""
    import shutil
    hf, source = folders["phi3"]
    path = shutil.copytree(source, str(tmp_path / "phi3-su"))
    rope = {"type": "su", "short_factor": SHORT8, "long_factor": LONG8}
    rewrite_config(path, rope_parameters=None, rope_scaling=rope, rope_theta=1000.0)
    ours, tokens = load_model(path, device="cpu"), tokens_for(80)
    assert (ours.rope.method, ours.rope.original_max_len, ours.rope.factor) == ("longrope", ORIGINAL, 4.0)
    with torch.no_grad():
        assert float(ours.loss(tokens)) == pytest.approx(hf_loss(hf, tokens), abs=1e-4)


def test_factor_file_with_the_legacy_su_dict(tmp_path):
    """A rope dict copied from an early Phi-3 config.json works as a factor file (eval.py --rope FILE)."""
    rope = {"original_max_position_embeddings": ORIGINAL, "short_factor": SHORT8, "long_factor": LONG8}
    for kind, name in (({"type": "su"}, "su.json"), ({"rope_type": "longrope"}, "longrope.json")):
        with open(tmp_path / name, "w") as f:
            json.dump({"rope_scaling": {**kind, **rope}, "max_position_embeddings": 4 * ORIGINAL}, f)
    su, longrope_file = (longrope.load_factors(str(tmp_path / n), 16) for n in ("su.json", "longrope.json"))
    assert su.method == "longrope" and replace(su, name="") == replace(longrope_file, name="")


def test_family_switches_come_from_the_config(folders):
    cfg = {name: load_model(folders[name][1], device="cpu").config for name in FAMILIES}
    assert (cfg["qwen2"].qkv_bias, cfg["llama3"].qkv_bias, cfg["phi3"].qkv_bias) == (True, False, False)
    assert (cfg["phi4-mini"].rotary_dim, cfg["phi3"].rotary_dim) == (8, 16)
    assert (cfg["phi3"].sliding_window, cfg["qwen2"].sliding_window) == (40, None)
    keys = hf_key_map(cfg["phi3"])
    assert keys["model.layers.1.self_attn.qkv_proj.weight"] == tuple(
        f"layers.1.self_attn.{p}_proj.weight" for p in "qkv")
    assert keys["model.layers.1.mlp.gate_up_proj.weight"] == ("layers.1.mlp.gate_proj.weight",
                                                              "layers.1.mlp.up_proj.weight")


@pytest.mark.parametrize("name", ["qwen2", "phi3", "phi4-mini"])
def test_saved_folder_is_the_family_format_and_loads_in_transformers(folders, name, tmp_path):
    """Fused weights split at load are fused again at save: transformers' own class reads the folder."""
    import transformers
    from safetensors import safe_open
    hf, path = folders[name]
    ours, tokens = load_model(path, device="cpu"), tokens_for(80)
    out = save_model(ours, str(tmp_path / "saved"))
    with safe_open(os.path.join(out, "model.safetensors"), "pt") as f, \
            safe_open(os.path.join(path, "model.safetensors"), "pt") as g:
        assert sorted(f.keys()) == sorted(g.keys())  # qkv_proj / gate_up_proj / biases, exactly as transformers'
        for key in g.keys():
            assert torch.equal(f.get_tensor(key), g.get_tensor(key)), key
    reloaded = transformers.AutoModelForCausalLM.from_pretrained(out, attn_implementation="eager").eval()
    assert type(reloaded) is type(hf)
    with torch.no_grad():
        assert (reloaded(tokens, use_cache=False).logits - hf(tokens, use_cache=False).logits).abs().max() < 1e-5


# ----------------------------------------------------------------------------------------------------------------
# Every key transformers reads in a rope dict: equal to transformers, or refused in one sentence

ROPE_CASES = {  # name -> (rope dict, partial_rotary_factor)
    "linear": ({"rope_type": "linear", "factor": 3.0}, 1.0),
    "dynamic": ({"rope_type": "dynamic", "factor": 3.0}, 1.0),
    "yarn": ({"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": ORIGINAL}, 1.0),
    "yarn-no-factor": ({"rope_type": "yarn", "factor": None, "original_max_position_embeddings": 16}, 1.0),
    "yarn-attention_factor": ({"rope_type": "yarn", "factor": 4.0, "attention_factor": 1.7}, 1.0),
    "yarn-betas": ({"rope_type": "yarn", "factor": 4.0, "beta_fast": 8, "beta_slow": 2}, 1.0),
    "yarn-mscale": ({"rope_type": "yarn", "factor": 4.0, "mscale": 0.9, "mscale_all_dim": 0.5}, 1.0),
    "yarn-mscale-alone": ({"rope_type": "yarn", "factor": 4.0, "mscale": 0.9}, 1.0),  # transformers ignores it
    "yarn-truncate": ({"rope_type": "yarn", "factor": 4.0, "truncate": False}, 1.0),
    "llama3": ({"rope_type": "llama3", "factor": 4.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                "original_max_position_embeddings": ORIGINAL}, 1.0),
    "llama3-bands": ({"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 0.5, "high_freq_factor": 8.0,
                      "original_max_position_embeddings": 24}, 1.0),
    "longrope": ({"rope_type": "longrope", "factor": 4.0, "original_max_position_embeddings": ORIGINAL,
                  "short_factor": SHORT8, "long_factor": LONG8}, 1.0),
    "longrope-no-factor": ({"rope_type": "longrope", "original_max_position_embeddings": ORIGINAL,
                            "short_factor": SHORT8, "long_factor": LONG8, "attention_factor": 1.3}, 1.0),
    "longrope-partial": ({"rope_type": "longrope", "factor": 4.0, "original_max_position_embeddings": ORIGINAL,
                          "short_factor": SHORT, "long_factor": LONG}, 0.5),
    "yarn-partial": ({"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": ORIGINAL}, 0.5),
    "dynamic-partial": ({"rope_type": "dynamic", "factor": 2.0}, 0.5),
    "linear-partial": ({"rope_type": "linear", "factor": 2.0}, 0.5),
    "llama3-partial": ({"rope_type": "llama3", "factor": 4.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                        "original_max_position_embeddings": ORIGINAL}, 0.5),
}


@pytest.mark.parametrize("case", ROPE_CASES)
@pytest.mark.parametrize("seq_len", [20, 100])
def test_every_rope_key_equals_transformers(case, seq_len):
    from transformers import LlamaConfig
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
    rope_dict, partial = ROPE_CASES[case]
    config = LlamaConfig(**{**TINY, "max_position_embeddings": 128},
                         rope_parameters={**rope_dict, "rope_theta": 1000.0, "partial_rotary_factor": partial})
    theirs, their_scale = ROPE_INIT_FUNCTIONS[config.rope_parameters["rope_type"]](config, "cpu", seq_len=seq_len)
    rotary_dim = int(16 * partial)
    rope = rope_from_hf(dict(rope_dict), rotary_dim, 128)
    ours, our_scale = rope_frequencies(rope, rotary_dim, 1000.0, seq_len)
    torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=0)
    assert our_scale == pytest.approx(their_scale, rel=1e-6)
    if "beta_fast" in rope_dict:
        return  # to_hf's yarn betas are tested in test_longrope.py
    # written back (to_hf), transformers computes the same again
    config = LlamaConfig(**{**TINY, "max_position_embeddings": 128},
                         rope_parameters={**to_hf(rope, rotary_dim), "rope_theta": 1000.0,
                                          "partial_rotary_factor": partial})
    again, again_scale = ROPE_INIT_FUNCTIONS[config.rope_parameters["rope_type"]](config, "cpu", seq_len=seq_len)
    torch.testing.assert_close(ours, again, rtol=1e-6, atol=0)
    assert our_scale == pytest.approx(again_scale, rel=1e-6)


def test_rope_theta_and_partial_rotary_factor_are_read_as_transformers_reads_them():
    from transformers import Phi3Config
    config = dict(model_type="phi3", **{k: v for k, v in TINY.items() if k != "rope_theta"}, rope_theta=500.0,
                  partial_rotary_factor=1.0, rope_parameters={"rope_type": "default", "rope_theta": 700.0,
                                                              "partial_rotary_factor": 0.5})
    ours = config_from_hf(config)
    theirs = Phi3Config.from_dict(config)  # edits config's dicts
    assert ours.rope_theta == theirs.rope_parameters["rope_theta"] == 700.0  # the dict's value wins
    assert ours.rotary_dim == int(16 * theirs.rope_parameters["partial_rotary_factor"]) == 8


def test_phi3_takes_its_original_length_beside_the_rope_dict():
    """Phi3Config's own original_max_position_embeddings (default 4096) overrides the dict's."""
    from transformers import Phi3Config
    from checkpoint import rope_dict_from_hf
    rope = {"rope_type": "longrope", "original_max_position_embeddings": 16, "short_factor": [1.0] * 8,
            "long_factor": [2.0] * 8}
    for top in ({"original_max_position_embeddings": 32}, {}):
        config = dict(model_type="phi3", **{**TINY, "max_position_embeddings": 8192}, rope_scaling=dict(rope), **top)
        ours = rope_from_hf(rope_dict_from_hf(config), 16, 8192).original_max_len
        theirs = Phi3Config.from_dict(config).rope_parameters["original_max_position_embeddings"]  # edits config
        assert ours == theirs == top.get("original_max_position_embeddings", 4096)


@pytest.mark.parametrize("model_type,rope_dict,words", [
    ("llama", {"rope_type": "proportional", "factor": 2.0}, "rope_type 'proportional' is not supported"),
    ("llama", {"rope_type": "llama3", "factor": 8.0, "high_freq_factor": 4.0}, "needs 'low_freq_factor'"),
    ("phi3", {"rope_type": "linear", "factor": 2.0}, "rope_type 'linear' is not supported for phi3"),
])
def test_rope_dicts_transformers_has_and_we_refuse(hf_checkpoint, model_type, rope_dict, words):
    _, path = hf_checkpoint("llama")
    config = json.load(open(os.path.join(path, "config.json")))
    json.dump({**config, "model_type": model_type, "rope_parameters": rope_dict},
              open(os.path.join(path, "config.json"), "w"))
    with pytest.raises(ValueError, match=words):
        load_model(path, device="cpu")


def test_llama3_is_a_baseline_method_and_a_search_seed(folders):
    """eval.py --rope llama3 and plots: Meta's defaults (1, 4) stretched to the target, as transformers computes
    them; search.py --seeds llama3 seeds the population with its factors."""
    import eval as evaluate
    import search
    from transformers import LlamaConfig
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
    ours = load_model(folders["llama3"][1], device="cpu")
    rope = evaluate.rope_for("llama3", ours, ORIGINAL, 96)
    config = LlamaConfig(**{**TINY, "max_position_embeddings": 96}, rope_parameters={
        "rope_type": "llama3", "factor": 3.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
        "original_max_position_embeddings": ORIGINAL, "rope_theta": 1000.0})
    theirs, _ = ROPE_INIT_FUNCTIONS["llama3"](config, "cpu")
    torch.testing.assert_close(rope_frequencies(rope, 16, 1000.0, 96)[0], theirs, rtol=1e-6, atol=0)
    factors = longrope.rescale_factors(rope, 16, 1000.0, 96)
    assert factors[0] == pytest.approx(1.0) and factors[-1] == pytest.approx(3.0)
    searched = search.plan(ours, 96, ORIGINAL, seed_methods=("pi", "llama3"))
    space, seeds = searched.space, searched.seeds
    assert [name for name, _ in seeds] == ["pi", "llama3"]
    assert seeds[1][1] == space.snap(factors)


# ----------------------------------------------------------------------------------------------------------------
# The whole method on the families: search, export, fine-tuning


def test_phi3_search_at_8x_and_export_load_in_transformers_with_our_loss(folders, tmp_path):
    import shutil
    import transformers
    import checkpoint
    import search
    path = shutil.copytree(folders["phi4-mini"][1], str(tmp_path / "phi4-mini"))
    rewrite_config(path, partial_rotary_factor=None)  # only in rope_parameters, which the export replaces
    model = load_model(path, device="cpu")
    assert model.config.rotary_dim == 8
    documents = [tokens_for(8 * ORIGINAL, batch=1, seed=s)[0] for s in range(2)]
    settings = search.Settings(population=4, iterations=1, parents=2, mutations=2, crossovers=2)
    factors = str(tmp_path / "factors.json")
    own = model.rope
    rope = search.run_search(model, documents, search.plan(model, 8 * ORIGINAL), settings,
                             search.Run(factors, compare_methods=False))
    assert len(rope.long_factor) == 4  # one per rotated frequency
    assert model.rope == own  # every candidate was scored on the model; its own rope is back
    out = checkpoint.export_model(path, factors, str(tmp_path / "extended"))
    hf = transformers.Phi3ForCausalLM.from_pretrained(out, attn_implementation="eager").eval()
    ours = load_model(out, device="cpu")
    assert ours.rope.long_factor == rope.long_factor and ours.rope.n_hat == rope.n_hat
    ours.set_rope(replace(ours.rope, n_hat=0))  # transformers has no n_hat
    tokens = torch.stack(documents)
    with torch.no_grad():
        assert float(ours.loss(tokens)) == pytest.approx(hf_loss(hf, tokens), abs=1e-4)
        assert float(ours.loss(tokens[:, :24])) == pytest.approx(hf_loss(hf, tokens[:, :24]), abs=1e-4)


def llama3_style_tokenizer(folder, text, vocab_size):
    """A byte-level BPE tokenizer.json as Llama 3 ships one (its split pattern, no sentencepiece)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    pattern = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
               r"\s*[\r\n]+|\s+(?!\S)|\s+")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(pattern), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator([text], trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=["<|begin_of_text|>", "<|end_of_text|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    tok.save(os.path.join(folder, "tokenizer.json"))
    return tok


TEXT = open(longrope.__file__).read()


def test_llama3_bpe_tokenizer_json(tmp_path):
    from transformers import PreTrainedTokenizerFast
    llama3_style_tokenizer(str(tmp_path), TEXT, 400)
    with open(tmp_path / "config.json", "w") as f:
        json.dump({"bos_token_id": 0, "eos_token_id": [1, 0]}, f)  # Llama 3.1 Instruct lists its end tokens
    ours = common.load_tokenizer(str(tmp_path))
    theirs = PreTrainedTokenizerFast(tokenizer_file=str(tmp_path / "tokenizer.json"))
    sample = "def rope(x):\n    return x * 2  # \u00e9t\u00e9 \U0001f600\n"
    assert not ours.byte_level and (ours.bos_id, ours.eos_id) == (0, 1)
    assert ours.encode(sample) == theirs.encode(sample, add_special_tokens=False)
    assert len(ours.encode(TEXT[:2000])) < 0.6 * len(TEXT[:2000].encode())  # merges, not bytes
    assert ours.encode(sample, bos=True)[0] == 0 and ours.decode(ours.encode(sample)) == sample


@pytest.mark.parametrize("name", ["llama3", "qwen2"])
def test_finetune_runs_on_the_family(name, tmp_path):
    import transformers
    import train
    model_dir = str(tmp_path / "model")
    os.makedirs(model_dir)
    llama3_style_tokenizer(model_dir, TEXT, 300)
    hf_family(name, vocab_size=300, bos_token_id=0, eos_token_id=1).save_pretrained(model_dir)
    factors = longrope.save_factors(str(tmp_path / "factors.json"), RopeScaling(
        "longrope", 2.0, ORIGINAL, long_factor=[1.0, 1.1, 1.2, 1.4, 1.6, 1.8, 2.0, 2.2], short_factor=[1.0] * 8), 16)
    data = tmp_path / "train.txt"
    data.write_text(TEXT)
    out = str(tmp_path / "tuned")
    train.main(["finetune", "--model", model_dir, "--factors", factors, "--length", "64", "--steps", "2",
                "--batch", "1", "--warmup", "0", "--lr", "1e-2", "--threads", "1", "--out", out, "--device", "cpu",
                "--data", str(data)])
    base, tuned = load_model(model_dir, device="cpu"), load_model(out, device="cpu")
    moved = {n for n, p in tuned.named_parameters() if not torch.equal(p, dict(base.named_parameters())[n])}
    assert "layers.0.self_attn.q_proj.weight" in moved
    if name == "qwen2":
        assert "layers.0.self_attn.q_proj.bias" in moved
    hf = transformers.AutoModelForCausalLM.from_pretrained(out, attn_implementation="eager").eval()
    tokens = tokens_for(64, vocab=300)
    with torch.no_grad():
        assert float(tuned.loss(tokens)) == pytest.approx(hf_loss(hf, tokens), abs=1e-4)


# ----------------------------------------------------------------------------------------------------------------
# Bad input: one sentence, exit 2





def run_eval(capsys, monkeypatch, *argv):
    import eval as evaluate
    monkeypatch.setattr(sys, "argv", ["eval.py", *argv])
    capsys.readouterr()  # what the fixtures printed
    with pytest.raises(SystemExit) as e:
        common.run_cli(evaluate.main)
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and len(err.splitlines()) == 1
    return err


def test_unsupported_families_are_one_sentence(hf_checkpoint, capsys, monkeypatch):
    _, path = hf_checkpoint("llama")
    rewrite_config(path, model_type="gemma")
    assert "model_type 'gemma' is not supported; expected one of llama, mistral, qwen2, phi3" in run_eval(
        capsys, monkeypatch, "ppl", "--model", path, "--device", "cpu")
    rewrite_config(path, model_type="llama", partial_rotary_factor=0.5)
    assert "partial_rotary_factor 0.5 is not supported for llama" in run_eval(
        capsys, monkeypatch, "ppl", "--model", path, "--device", "cpu")
    rewrite_config(path, model_type="qwen2", partial_rotary_factor=1.0, use_sliding_window=True, sliding_window=8,
                   max_window_layers=1)
    assert "sliding windows on some layers only" in run_eval(
        capsys, monkeypatch, "ppl", "--model", path, "--device", "cpu")


def test_fused_weight_of_the_wrong_size_is_one_sentence(folders, tmp_path, capsys, monkeypatch):
    from safetensors.torch import load_file, save_file
    _, source = folders["phi3"]
    path = str(tmp_path / "phi3")
    os.makedirs(path)
    state = load_file(os.path.join(source, "model.safetensors"))
    state["model.layers.1.self_attn.qkv_proj.weight"] = state["model.layers.1.self_attn.qkv_proj.weight"][:-16]
    save_file(state, os.path.join(path, "model.safetensors"))
    json.dump(json.load(open(os.path.join(source, "config.json"))), open(os.path.join(path, "config.json"), "w"))
    err = run_eval(capsys, monkeypatch, "ppl", "--model", path, "--device", "cpu")
    assert "model.layers.1.self_attn.qkv_proj.weight has shape (112, 64), expected (128, 64) " \
           "(q_proj + k_proj + v_proj stacked)" in err


def test_partial_rotary_factor_file_with_the_full_head_count_is_one_sentence(folders, tmp_path, capsys):
    _, path = folders["phi4-mini"]
    full = longrope.save_factors(str(tmp_path / "full.json"), RopeScaling(
        "longrope", 4.0, ORIGINAL, long_factor=LONG8, short_factor=SHORT8), 16)
    import search
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        common.run_cli(lambda: search.main(["--export", str(tmp_path / "out"), "--model", path, "--factors", full]))
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and len(err.splitlines()) == 1
    assert "long_factor has 8 values but rotary dimension 8 needs 4 (one per rotated frequency)" in err
    assert full in err


def test_meta_llama3_folder_is_refused_with_the_conversion_to_use(tmp_path, capsys, monkeypatch):
    params = {"dim": 64, "n_layers": 2, "n_heads": 4, "n_kv_heads": 2, "vocab_size": 128256, "multiple_of": 32,
              "ffn_dim_multiplier": 1.3, "norm_eps": 1e-5, "rope_theta": 500000.0, "use_scaled_rope": True}
    json.dump(params, open(tmp_path / "params.json", "w"))
    err = run_eval(capsys, monkeypatch, "ppl", "--model", str(tmp_path), "--device", "cpu")
    assert "Meta's Llama 3 format" in err and "convert_llama_weights_to_hf" in err


def test_yarn_mscale_changes_the_loss_as_in_transformers(tmp_path):
    """DeepSeek-style mscale / mscale_all_dim set the attention scale; ignoring them gave another loss."""
    rope = {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": ORIGINAL, "rope_theta": 1000.0,
            "mscale": 1.0, "mscale_all_dim": 0.0707}
    hf = hf_family("qwen2", rope_parameters=rope)
    hf.save_pretrained(str(tmp_path))
    ours, tokens = load_model(str(tmp_path), device="cpu"), tokens_for(80)
    assert ours.rope.attention_factor == pytest.approx(
        (0.1 * math.log(4) + 1) / (0.1 * 0.0707 * math.log(4) + 1))
    with torch.no_grad():
        assert float(ours.loss(tokens)) == pytest.approx(hf_loss(hf, tokens), abs=1e-4)
