"""Curves and summary of the float vs integer runs in this folder.

Usage: python results/integer/plot.py   (reads */metrics.jsonl, writes curves.png, summary.md)
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).parent
runs = {}
for d in sorted(HERE.iterdir()):
    if (d / "metrics.jsonl").exists():
        rows = [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines()]
        cfg = json.loads((d / "config.json").read_text())
        runs[d.name] = (rows, cfg)

fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for ax, ds in zip(axes, ["mnist", "fashion"], strict=True):
    for name, (rows, _cfg) in runs.items():
        if ds in name:
            ep = [r["epoch"] + 1 for r in rows]
            ax.plot(ep, [r["test_accuracy"] for r in rows], marker="o", label=f"{name} test")
            ax.plot(ep, [r["train_accuracy"] for r in rows], ls="--", alpha=0.6,
                    label=f"{name} train")  # fmt: skip
    ax.set_title(ds)
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
fig.tight_layout()
fig.savefig(HERE / "curves.png", dpi=120)

lines = [
    "| run | arithmetic | network | epochs | final test % | best test % (epoch) | final train % |",
    "| --- | --- | --- | --- | --- | --- | --- |",
]
for name, (rows, cfg) in runs.items():
    integer = cfg.get("extra", {}).get("integer")
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
