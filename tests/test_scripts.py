"""The probe scripts behind the committed write-ups (scripts/), run as a user runs them."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from desire_bp.analysis import activity, desire_balance
from desire_bp.checkpoint import load_checkpoint
from desire_bp.cli import main
from desire_bp.data import load_dataset
from desire_bp.training import read_metrics

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"

pytestmark = pytest.mark.slow


def _script(name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPTS / name), *args], capture_output=True, text=True, timeout=600
    )


def _tree_digest(d: Path) -> dict[str, str]:
    return {
        str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(d.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def small_run(tmp_path_factory, mnist_dir) -> tuple[Path, Path]:
    """A 3-epoch MNIST run and a copy of its checkpoint after epoch 1: ``(run, epoch1.npz)``."""
    root = tmp_path_factory.mktemp("probe")
    run = root / "run"
    args = ["train", "--hidden", "20,10", "--train-samples", "300", "--test-samples", "100"]
    args += ["--lr", "1e-4", "--no-progress", "--threads", "1"]
    assert main([*args, "--epochs", "1", "--run-dir", str(run)]) == 0
    first = root / "epoch1.npz"
    shutil.copy(run / "checkpoint.npz", first)
    assert main(["train", "--resume", str(run), "--epochs", "3", "--no-progress"]) == 0
    return run, first


def test_probe_replay_retraces_the_run_and_leaves_it_untouched(small_run) -> None:
    run, first = small_run
    shutil.copy(first, run / "epoch1.npz")
    before = _tree_digest(run)
    done = _script("probe_replay.py", str(run), "--start", "epoch1.npz", "--until", "3")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    original = {r["epoch"]: r for r in read_metrics(run)}
    assert [r["epoch"] for r in rows] == [2, 3]
    for r in rows:
        was = original[r["epoch"] - 1]  # metrics count epochs from 0, the probe from 1
        assert r["as_in_the_run"] is True
        assert (r["train_accuracy"], r["test_accuracy"]) == (
            was["train_accuracy"],
            was["test_accuracy"],
        )
        assert [h["layer"] for h in r["hidden"]] == [1, 2]
        for h in r["hidden"]:
            assert 0 <= h["saturated"] + h["silent"] <= 1
            assert h["mean_count"] >= 0 and 0 <= h["never_firing"] <= (
                20 if h["layer"] == 1 else 10
            )
        assert 0 <= r["tied_top"] <= 1
    assert _tree_digest(run) == before  # replayed in a scratch copy
    # a replay that would end before it starts, or past the run, is refused with the reason
    late = _script("probe_replay.py", str(run), "--start", "epoch1.npz", "--until", "9")
    assert late.returncode != 0 and "has 3 epochs, not 9" in late.stderr
    early = _script("probe_replay.py", str(run), "--start", "epoch1.npz", "--until", "1")
    assert early.returncode != 0 and "--until must be later" in early.stderr
    missing = _script("probe_replay.py", str(run), "--start", "nothing.npz", "--until", "3")
    assert missing.returncode != 0 and "no checkpoint" in missing.stderr
    (run / "epoch1.npz").unlink()


def test_probe_saturation_reports_each_hidden_layer(small_run) -> None:
    run, _ = small_run
    ck_path = run / "checkpoint.npz"
    done = _script("probe_saturation.py", str(ck_path), "--samples", "50")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    ck = load_checkpoint(ck_path)
    assert [(r["layer"], r["neurons"]) for r in rows] == [(1, 20), (2, 10)]
    assert all(r["epoch"] == 3 for r in rows)
    assert all(r["test_accuracy"] == read_metrics(run)[-1]["test_accuracy"] for r in rows)
    # the same fractions as the library's, on the same 50 test images (rounded to 4 digits)
    test = load_dataset("mnist", "test").subset(50)
    want = desire_balance(activity(ck.weights, test.images, test.labels, ck.config))
    for r, w in zip(rows, want, strict=True):
        for k, v in w.items():
            assert r[k] == (round(v, 4) if isinstance(v, float) else v), k
