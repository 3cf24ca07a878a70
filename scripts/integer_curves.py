"""Curves and summary of the float vs integer runs in results/integer/.

Usage: python scripts/integer_curves.py   (reads results/integer/*/metrics.jsonl, writes
results/integer/curves.png and summary.md)
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).resolve().parent.parent / "results" / "integer"
runs = {}
for d in sorted(HERE.iterdir()):
    if (d / "metrics.jsonl").exists():
        rows = [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines()]
        cfg = json.loads((d / "config.json").read_text())
        runs[d.name] = (rows, cfg)


def arithmetic(cfg: dict) -> str:
    """``float32`` or ``int, 16-bit weights, stochastic`` from a run's config."""
    integer = cfg.get("integer") or cfg.get("extra", {}).get("integer")  # older form: extra
    if integer is None:
        return "float32"
    return f"int, {integer['weight_bits']}-bit weights, {integer.get('rounding', 'nearest')}"


def label(cfg: dict) -> str:
    """What a curve is, from its config: arithmetic, rounding, seed if not 0."""
    text = arithmetic(cfg).replace("int, ", "integer, ").replace(" weights,", ",")
    if text != "float32":
        text += " rounding"
    return text + (f", seed {cfg['seed']}" if cfg.get("seed") else "")


panels = [
    ("MNIST 784-1600-800-10, 16-bit weights", ["float-mnist", "int-mnist-stoch", "int-mnist"]),
    (
        "Fashion-MNIST 784-1000-100-10, 16-bit weights",
        ["float-fashion", "float-fashion-seed1", "int-fashion-stoch", "int-fashion"],
    ),
    ("MNIST 784-1600-800-10, 8-bit weights", ["float-mnist", "int8s-mnist", "int8-mnist"]),
]
fig, axes = plt.subplots(1, 3, figsize=(16, 4.4))
for ax, (title, names) in zip(axes, panels, strict=True):
    shown = []
    for name in names:
        if name not in runs:
            continue
        rows, cfg = runs[name]
        ep = [r["epoch"] + 1 for r in rows]
        acc = [r["test_accuracy"] for r in rows]
        if max(acc) < 50:  # did not learn: stated in the panel instead of squashing the axis
            ax.text(
                0.97,
                0.04,
                f"{label(cfg)}: {acc[-1]:.2f} % at epochs {ep[0]}-{ep[-1]}\n"
                "(every update rounds to 0: no weight changes; below this axis)",
                transform=ax.transAxes,
                ha="right",
                va="bottom",
                fontsize=8,
                bbox={"boxstyle": "round", "fc": "white", "ec": "0.6"},
            )
            continue
        kind = arithmetic(cfg).split(", ")[-1]  # float32, stochastic or nearest: one colour each
        colour = {"float32": "C0", "stochastic": "C1", "nearest": "C2"}[kind]
        style = "--" if cfg.get("seed") else "-"
        ax.plot(ep, acc, style, color=colour, marker="o", ms=4, label=label(cfg))
        shown += acc
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(int(min(shown)) - 1 if shown else 0, int(max(shown)) + 1 if shown else 100)
    ax.set_xticks(range(1, 11))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
fig.suptitle("Float32 vs integer training, test accuracy per epoch (results/integer)", fontsize=11)
fig.tight_layout()
fig.savefig(HERE / "curves.png", dpi=110)

lines = [
    "| run | arithmetic | network | epochs | final test % | best test % (epoch) | final train % |",
    "| --- | --- | --- | --- | --- | --- | --- |",
]
for name, (rows, cfg) in runs.items():
    arith = arithmetic(cfg)
    last = rows[-1]
    lines.append(
        f"| {name} | {arith} | {'-'.join(map(str, cfg['sizes']))} | {len(rows)} | "
        f"{last['test_accuracy']:.2f} | {last['best_test_accuracy']:.2f} "
        f"({last['best_epoch'] + 1}) | {last['train_accuracy']:.2f} |"
    )
(HERE / "summary.md").write_text("\n".join(lines) + "\n")
print("\n".join(lines))
