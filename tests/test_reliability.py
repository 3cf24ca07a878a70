"""Bad inputs get one clear line and change nothing on disk; run directories are locked,
never overwritten and resume bit-identically after ``kill -9`` (issue 13, docs/reliability.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from desire_bp import preset
from desire_bp.checkpoint import load_checkpoint
from desire_bp.cli import main
from desire_bp.data import load_dataset
from desire_bp.training import RunError, train

TINY = dict(sizes=(784, 8, 10), T=5, epochs=2, lr=1e-3, seed=1)


@pytest.fixture(scope="module")
def tiny_data(mnist_dir):
    return (
        load_dataset("mnist", "train", mnist_dir).subset(60),
        load_dataset("mnist", "test", mnist_dir).subset(20),
    )


def _write_npz(path: Path, cfg: dict, weights: list[np.ndarray]) -> None:
    arrays = {f"W{k}": w for k, w in enumerate(weights, start=1)}
    np.savez(path, config=np.array(json.dumps(cfg)), meta=np.array("{}"), **arrays)


@pytest.fixture(scope="module")
def world(tmp_path_factory, tiny_data) -> Path:
    """A folder of things to get wrong: a finished run, foreign and broken run directories,
    a file where a directory belongs, and broken checkpoints."""
    w = tmp_path_factory.mktemp("world")
    cfg = preset("mnist", **TINY)
    train(cfg, w / "run", data=tiny_data, progress=False, log=None)
    shutil.copytree(w / "run", w / "mixed")  # config.json of one run, checkpoints of another
    (w / "mixed" / "config.json").write_text(json.dumps(cfg.replace(seed=2).to_dict()))
    (w / "foreign").mkdir()
    (w / "foreign" / "best.npz").write_bytes(b"someone else's file")
    for name, text in [("badjson", "{"), ("badsizes", '{"sizes": "abc"}'), ("list", "[1]")]:
        (w / name).mkdir()
        (w / name / "config.json").write_text(text)
    (w / "afile").write_text("a file, not a directory")
    (w / "empty.pt").write_bytes(b"")
    rng = np.random.default_rng(0)
    d = preset("mnist", sizes=(100, 8, 10)).to_dict()
    _write_npz(w / "in100.npz", d, [np.ones((8, 100), "f4"), np.ones((10, 8), "f4")])
    w784 = [rng.standard_normal((8, 784)).astype("f4"), rng.standard_normal((10, 8)).astype("f4")]
    d = preset("mnist", sizes=(784, 8, 10)).to_dict()
    for name, integer in [
        ("int_garbage", {"weight_bits": "x"}),
        ("int_frac", {"frac_bits": [1000, 3]}),
        ("int_list", [1, 2]),
        ("int_key", {"foo": 1}),
    ]:
        _write_npz(w / f"{name}.npz", {**d, "integer": integer}, w784)
    _write_npz(w / "nan.npz", d, [np.full((8, 784), np.nan, "f4"), w784[1]])
    return w


def _snapshot(root: Path) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        out[rel] = "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


# (command line, a piece of the expected message); run inside `world`
BAD_INPUTS = [
    # sizes and counts: never a silent default
    ("train --hidden -5", "layer sizes"),
    ("train --hidden= ", "layer sizes"),
    ("train --hidden 5,", "layer sizes"),
    ("train --sizes 784,0,10", ">= 1"),
    ("train --sizes 784,8,1", "output layer"),
    ("train --test-samples 0", "test_samples"),
    ("train --train-samples 0", "train_samples"),
    ("train --T 0", "'T'"),
    ("train --epochs -1", "epochs"),
    ("train --error-margin 99", "error_margin"),
    ("train --threads 0", "--threads"),
    ("train --threads -1", "--threads"),
    ("train --threads 1000", "--threads"),
    # values that would break the run later
    ("train --theta-p inf", "finite"),
    ("train --theta-p nan", "finite"),
    ("train --theta-p 0", "theta_p"),
    ("train --lr 1e40", "float32"),
    ("train --lr -1", "'lr'"),
    ("train --p-hid 1.5", "p_hid"),
    ("train --lr-floor 1", "lr_floor"),
    ("train --T 1000000000 --run-dir new", "memory"),
    ("train --hidden 1000000000 --run-dir new", "memory"),
    ("train --int-weight-bits 8 --run-dir new", "--arithmetic int"),
    ("train --arithmetic int --int-weight-bits 99 --run-dir new", "weight_bits"),
    ("train --record bogus --run-dir new", "--record"),
    # sizes or counts that do not fit the data: refused before a run directory is made
    ("train --sizes 100,64,10 --run-dir new --epochs 1", "input layer"),
    ("train --sizes 784,8,5 --run-dir new --epochs 1", "output layer"),
    ("train --train-samples 100000000 --hidden 8 --run-dir new", "train_samples"),
    ("train --validation 100000000 --hidden 8 --run-dir new", "validation"),
    # run directories: locked, never overwritten, never mixed
    ("train --run-dir afile", "is a file"),
    ("train --run-dir foreign", "not empty"),
    ("train --run-dir badjson", "not a desire-bp config"),
    ("train --run-dir run", "--resume run"),
    ("train --resume nothere", "config.json not found"),
    ("train --resume afile", "config.json not found"),
    ("train --resume badjson", "not a valid config"),
    ("train --resume badsizes", "not a valid config"),
    ("train --resume list", "not a valid config"),
    ("train --resume mixed", "different run"),
    ("train --resume run --epochs 1", "already trained"),
    ("train --resume run --lr 0.1", "--lr 0.1"),
    ("train --resume run --hidden 9", "--hidden 9"),
    ("train --resume run --sizes 784,9,10", "--sizes"),
    ("train --resume run --seed 3 --T 7", "--T 7 (the run has 5); --seed 3 (the run has 1)"),
    ("train --resume run --dataset fashion-mnist", "--dataset"),
    ("train --resume run --preset fashion-mnist", "--preset"),
    ("train --resume run --arithmetic int", "--arithmetic"),
    ("train --resume run --int-lr-terms 1", "--int-lr-terms"),
    ("train --resume run --run-dir other", "--run-dir"),
    ("train --resume run --init-from run/best.npz", "--init-from"),
    ("train --init-from in100.npz --run-dir new", "layer sizes"),
    # eval: bad checkpoints and options
    ("eval --checkpoint nothere.npz", "no such file"),
    ("eval --checkpoint afile", "not a readable"),
    ("eval --checkpoint run", "no such file"),
    ("eval --checkpoint nan.npz", "NaN"),
    ("eval --checkpoint in100.npz", "100 inputs"),
    ("eval --checkpoint int_garbage.npz", "integer format"),
    ("eval --checkpoint int_frac.npz", "frac_bits"),
    ("eval --checkpoint int_list.npz", "'integer'"),
    ("eval --checkpoint int_key.npz", "foo"),
    ("eval --checkpoint run/best.npz --test-samples 0", "--test-samples"),
    ("eval --checkpoint run/best.npz --test-samples 100000", "only 10000"),
    ("eval --checkpoint run/best.npz --threads 0", "--threads"),
    ("eval --checkpoint run/best.npz --split valid", "--split"),
    # outputs are checked before any work
    ("bench speed --out afile/x.json", "is a file"),
    ("bench speed --out run", "is a directory"),
    ("bench scaling --out afile", "not a directory"),
    ("bench speed --samples 0", "--samples"),
    ("table3 --checkpoint run/best.npz --out afile", "not a directory"),
    ("table3 --checkpoint afile", "not a readable"),
    ("figure fig6 afile", "not a directory"),
    ("figure fig6 run --out afile/x.png", "is a file"),
    ("report afile", "no completed epoch"),
    ("report run --compare afile/x.png", "is a file"),
    ("export-nir run/best.npz afile/x.nir", "is a file"),
    ("export-nir afile x.nir", "not a readable"),
    ("import-torch nothere.pt out.npz", "no such file"),
    ("import-torch empty.pt out.npz", "not a PyTorch checkpoint"),
    ("import-torch empty.pt afile/out.npz", "is a file"),
    ("fingerprint afile", "not a readable"),
    ("fingerprint run/config.json", "not a readable"),
    ("fingerprint run/best.npz --thresholds abc", "--thresholds"),
    ("fingerprint run/best.npz --thresholds 1,inf", "--thresholds"),
    ("table3 --checkpoint run/best.npz --samples 100000000 --out t3", "samples"),
    ("train --init-from afile --run-dir new", "not a readable"),
    ("train --init-from nan.npz --run-dir new", "NaN"),
    ("train --validation -1", "validation"),
    ("train --lr-decay nan", "finite"),
    ("train --schedule bogus", "--schedule"),
    ("sweep swp --grid T=0", "'T'"),
    ("sweep swp --grid bogus=1", "bogus"),
    ("eval --checkpoint run/best.npz --data-dir afile", "afile"),
    ("sweep afile", "not a sweep directory"),
    ("sweep swp --grid lr=abc", "lr"),
    ("sweep swp --trials 0", "--trials"),
    ("data fetch nothing", "invalid choice"),
]


@pytest.mark.parametrize("line, message", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_is_one_clear_line_and_changes_nothing(
    line, message, world, mnist_dir, monkeypatch, capsys
):
    monkeypatch.chdir(world)
    monkeypatch.setenv("DESIRE_BP_DATA_DIR", str(mnist_dir.parent))
    before = _snapshot(world)
    argv = line.split(" ")
    if argv[1] == "--hidden=":  # an empty value
        argv = ["train", "--hidden", ""]
    try:
        rc = main(argv)
    except SystemExit as e:  # argparse
        rc = e.code
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if x.strip() and not x.startswith("warning:")]
    assert rc not in (0, None), err
    assert len(lines) == 1 and "error:" in lines[0], err
    assert "internal error" not in err and "Traceback" not in err, err
    assert message in lines[0], err
    assert _snapshot(world) == before


def test_eval_json_is_valid_json_and_warns_on_another_dataset(world, mnist_dir, capsys):
    ck = str(world / "run" / "best.npz")
    data = ["--data-dir", str(mnist_dir.parent)]
    assert main(["eval", "--checkpoint", ck, "--json", "--test-samples", "5", *data]) == 0
    out = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(c))
    assert None in out["per_class"]  # classes without samples: null, not NaN
    args = ["eval", "--checkpoint", ck, "--dataset", "fashion-mnist", "--test-samples", "5"]
    if main([*args, "--data-dir", str(mnist_dir.parent)]) == 0:  # if Fashion-MNIST is cached
        assert "warning: " in capsys.readouterr().err


# ----------------------------------------------------------------------------- run directories


def test_two_writers_into_one_directory(tmp_path, tiny_data):
    """While one training runs, a second one into its directory (new or resumed) is refused,
    and the first finishes with its own config and checkpoints."""
    run = tmp_path / "run"
    cfg = preset("mnist", **TINY)
    inside, release = threading.Event(), threading.Event()

    def on_epoch(m, net):
        inside.set()
        release.wait(30)

    errors = []
    first = threading.Thread(
        target=lambda: train(cfg, run, data=tiny_data, on_epoch=on_epoch, progress=False, log=None)
    )
    first.start()
    try:
        assert inside.wait(60)
        for resume in (False, True):
            try:
                other = cfg.replace(seed=9) if not resume else cfg
                train(other, run, resume=resume, data=tiny_data, progress=False, log=None)
            except RunError as e:
                errors.append(str(e))
    finally:
        release.set()
        first.join(60)
    assert len(errors) == 2 and all("in use by another training" in e for e in errors)
    assert json.loads((run / "config.json").read_text())["seed"] == cfg.seed
    assert load_checkpoint(run / "checkpoint.npz").config == cfg


def test_non_finite_weights_stop_training_keeping_the_last_good_checkpoint(tmp_path, tiny_data):
    cfg = preset("mnist", **TINY)
    good = train(cfg.replace(epochs=1), tmp_path / "good", data=tiny_data, progress=False, log=None)

    def poison(epoch, done, net):
        if epoch == 1 and done == 3:
            net.reference_weights[0][0, 0] = np.inf  # what an overflowing update does

    with pytest.raises(RunError, match=r"epoch 2: the weights became NaN.*epoch 1\) is kept"):
        train(cfg, tmp_path / "run", data=tiny_data, on_sample=poison, progress=False, log=None)
    ck = load_checkpoint(tmp_path / "run" / "checkpoint.npz")
    assert ck.meta["epoch"] == 0
    for a, b in zip(ck.weights, good[0].weights, strict=True):
        assert np.array_equal(a, b)
    # A run that diverges in its first epoch leaves nothing behind.
    with pytest.raises(RunError, match="NaN or infinite"):
        train(cfg.replace(lr=1e38), tmp_path / "new", data=tiny_data, progress=False, log=None)
    assert not (tmp_path / "new").exists()


def test_resume_never_drops_trained_epochs_nor_rewrites_config(tmp_path, tiny_data):
    cfg = preset("mnist", **TINY)
    train(cfg, tmp_path, data=tiny_data, progress=False, log=None)
    before = (tmp_path / "config.json").read_bytes()
    with pytest.raises(RunError, match="2 epochs are already trained"):
        train(cfg.replace(epochs=1), tmp_path, resume=True, data=tiny_data, log=None)
    assert (tmp_path / "config.json").read_bytes() == before


_CHILD = """
import sys, time
from pathlib import Path
from desire_bp import preset
from desire_bp.data import load_dataset
from desire_bp.training import train

run, data_dir = Path(sys.argv[1]), sys.argv[2]
data = (load_dataset("mnist", "train", data_dir).subset(60),
        load_dataset("mnist", "test", data_dir).subset(20))

def on_sample(epoch, done, net):
    if epoch == 1 and done == 25:  # mid-epoch 2: tell the parent, then wait for kill -9
        (run.parent / "mid-epoch").touch()
        time.sleep(120)

train(preset("mnist", sizes=(784, 8, 10), T=5, epochs=3, lr=1e-3, seed=1), run, data=data,
      on_sample=on_sample, progress=False, log=None)
"""


def test_kill_9_mid_epoch_then_resume_is_bit_identical(tmp_path, tiny_data, mnist_dir, capsys):
    """Another process trains in ``run``: a second writer is refused; after ``kill -9`` in the
    middle of epoch 2 the lock is gone and ``--resume`` ends bit-identical to a whole run."""
    run = tmp_path / "run"
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(_CHILD))
    child = subprocess.Popen([sys.executable, str(script), str(run), str(mnist_dir.parent)])
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "mid-epoch").exists():
            assert child.poll() is None and time.monotonic() < deadline, "child ended early"
            time.sleep(0.05)
        assert main(["train", "--resume", str(run), "--no-progress"]) == 2
        assert f"in use by another training (process {child.pid})" in capsys.readouterr().err
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert load_checkpoint(run / "checkpoint.npz").meta["epoch"] == 0
    stale = run / ".checkpoint.npz.killed.tmp"  # what a write killed half-way leaves
    stale.write_bytes(b"partial")
    cfg = preset("mnist", sizes=(784, 8, 10), T=5, epochs=3, lr=1e-3, seed=1)
    resumed, _ = train(cfg, run, resume=True, data=tiny_data, progress=False, log=None)
    full, _ = train(cfg, tmp_path / "full", data=tiny_data, progress=False, log=None)
    for a, b in zip(resumed.weights, full.weights, strict=True):
        assert np.array_equal(a, b)
    assert not stale.exists()
