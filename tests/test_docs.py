"""The numbers the README cites are the ones the documented commands wrote: docs/results.md and the README's tables
agree with docs/ppl.json and docs/passkey.json (`python eval.py reproduce --out docs`), the pipeline's table with
docs/pipeline/summary.json (`python train.py --out docs/pipeline`), the speed tables of docs/BENCHMARKS.md with
docs/bench_*.json (`python bench.py`, on a CPU and on an H100), and every figure the README shows exists."""

import json
import os
import re

import pytest

import common
import eval as evaluation
import longrope
import train

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")


def load(name):
    with open(os.path.join(DOCS, name)) as f:
        return json.load(f)


def readme():
    with open(os.path.join(ROOT, "README.md")) as f:
        return f.read()


def benchmarks():
    with open(os.path.join(DOCS, "BENCHMARKS.md")) as f:
        return f.read()


def rows(text, first_column):
    """Cells of the markdown rows whose first cell is `first_column` (every table of the text)."""
    found = []
    for line in text.splitlines():
        cells = [c.strip().strip("*") for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == first_column:
            found.append(cells[1:])
    return found


def passkey_by_length(records):
    depths = {}
    for r in records:
        depths.setdefault((r["method"], r["length"]), []).append(r["accuracy"])
    return {k: sum(v) / len(v) for k, v in depths.items()}


def test_results_md_holds_the_json_tables():
    with open(os.path.join(DOCS, "results.md")) as f:
        text = f.read()
    assert evaluation.markdown_table(load("ppl.json"), "bits", "{:.3f}") in text
    by_length = [{"method": m, "length": n, "accuracy": a} for (m, n), a in passkey_by_length(load("passkey.json")).items()]
    assert evaluation.markdown_table(by_length, "accuracy", "{:.2f}") in text


def test_readme_tables_quote_the_json():
    text = readme()
    ppl = load("ppl.json")
    lengths = sorted({r["length"] for r in ppl})
    for method in dict.fromkeys(r["method"] for r in ppl):
        label = "longrope (searched at 8x)" if method == "longrope" else method
        expected = [f"{next(r['bits'] for r in ppl if r['method'] == method and r['length'] == n):.3f}" for n in lengths]
        assert expected in rows(text, label), method
    accuracy = passkey_by_length(load("passkey.json"))
    lengths = sorted({n for _, n in accuracy})
    baselines = ["none", "pi", "ntk", "dynamic-ntk", "yarn"]
    for label, methods in ((", ".join(baselines), baselines), ("longrope (searched at 8x)", ["longrope"])):
        for m in methods:
            assert [f"{accuracy[m, n]:.2f}" for n in lengths] in rows(text, label), m


def test_searched_factors_and_their_log_are_committed():
    rope = longrope.load_factors(os.path.join(DOCS, "tiny_8x_factors.json"), 64)
    assert rope.method == "longrope" and rope.factor == 8 and len(rope.long_factor) == 32
    assert list(rope.long_factor) == sorted(rope.long_factor)  # monotone, as the search keeps every child
    with open(os.path.join(DOCS, "tiny_8x_factors.history.csv")) as f:
        assert sum(1 for _ in f) - 1 == rope.extra["evaluated"]


def test_every_figure_the_readme_shows_exists():
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", readme())
    assert len(images) >= 4
    for path in images:
        assert os.path.getsize(os.path.join(ROOT, path)) > 10_000, path


@pytest.mark.parametrize("run", ["pipeline", "pipeline-256k"])
def test_readme_pipeline_table_is_the_summary(run):
    """`python train.py --out docs/pipeline` and `python train.py --target 256k`: their tables, as written."""
    summary = load(os.path.join(run, "summary.json"))
    with open(os.path.join(DOCS, run, "summary.md")) as f:
        table = [line for line in f.read().splitlines() if line.startswith("|")]
    text = readme()
    for line in table:
        assert line in text, line
    for r in summary["records"]:
        assert any(f"{r['ppl']:.3f}" in cells for cells in rows(text, r["model"])), r


def test_benchmark_page_speed_table_is_the_benchmark_output():
    import bench
    import searches
    text = benchmarks()
    for line in bench.table(load("bench_cpu.json")).splitlines():
        assert line in text, line
    assert searches.search_line(load("bench_search.json")) in text
    batched = load("bench_batched_cpu.json")
    assert searches.batched_line(batched) in text
    assert f"the batch takes\n{batched['ratio']:.2f}x the time" in readme() and batched["ratio"] > 1  # not kept
    memory = load("bench_cpu_64k.json")[0]
    assert f"{memory['ours_peak_mb']:.0f} MB" in text and memory["ours_peak_mb"] < memory["float32_logits_mb"] / 4


def test_benchmark_page_gpu_section_is_the_h100_output():
    """bench.py on CUDA (docs/bench_cuda*.json) and the tiny pipeline on the same GPU (docs/pipeline-h100)."""
    import bench
    text = " ".join(benchmarks().split())  # paragraphs wrap anywhere
    for line in (bench.table(load("bench_cuda.json")).splitlines() + bench.table(load("bench_cuda_mistral.json"))
                 .splitlines() + bench.finetune_table(load("bench_cuda_finetune.json")).splitlines()):
        assert line in benchmarks(), line
    long = load("bench_cuda_long.json")
    peaks = [f"{r['ours_peak_mb']:.0f}" for r in long]
    assert f"{peaks[0]}, {peaks[1]} and {peaks[2]} MB" in text
    assert all(r["ours_peak_mb"] < r["float32_logits_mb"] for r in long)
    for a, b in zip(long, long[1:]):  # linear in length
        assert b["ours_peak_mb"] / a["ours_peak_mb"] == pytest.approx(b["length"] / a["length"], rel=0.05)
    for r in load("bench_cuda_finetune.json"):
        if "allocated_gb" in r:  # the estimate train.py stops on covers what the stage took
            assert r["allocated_gb"] < r["estimate_gb"] < 1.1 * r["reserved_gb"] + 2, r
    ppl = {(r["model"], r["length"]): r["ppl"] for r in load(os.path.join("pipeline-h100", "summary.json"))["records"]}
    final, tuned, original = ("final (fine-tuned, searched, recovered)", "fine-tuned at 8k", "original model")
    assert (f"fine-tuned at 8k {ppl[tuned, 8192]:.3f}, final at 64k {ppl[final, 65536]:.3f} "
            f"({ppl[final, 65536] / ppl[tuned, 8192]:.2f}x") in text
    assert (f"final at 128 tokens {ppl[final, 128]:.3f}, {100 * (ppl[final, 128] / ppl[original, 128] - 1):.1f}% "
            f"above the original model's {ppl[original, 128]:.3f}") in text


def test_readme_searches_table_is_the_bench_output():
    """`python bench.py --searches --out docs/searches.md`: its table, from docs/searches.json, in both pages."""
    import searches
    table = searches.searches_table(load("searches.json"))
    with open(os.path.join(DOCS, "searches.md")) as f:
        assert table in f.read()
    for line in table.splitlines():
        assert line in readme(), line


def test_readme_second_search_table_is_the_bench_output():
    """`python bench.py --searches --model .../finetune-8k --target 512x ...`: its table, from
    docs/searches_512x.json, in its page and in the README, with the README's comparisons computed from it."""
    import searches
    result = load("searches_512x.json")
    assert result["setup"]["second_search"] and result["setup"]["length"] == 512 * result["setup"]["original"]
    table = searches.searches_table(result)
    with open(os.path.join(DOCS, "searches_512x.md")) as f:
        assert table in f.read()
    for line in table.splitlines():
        assert line in readme(), line
    rows = {r["search"]: r for r in result["searches"]}
    full, raced = rows["longrope"], rows["longrope + early rejection 0"]
    on_top, longrope2 = rows["yarn on the fine-tuned factors (no search)"], rows["longrope2"]
    text = " ".join(readme().split())
    assert f"ends {100 * (1 - full['bits'] / on_top['bits']):.1f}% below YaRN's rule on top of the 8k factors" in text
    assert f"same factors for {raced['forward_passes'] / full['forward_passes']:.0%} of the passes" in text
    assert raced["long_factor"] == full["long_factor"]
    assert f"({longrope2['bits']:.2f} bits per byte, {longrope2['bits'] / full['bits']:.2f}x)" in text


def test_readme_forty_iteration_tables_are_the_bench_output():
    """The two `python bench.py --searches --budget 16,40,8,8,8 ...` runs: each table, from its JSON, in its page
    and in the README, and the README's shares and differences are those of the JSON."""
    import searches
    for name in ("searches_t40", "searches_t40_seed1"):
        result = load(f"{name}.json")
        table = searches.searches_table(result)
        with open(os.path.join(DOCS, f"{name}.md")) as f:
            assert table in f.read()
        for line in table.splitlines():
            assert line in readme(), line
        bits = {r["search"]: r for r in result["searches"]}
        full, raced = bits["longrope"], bits["longrope + early rejection 0"]
        assert f"{raced['forward_passes'] / full['forward_passes']:.0%}" == "26%"
        difference = 100 * (raced["bits"] / full["bits"] - 1)
        assert f"{difference:.2f}%" in readme() or f"{difference:.1f}%" in readme(), difference


def test_readme_racing_table_is_the_forty_iteration_runs():
    """Early rejection against the full search over every seed's `python bench.py --searches --budget 16,40,8,8,8`
    run (docs/searches_t40*.json): the README's table is `searches.racing_table` of them, each run's table is in its
    page, and no run is left out."""
    import glob
    import searches
    paths = sorted(glob.glob(os.path.join(DOCS, "searches_t40*.json")))
    results = [load(os.path.basename(p)) for p in paths]
    assert len(results) >= 6 and sorted(r["setup"]["seed"] for r in results) == list(range(len(results)))
    for path, result in zip(paths, results):
        with open(path[:-len(".json")] + ".md") as f:
            assert searches.searches_table(result) in f.read()
    for line in searches.racing_table(results).splitlines():
        assert line in readme(), line


def test_readme_processes_table_is_the_bench_output():
    """`python bench.py --searches --processes 2 --out docs/search_processes.md`: its table, from the JSON, in both
    pages; every run reached the same state and log, and the README's speed-up is the measured one."""
    import searches
    result = load("search_processes.json")
    table = searches.processes_table(result)
    with open(os.path.join(DOCS, "search_processes.md")) as f:
        assert table in f.read()
    for line in table.splitlines():
        assert line in readme(), line
    assert all(r["same_result"] for r in result["runs"])
    assert f"{result['runs'][2]['speedup']:.2f}x as fast as one" in readme()


def test_every_code_pointer_in_the_readme_exists():
    """The README teaches where each idea lives (`longrope.rope_cos_sin`, `algorithm1.evolve`, ...): every such pointer
    names a function or class that exists, so the map cannot drift from the code."""
    import importlib
    modules = ("longrope", "longrope2", "logbook", "model", "search", "algorithm1", "train", "finetune", "plan", "prepare", "common", "eval", "checkpoint",
               "parallel", "compare", "bench", "bench_long", "pretrain")
    files = {"py", "json", "bin", "md", "png", "csv", "pth", "pt", "npy", "txt", "jsonl", "parquet", "gz", "safetensors",
             "model", "tar"}
    pointers = set(re.findall(r"`(%s)\.([A-Za-z_]\w*)(?:\.([A-Za-z_]\w*))?" % "|".join(modules), readme()))
    checked = 0
    for module, name, attribute in pointers:
        if name in files:
            continue
        target = getattr(importlib.import_module(module), name, None)
        assert target is not None, f"{module}.{name}"
        if attribute:
            assert hasattr(target, attribute), f"{module}.{name}.{attribute}"
        checked += 1
    assert checked >= 30


def quoted_rows(section):
    """{first cell: the other cells} of every table row in `section`, bold marks and parentheses dropped."""
    quoted = {}
    for line in section.splitlines():
        if line.startswith("| ") and not line.startswith("| model") and "---" not in line:
            cells = [c.strip().strip("*") for c in line.strip("|").split("|")]
            quoted[cells[0].split(" (")[0]] = cells[1:]
    return quoted


def readme_section(start, end, after=None):
    """The README from `start` (the first one after `after`, when given) up to the next `end`."""
    text = readme()
    text = text[text.index(after):] if after else text
    section = text[text.index(start):]
    return section[:section.index(end)]


def test_readme_figure1_table_is_the_comparison():
    """The README's Figure 1 table quotes `python compare.py --out docs/finetuned` (compare.json) cell for cell."""
    state = load(os.path.join("finetuned", "compare.json"))
    quoted = quoted_rows(readme_section("### Fine-tuned LongRoPE against fine-tuned PI and YaRN", "Passkey retrieval"))
    lengths = sorted({r["length"] for r in state["perplexity"]})
    models = list(dict.fromkeys(r["model"] for r in state["perplexity"]))
    assert set(quoted) == set(models)
    for r in state["perplexity"]:
        assert quoted[r["model"]][lengths.index(r["length"])] == f"{r['ppl']:.2f}", r


def test_readme_one_k_comparison_tables_are_the_run():
    """The fine-tuned comparison at 1k (`compare.py --out docs/finetuned-1k`): its perplexity and passkey tables in
    the README quote compare.json cell for cell, and every model it names was measured."""
    state = load(os.path.join("finetuned-1k", "compare.json"))
    assert "--finetune-lengths 4x,8x" in state["settings"]["pipeline_args"]
    heading = "### Passkey after fine-tuning"
    tables = {"perplexity": quoted_rows(readme_section(heading, "Passkey accuracy")),
              "passkey": quoted_rows(readme_section("Passkey accuracy", "###", after=heading))}
    lengths = {k: sorted({r["length"] for r in state[k]}) for k in tables}
    for k in tables:
        models = list(dict.fromkeys(r["model"] for r in state[k]))
        assert set(models) <= set(tables[k]), k
    for r in state["perplexity"]:
        assert tables["perplexity"][r["model"]][lengths["perplexity"].index(r["length"])] == f"{r['ppl']:.2f}", r
    for label in dict.fromkeys(r["model"] for r in state["passkey"]):
        for i, n in enumerate(lengths["passkey"]):
            cells = [r["accuracy"] for r in state["passkey"] if r["model"] == label and r["length"] == n]
            assert tables["passkey"][label][i] == f"{sum(cells) / len(cells):.2f}", (label, n)


def test_benchmark_page_chunked_curve_and_the_2048k_arithmetic_are_the_outputs():
    """The memory curves are bench.py --chunked's output, and the 2048k arithmetic is model.forward_memory's for a
    Llama-2-7B shape: the page's numbers change when the estimate or the measurements do."""
    import bench
    import bench_long
    from model import forward_memory, longest_fitting_length
    page = benchmarks()
    text = " ".join(page.split())
    curve, seven = load("bench_cpu_chunked_curve.json"), load("bench_cpu_chunked_7b.json")
    for line in bench.chunked_table(curve).splitlines() + bench.chunked_table(seven).splitlines():
        assert line in page, line
    assert [r["length"] for r in curve] == [2**k * 1024 for k in range(2, 9)]  # 4k to 256k
    ratios = [r["chunked_peak_mb"] / r["estimate_chunked_mb"] for r in curve + seven]
    lo, hi = min(ratios), max(ratios)
    assert f"measured chunked peak is {lo:.2f}-{hi:.2f}x of it at every length" in text
    saved = [100 * r["saved_mb"] / r["whole_peak_mb"] for r in curve if r["length"] > r["chunk"]]
    assert f"{min(saved):.0f}-{max(saved):.0f}% of the whole forward's peak" in text
    a, b = seven
    growth = (b["chunked_peak_mb"] - a["chunked_peak_mb"]) * 2**20 / (b["length"] - a["length"])
    term = (b["estimate_chunked_mb"] - a["estimate_chunked_mb"]) * 2**20 / (b["length"] - a["length"])
    assert f"the term is {term / 1024:.1f} KiB against {growth / 1024:.1f} KiB" in text
    assert f"{100 * (term / growth - 1):.0f}% over the growth from 8k to 16k" in text
    assert all(r["saved_mb"] > 0 for r in curve + seven if r["length"] > r["chunk"])
    for r in curve + seven:  # the estimate the chunk is sized by is near what the forward took
        assert 0.95 < r["chunked_peak_mb"] / r["estimate_chunked_mb"] < 1.25, r
    for a, b in zip(curve[4:], curve[5:]):  # from 64k the estimate's growth per token bounds the measured one
        measured = (b["chunked_peak_mb"] - a["chunked_peak_mb"]) * 2**20 / (b["length"] - a["length"])
        estimated = (b["estimate_chunked_mb"] - a["estimate_chunked_mb"]) * 2**20 / (b["length"] - a["length"])
        assert measured < estimated and f"{measured:.0f}" in text and f"{estimated:.0f} bytes" in text
    cfg, n = bench_long.CONFIGS["7b"], 2**21
    above = forward_memory(cfg, n, 4096, 2)
    weights = (cfg.vocab_size * cfg.hidden_size * 2 + cfg.n_layers * (4 * cfg.hidden_size**2 + 3 * cfg.hidden_size
               * cfg.intermediate_size + 2 * cfg.hidden_size) + cfg.hidden_size) * 2
    assert f"prints {above / 2**30:.2f}" in text and f"{above / 2**30:.1f} GiB in all" in text
    assert f"{weights / 2**30:.2f} GiB of bf16 weights" in text
    assert f"**{(above + weights) / 2**30:.1f} GiB ({(above + weights) / 1e9:.1f} GB) on one GPU**" in text
    assert (above + weights) / 2**30 < 139 - 40
    assert f"reaches {longest_fitting_length(cfg, 65 * 2**30, 2) / 1e6:.2f}M tokens" in text


def test_readme_passkey_budget_table_is_the_runs():
    """Each row of the README's passkey-budget table is one eval.py passkey JSON in docs/finetuned/passkey-budget
    (yarn-<length>-f<fraction>-s<steps>.json): its accuracy at the fine-tuning length and at 128."""
    folder = os.path.join(DOCS, "finetuned", "passkey-budget")
    names = sorted(n for n in os.listdir(folder) if n.startswith("yarn-"))
    lines = readme().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| fine-tuned at (YaRN"))
    table = {}
    for line in lines[start + 2:]:  # below the header and its rule, to the table's end
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        table[tuple(cells[:3])] = cells[3:]
    assert len(names) >= 7 and len(table) == len(names)  # every row has its run
    for name in names:
        length, fraction, steps = re.fullmatch(r"yarn-(\d+)-f([\d.]+)-s(\d+)\.json", name).groups()
        accuracy = passkey_by_length(load(os.path.join("finetuned", "passkey-budget", name)))
        examples = int(steps) * train.TINY["batch"] * float(fraction)  # the tiny defaults' long sequences per step
        row = table[(common.format_length(int(length)), steps, fraction)]
        assert row == [f"{examples:.0f}" if float(fraction) == 1 else f"about {examples:.0f}",
                       f"{accuracy['yarn', int(length)]:.2f}", f"{accuracy['yarn', 128]:.2f}"], name
    original = passkey_by_length(load(os.path.join("finetuned", "passkey-budget", "original.json")))
    assert f"{original['yarn', 256]:.2f} for the original model with YaRN" in " ".join(readme().split())
