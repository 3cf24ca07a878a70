"""The scripts in examples/ run as documented."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_own_data_example(tmp_path: Path) -> None:
    """examples/own_data.py trains on a synthetic NumPy data set through ``train(data=...)``
    (a few seconds once the kernels are compiled) and learns it."""
    run_dir = tmp_path / "run"
    res = subprocess.run(
        [sys.executable, str(EXAMPLES / "own_data.py"), str(run_dir)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr
    last = [line for line in res.stdout.splitlines() if line.startswith("test accuracy")]
    assert last, res.stdout
    accuracy = float(last[0].split()[2])
    assert accuracy > 80.0  # chance is 25 %
    for name in ("config.json", "metrics.jsonl", "checkpoint.npz", "best.npz"):
        assert (run_dir / name).exists()
