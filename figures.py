"""The figures of the evaluations: perplexity against context length (the paper's Figure 1 in its axes), the rescale
factors lambda_i per frequency against PI, NTK and YaRN (Section 2.1's unified form), and passkey retrieval by length
and depth (Section 4.2). eval.py and compare.py draw with these; matplotlib is imported only when one is drawn."""

from common import format_length
from longrope import load_factors, make_rope, rescale_factors


def pyplot():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        return plt
    except ImportError:
        raise ValueError("figures need matplotlib: pip install matplotlib") from None


def _finish(plt, fig, ax, path, xlabel, ylabel, title):
    """Labels, grid and legend of a line figure, saved to `path` and closed."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_perplexity(records, path, title="Perplexity against context length"):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for method in dict.fromkeys(r["method"] for r in records):
        rows = sorted((r for r in records if r["method"] == method), key=lambda r: r["length"])
        ax.plot([r["length"] for r in rows], [r["ppl"] for r in rows], marker="o", label=method)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    _finish(plt, fig, ax, path, "context length (tokens)", "perplexity", title)
    return path


def plot_factors(factor_files, head_dim, base, path, baselines=("pi", "ntk", "yarn")):
    """Rescale factor lambda_i against frequency index i for the baselines and searched LongRoPE files."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    ropes = [load_factors(f, head_dim) for f in factor_files]
    reference = ropes[0] if ropes else None
    if reference is not None:
        original, target = reference.original_max_len, int(round(reference.factor * reference.original_max_len))
        for method in baselines:
            ax.plot(rescale_factors(make_rope(method, original, target), head_dim, base, target), label=method,
                    linestyle="--")
    for rope in ropes:
        ax.plot(rope.long_factor, label=f"{rope.label} (LongRoPE, n_hat={rope.n_hat})", linewidth=2)
    _finish(plt, fig, ax, path, "frequency index i (0 = fastest rotation)", "rescale factor lambda_i",
            "Rescale factors per RoPE frequency")
    return path


def plot_passkey(records, path_lines, path_heatmap, heatmap_method=None):
    plt = pyplot()
    methods = list(dict.fromkeys(r["method"] for r in records))
    lengths = sorted({r["length"] for r in records})
    depths = sorted({r["depth"] for r in records})
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for method in methods:
        acc = [sum(r["accuracy"] for r in records if r["method"] == method and r["length"] == n) /
               max(1, sum(1 for r in records if r["method"] == method and r["length"] == n)) for n in lengths]
        ax.plot(lengths, acc, marker="o", label=method)
    ax.set_xscale("log", base=2)
    ax.set_ylim(-0.05, 1.05)
    _finish(plt, fig, ax, path_lines, "context length (tokens)", "passkey accuracy", "Passkey retrieval by length")

    method = heatmap_method or methods[-1]
    grid = [[next((r["accuracy"] for r in records if r["method"] == method and r["length"] == n and r["depth"] == d),
                  float("nan")) for n in lengths] for d in depths]
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    image = ax.imshow(grid, vmin=0, vmax=1, cmap="RdYlGn", aspect="auto")
    ax.set_xticks(range(len(lengths)), [format_length(n) for n in lengths])
    ax.set_yticks(range(len(depths)), [f"{d:.0%}" for d in depths])
    ax.set_xlabel("context length")
    ax.set_ylabel("needle depth")
    ax.set_title(f"Passkey accuracy, {method}")
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    fig.savefig(path_heatmap, dpi=120)
    plt.close(fig)
    return path_lines, path_heatmap
