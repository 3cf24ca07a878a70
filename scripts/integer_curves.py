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

panels = [
    ("MNIST, 16-bit weights", ["float-mnist", "int-mnist", "int-mnist-stoch"], (92, 98)),
    (
        "Fashion-MNIST, 16-bit weights",
        ["float-fashion", "float-fashion-seed1", "int-fashion", "int-fashion-stoch"],
        (77, 85),
    ),
    ("MNIST, 8-bit weights", ["float-mnist", "int8-mnist", "int8s-mnist"], (0, 100)),
]
fig, axes = plt.subplots(1, 3, figsize=(15, 4))
for ax, (title, names, ylim) in zip(axes, panels, strict=True):
    for name in names:
        if name not in runs:
            continue
        rows = runs[name][0]
        ep = [r["epoch"] + 1 for r in rows]
        ax.plot(ep, [r["test_accuracy"] for r in rows], marker="o", label=name)
    ax.set_title(title + " (test accuracy)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(*ylim)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(HERE / "curves.png", dpi=110)

lines = [
    "| run | arithmetic | network | epochs | final test % | best test % (epoch) | final train % |",
    "| --- | --- | --- | --- | --- | --- | --- |",
]
for name, (rows, cfg) in runs.items():
    integer = cfg.get("integer") or cfg.get("extra", {}).get("integer")  # older form: extra
    arith = (
        "float32"
        if integer is None
        else (f"int, {integer['weight_bits']}-bit weights, {integer.get('rounding', 'nearest')}")
    )
    last = rows[-1]
    lines.append(
        f"| {name} | {arith} | {'-'.join(map(str, cfg['sizes']))} | {len(rows)} | "
        f"{last['test_accuracy']:.2f} | {last['best_test_accuracy']:.2f} "
        f"({last['best_epoch'] + 1}) | {last['train_accuracy']:.2f} |"
    )
(HERE / "summary.md").write_text("\n".join(lines) + "\n")
print("\n".join(lines))
