"""Sweeps (desire_bp.sweep, ``desire-bp sweep``) and the Fig. 4 / 5 figures built on them."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from desire_bp import sweep as sw
from desire_bp.cli import main
from desire_bp.config import preset
from desire_bp.training import read_metrics, train

PNG = b"\x89PNG\r\n\x1a\n"


def tiny(**kw):
    base = dict(sizes=(784, 12, 10), epochs=2, train_samples=80, test_samples=40, lr=1e-4)
    base.update(kw)
    return preset("mnist", **base)


# ----------------------------------------------------------------------------- parsing


def test_parse_grid_and_values() -> None:
    assert sw.parse_grid("lr=1e-5,2e-5") == ("lr", [1e-5, 2e-5])
    assert sw.parse_grid("T=5,10") == ("T", [5, 10])
    assert sw.parse_grid("sizes=784-100-10,784-50-10") == ("sizes", [[784, 100, 10], [784, 50, 10]])
    assert sw.parse_grid("N=50") == ("N", [50])
    assert sw.parse_grid("hidden_error=abs,signed") == ("hidden_error", ["abs", "signed"])
    assert sw.parse_grid("train-samples=100,none") == ("train_samples", [100, None])
    for bad in ("lr", "bogus=1", "T=1.5", "lr=x", "lr="):
        with pytest.raises(sw.SweepError):
            sw.parse_grid(bad)


def test_random_search_distributions() -> None:
    space = [
        sw.parse_random("lr=loguniform:1e-6:1e-4"),
        sw.parse_random("p_hid=uniform:0.2:0.4"),
        sw.parse_random("T=randint:5:8"),
        sw.parse_random("N=loguniform:50:800"),
        sw.parse_random("hidden_error=choice:abs,signed"),
    ]
    pts = sw.random_points(space, 200, seed=3)
    assert pts == sw.random_points(space, 200, seed=3)  # reproducible
    assert pts != sw.random_points(space, 200, seed=4)
    lr = np.array([p["lr"] for p in pts])
    assert (lr >= 1e-6).all() and (lr <= 1e-4).all() and (lr < 1e-5).mean() > 0.3
    assert all(0.2 <= p["p_hid"] <= 0.4 for p in pts)
    assert {p["T"] for p in pts} == {5, 6, 7, 8}
    assert all(isinstance(p["N"], int) and 50 <= p["N"] <= 800 for p in pts)
    assert {p["hidden_error"] for p in pts} == {"abs", "signed"}
    for bad in ("lr=normal:0:1", "lr=loguniform:0:1", "lr=uniform:2:1", "dataset=uniform:0:1"):
        with pytest.raises(sw.SweepError):
            sw.parse_random(bad)


def test_apply_params_and_figure_grids() -> None:
    base = preset("mnist")
    assert sw.apply_params(base, {"N": 100}).sizes == (784, 200, 100, 10)
    assert sw.apply_params(base, {"hidden": [30]}).sizes == (784, 30, 10)
    assert sw.apply_params(base, {"sizes": [784, 5, 10], "lr": 3e-5}).lr == 3e-5
    assert sw.figure_grid("fig4") == {"N": [50, 100, 200, 400, 800, 1600]}
    assert sw.figure_grid("fig5", [5, 20]) == {"T": [5, 20]}
    with pytest.raises(sw.SweepError):
        sw.figure_grid("fig9")
    assert sw.grid_points({"a": [1, 2], "b": [3, 4]}) == [
        {"a": 1, "b": 3},
        {"a": 1, "b": 4},
        {"a": 2, "b": 3},
        {"a": 2, "b": 4},
    ]


def test_create_validates_and_detects_other_sweeps(tmp_path: Path) -> None:
    base = tiny()
    with pytest.raises(sw.SweepError, match="nothing to sweep"):
        sw.Sweep.create(tmp_path / "a", base)
    with pytest.raises(sw.SweepError, match="invalid"):  # T must exceed error_margin
        sw.Sweep.create(tmp_path / "a", base, {"T": [3, 20]})
    with pytest.raises(sw.SweepError, match="only one of"):
        sw.Sweep.create(tmp_path / "a", base, {"N": [3], "hidden": [[4]]})
    s = sw.Sweep.create(tmp_path / "b", base, {"lr": [1e-4]}, [sw.parse_random("T=randint:5:9")], 3)
    assert len(s.trials) == 3 and (tmp_path / "b" / "sweep.json").exists()
    again = sw.Sweep.create(
        tmp_path / "b", base, {"lr": [1e-4]}, [sw.parse_random("T=randint:5:9")], 3
    )
    assert again.trials == s.trials
    assert [t.params for t in sw.Sweep.load(tmp_path / "b").trials] == [t.params for t in s.trials]
    with pytest.raises(sw.SweepError, match="search space"):
        sw.Sweep.create(tmp_path / "b", base, {"lr": [2e-4]})
    rnd = [sw.parse_random("T=randint:5:9")]
    with pytest.raises(sw.SweepError, match="base config: lr_decay 0.04 -> 0.1"):
        sw.Sweep.create(tmp_path / "b", base.replace(lr_decay=0.1), {"lr": [1e-4]}, rnd, 3)
    more = sw.Sweep.create(tmp_path / "b", base.replace(epochs=3), {"lr": [1e-4]}, rnd, 3)
    assert more.base.epochs == 3 and sw.Sweep.load(tmp_path / "b").base.epochs == 3
    assert more.trials == s.trials
    with pytest.raises(sw.SweepError, match="cannot lower"):
        more.raise_epochs(1)
    with pytest.raises(sw.SweepError, match="not a sweep directory"):
        sw.Sweep.load(tmp_path / "c")


# ----------------------------------------------------------------------------- running


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_local_sweep_results_and_resume(tmp_path: Path, mnist_dir: Path, monkeypatch) -> None:
    monkeypatch.setattr(sw.ray_backend, "ray_available", lambda: False)
    base = tiny()
    d = tmp_path / "sweep"
    s = sw.Sweep.create(d, base, {"lr": [1e-4, 3e-4], "p_hid": [0.0]})
    # Interrupted state: trial 0 finished, trial 1 stopped after its first epoch.
    t0, t1 = s.trials
    train(sw.apply_params(base, t0.params), s.trial_dir(t0), progress=False, log=None)
    cfg1 = sw.apply_params(base, t1.params)
    train(cfg1.replace(epochs=1), s.trial_dir(t1), progress=False, log=None)
    assert [r["status"] for r in s.results()] == ["done", "partial"]
    assert s.pending() == [t1]
    before = (s.trial_dir(t0) / "metrics.jsonl").read_text()
    msgs: list[str] = []
    rows = s.run("auto", log=msgs.append)
    assert any("ray is not installed" in m for m in msgs)
    assert (s.trial_dir(t0) / "metrics.jsonl").read_text() == before  # skipped
    assert [r["status"] for r in rows] == ["done", "done"]
    # The resumed trial equals an uninterrupted run of the same config.
    _, ref = train(cfg1, None, progress=False, log=None)
    got = read_metrics(s.trial_dir(t1))
    assert [r["test_accuracy"] for r in got] == [r["test_accuracy"] for r in ref]
    # The results table: one row per trial, parameters and accuracies.
    table = _csv(d / "results.csv")
    assert [r["trial"] for r in table] == [t0.id, t1.id]
    assert list(table[0])[:4] == ["trial", "lr", "p_hid", "status"]
    for r, row in zip(table, rows, strict=True):
        assert float(r["best_test_accuracy"]) == row["best_test_accuracy"]
        assert int(r["best_epoch"]) == row["best_epoch"] and float(r["seconds"]) > 0
        assert 0 <= float(r["final_test_accuracy"]) <= 100
    best = json.loads((d / "best.json").read_text())
    assert best["best_test_accuracy"] == max(r["best_test_accuracy"] for r in rows)
    assert best["config"]["lr"] == best["params"]["lr"]
    assert Path(best["checkpoint"]).exists()


def test_validation_sweeps_are_scored_on_validation(
    tmp_path: Path, mnist_dir: Path, capsys
) -> None:
    """With a hold-out, the best epoch of a trial and the best trial are chosen on the
    validation accuracy; the test accuracy is only reported (never used to choose)."""
    d = tmp_path / "sweep"
    opts = ["--sizes", "784,12,10", "--epochs", "2", "--train-samples", "80"]
    opts += ["--test-samples", "40", "--lr", "1e-4", "--validation", "30"]
    assert main(["sweep", str(d), "--grid", "lr=1e-4,3e-4", *opts, "--executor", "local"]) == 0
    out = capsys.readouterr().out
    assert "best validation accuracy" in out
    s = sw.Sweep.load(d)
    table = _csv(d / "results.csv")
    for t, r in zip(s.trials, table, strict=True):
        rows = read_metrics(s.trial_dir(t))
        by_val = max(rows, key=lambda m: m["val_accuracy"])
        assert r["selected_by"] == "validation"
        assert int(r["best_epoch"]) == by_val["epoch"] + 1
        assert float(r["best_val_accuracy"]) == by_val["val_accuracy"]
        assert float(r["best_test_accuracy"]) == by_val["test_accuracy"]
    # Rewrite the trials' histories so that test and validation disagree on the best trial
    # (trial 0: the better test accuracy, trial 1: the better validation accuracy).
    for t, (val, test) in zip(s.trials, [(50.0, 90.0), (60.0, 10.0)], strict=True):
        path = s.trial_dir(t) / "metrics.jsonl"
        rows = read_metrics(s.trial_dir(t))
        for m in rows:
            m.update(val_accuracy=val - 5 * (m["epoch"] == 0), test_accuracy=test)
        path.write_text("".join(json.dumps(m) + "\n" for m in rows))
    s.write_results()
    best = json.loads((d / "best.json").read_text())
    assert best["trial"] == s.trials[1].id and best["best_val_accuracy"] == 60.0
    assert best["best_test_accuracy"] == 10.0 and best["best_epoch"] == 2
    main(["sweep", str(d), "--list"])
    assert "(validation 60.00%)" in capsys.readouterr().out


def test_reuse_adopts_an_identical_run_instead_of_training_it(
    tmp_path: Path, mnist_dir: Path, capsys
) -> None:
    opts = ["--epochs", "1", "--train-samples", "60", "--test-samples", "40", "--lr", "1e-4"]
    run = tmp_path / "run"
    assert main(["train", "--hidden", "16,8", "--run-dir", str(run), "--no-progress", *opts]) == 0
    capsys.readouterr()
    d = tmp_path / "fig4"
    args = ["sweep", str(d), "--figure", "fig4", "--values", "4,8", *opts]
    assert main([*args, "--executor", "local", "--reuse", str(run)]) == 0
    out = capsys.readouterr().out
    assert "reusing the run" in out and "1 finished, 1 to run" in out
    trials = _csv(d / "results.csv")
    adopted = Path(trials[1]["run_dir"])
    for name in ("config.json", "metrics.jsonl", "checkpoint.npz", "best.npz"):
        assert (adopted / name).read_bytes() == (run / name).read_bytes()
    # a run no trial matches, or a trial that already has a run, is refused and changes nothing
    other = tmp_path / "other"
    assert (
        main(
            [
                "train",
                "--hidden",
                "16,8",
                "--run-dir",
                str(other),
                "--seed",
                "3",
                "--no-progress",
                *opts,
            ]
        )
        == 0
    )
    capsys.readouterr()
    before = sorted(p.name for p in (d / "trials").iterdir())
    assert main(["sweep", str(d), "--reuse", str(other)]) == 2
    assert "differs in seed" in capsys.readouterr().err
    assert main(["sweep", str(d), "--reuse", str(run)]) == 2
    assert "already has" in capsys.readouterr().err
    assert main(["sweep", str(d), "--reuse", str(tmp_path / "nothere")]) == 2
    assert sorted(p.name for p in (d / "trials").iterdir()) == before


def test_cli_sweep_fig4_fig5(tmp_path: Path, mnist_dir: Path, capsys) -> None:
    opts = ["--epochs", "1", "--train-samples", "60", "--test-samples", "40"]
    opts += ["--executor", "local", "--lr", "1e-4"]
    d4 = tmp_path / "fig4"
    assert main(["sweep", str(d4), "--figure", "fig4", "--values", "4,8", *opts]) == 0
    out = capsys.readouterr().out
    assert "2/2 trials finished" in out and "best:" in out
    assert main(["sweep", str(d4)]) == 0  # resume: nothing left to do
    assert "2 finished, 0 to run" in capsys.readouterr().out
    assert main(["sweep", str(d4), "--list"]) == 0
    assert capsys.readouterr().out.count("done") == 2
    assert main(["sweep", str(d4), "--epochs", "2"]) == 0  # continue every trial to 2 epochs
    assert "0 finished, 2 to run" in capsys.readouterr().out
    assert all(r["epochs_done"] == 2 for r in sw.Sweep.load(d4).results())
    assert main(["sweep", str(d4), "--epochs", "1"]) == 2
    assert main(["figure", "fig4", "--sweep-dir", str(d4)]) == 0
    assert (d4 / "fig4.png").read_bytes()[:8] == PNG
    table = _csv(d4 / "fig4.csv")
    assert [r["N"] for r in table] == ["4", "8"] and all(r["trials"] == "1" for r in table)
    trials = _csv(d4 / "results.csv")
    sizes = [json.loads((Path(r["run_dir"]) / "config.json").read_text())["sizes"] for r in trials]
    assert sizes == [[784, 8, 4, 10], [784, 16, 8, 10]]
    # another rule's sweep drawn beside it: one CSV with both, the legend says what differs
    bt = tmp_path / "fig4-bt"
    rule = ["--potentiation", "below-target"]
    assert main(["sweep", str(bt), "--figure", "fig4", "--values", "4", *rule, *opts]) == 0
    both = tmp_path / "both.png"
    args4 = ["figure", "fig4", "--sweep-dir", str(d4), "--out", str(both)]
    assert main([*args4, "--compare", str(bt)]) == 0
    assert both.read_bytes()[:8] == PNG
    rows4 = _csv(both.with_suffix(".csv"))
    assert [(r["sweep"], r["N"]) for r in rows4] == [(str(d4), "4"), (str(d4), "8"), (str(bt), "4")]
    assert rows4[0]["best_mean_test_accuracy"] == table[0]["best_mean_test_accuracy"]
    from desire_bp.figures import _sweep_label

    cfg4, cfg_bt = (sw.Sweep.load(x).results()[0]["config"] for x in (d4, bt))
    assert _sweep_label("fig4", bt, cfg_bt, cfg4) == "fig4-bt (potentiation=below-target, epochs=1)"
    assert main(["figure", "fig6", str(d4), "--compare", str(bt)]) == 2
    assert "fig4 and fig5, not fig6" in capsys.readouterr().err
    d5 = tmp_path / "fig5"
    args = ["sweep", str(d5), "--figure", "fig5", "--values", "5,8", "--grid", "seed=0,1"]
    assert main([*args, "--hidden", "8,4", *opts]) == 0
    out5 = tmp_path / "f5" / "acc.png"
    assert main(["figure", "fig5", str(d5), "--out", str(out5)]) == 0
    assert out5.read_bytes()[:8] == PNG
    rows = _csv(out5.with_suffix(".csv"))
    assert [r["T"] for r in rows] == ["5", "8"] and all(r["trials"] == "2" for r in rows)
    assert all(0 <= float(r["best_mean_test_accuracy"]) <= 100 for r in rows)
    # Usage errors exit with status 2.
    assert main(["sweep", str(tmp_path / "none")]) == 2
    assert main(["sweep", str(d4), "--grid", "lr=1e-3", *opts]) == 2
    assert main(["sweep", str(tmp_path / "x"), "--values", "1,2"]) == 2
    assert main(["sweep", str(tmp_path / "x"), "--grid", "lr=1", "--trials", "3"]) == 2


def test_figures_refuse_sweeps_over_other_parameters(tmp_path: Path, capsys) -> None:
    """fig4 needs a sweep over N, fig5 over T (seed may vary too); anything else is refused
    with a message before a trial is read."""
    from desire_bp.figures import FigureError, draw_figure

    lr = sw.Sweep.create(tmp_path / "lr", tiny(), {"lr": [1e-4, 2e-4]}).dir
    with pytest.raises(FigureError, match=r"hidden size N .* sweeps lr: .* sweep over N"):
        draw_figure("fig4", lr)
    assert main(["figure", "fig5", "--sweep-dir", str(lr)]) == 2
    assert "against the time steps T" in capsys.readouterr().err
    n_lr = sw.Sweep.create(tmp_path / "n_lr", tiny(), {"N": [4, 8], "lr": [1e-4, 2e-4]}).dir
    with pytest.raises(FigureError, match="besides N, lr, whose trials would be averaged"):
        draw_figure("fig4", n_lr)
    with pytest.raises(FigureError, match="sweeps N, lr"):
        draw_figure("fig5", n_lr)
    n_seed = sw.Sweep.create(tmp_path / "n_seed", tiny(), {"N": [4], "seed": [0, 1]}).dir
    with pytest.raises(FigureError, match=r"no trial .* has finished yet \(2 unfinished"):
        draw_figure("fig4", n_seed)  # accepted: a sweep over N and the seed


def test_figures_draw_finished_trials_only(tmp_path: Path, mnist_dir: Path) -> None:
    """A trial still training has no final accuracy: the figure and its CSV leave it out,
    and the title counts it."""
    from desire_bp.figures import draw_figure

    s = sw.Sweep.create(tmp_path / "s", tiny(epochs=2), {"N": [4, 8]})
    t4, t8 = s.trials
    train(sw.apply_params(s.base, t4.params), s.trial_dir(t4), progress=False, log=None)
    cfg8 = sw.apply_params(s.base, t8.params).replace(epochs=1)
    train(cfg8, s.trial_dir(t8), progress=False, log=None)  # 1 of its 2 epochs
    assert [r["status"] for r in s.results()] == ["done", "partial"]
    draw_figure("fig4", s.dir)
    rows = _csv(s.dir / "fig4.csv")
    assert [r["N"] for r in rows] == ["4"]
    assert float(rows[0]["final_mean_test_accuracy"]) == s.results()[0]["final_test_accuracy"]


def test_a_trial_another_process_trains_is_left_to_it(
    tmp_path: Path, mnist_dir: Path, monkeypatch
) -> None:
    """Two sweep processes on one directory share its trials: the one that finds a trial's run
    directory locked goes on to the next trial instead of failing, and says so."""
    import fcntl
    import os
    import pickle

    from desire_bp.training import LOCK_FILE, RunInUse

    monkeypatch.setattr(sw.ray_backend, "ray_available", lambda: False)
    s = sw.Sweep.create(tmp_path / "sweep", tiny(epochs=1), {"lr": [1e-4, 3e-4]})
    t0, t1 = s.trials
    held = s.trial_dir(t0)
    held.mkdir(parents=True)
    fd = os.open(held / LOCK_FILE, os.O_RDWR | os.O_CREAT)  # what a training process holds
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.pwrite(fd, b"4242\n", 0)
        msgs: list[str] = []
        rows = s.run("local", log=msgs.append)
    finally:
        os.close(fd)
    assert [r["status"] for r in rows] == ["pending", "done"]
    assert f"trial {t0.id} is being trained by another process (4242): left to it" in msgs
    assert any(f"1 trial(s) left to other processes ({t0.id})" in m for m in msgs)
    assert sorted(p.name for p in held.iterdir()) == [LOCK_FILE]  # nothing written there
    assert [r["status"] for r in s.run("local", log=None)] == ["done", "done"]
    # The error crosses a process pool (the workers' path) with its process id.
    e = pickle.loads(pickle.dumps(RunInUse("in use", "17")))
    assert isinstance(e, RunInUse) and str(e) == "in use" and e.pid == "17"


def test_summary_of_missing_trial(tmp_path: Path) -> None:
    s = sw.Sweep.create(tmp_path, tiny(), {"lr": [1e-4]})
    (row,) = s.results()
    assert row["status"] == "pending" and row["epochs_done"] == 0
    assert math.isnan(row["best_test_accuracy"])
    csv_path, best = s.write_results()
    assert best is None and _csv(csv_path)[0]["best_test_accuracy"] == ""


@pytest.mark.slow
@pytest.mark.skipif(not sw.ray_available(), reason="ray[tune] not installed")
def test_ray_cluster_sweep(tmp_path: Path, mnist_dir: Path) -> None:
    """A sweep on a local Ray cluster started here, reached through ``--address``, with ASHA:
    Tune's own search space, one line per trial with its parameters, nothing boxed, no ANSI
    codes and no traceback in a pipe; the trials ASHA let finish equal the local executor's."""
    import subprocess
    import sys

    import ray

    # a one-node cluster of this machine's own processes (Ray binds it to this machine's own
    # interface address, never to another host)
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    try:
        address = ray.get_runtime_context().gcs_address
        opts = ["--hidden", "12", "--epochs", "2", "--train-samples", "80", "--test-samples", "40"]
        opts += ["--grid", "lr=1e-4,3e-4", "--data-dir", str(mnist_dir)]
        cmd = [sys.executable, "-m", "desire_bp.cli", "sweep", str(tmp_path / "ray"), *opts]
        res = subprocess.run(
            [*cmd, "--executor", "ray", "--address", address, "--asha", "--max-concurrent", "2"],
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        ray.shutdown()
    assert res.returncode == 0, res.stdout + res.stderr
    text = res.stdout + res.stderr
    assert "\x1b[" not in text and "╭" not in text and "+---" not in text
    assert "Traceback" not in text and "SystemExit" not in text
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("trial ")]
    assert len(lines) == 2 and all("(lr=0.0001)" in ln or "(lr=0.0003)" in ln for ln in lines)
    assert f"Ray Tune on the Ray cluster at {address}" in res.stdout and "ASHA" in res.stdout
    base = sw.Sweep.load(tmp_path / "ray").base
    local_rows = sw.Sweep.create(tmp_path / "local", base, {"lr": [1e-4, 3e-4]}).run(log=None)
    ray_rows = sw.Sweep.load(tmp_path / "ray").results()
    assert "done" in [r["status"] for r in ray_rows]  # ASHA may stop the other after epoch 1
    for a, b in zip(ray_rows, local_rows, strict=True):
        assert a["status"] in ("done", "stopped")
        if a["status"] == "stopped":
            assert a["epochs_done"] == 1 and (Path(a["run_dir"]) / "stopped.json").exists()
            continue
        assert a["best_test_accuracy"] == b["best_test_accuracy"]
        assert a["final_test_accuracy"] == b["final_test_accuracy"]


def test_tune_space_is_the_sweeps_search() -> None:
    pytest.importorskip("ray.tune")
    from ray import tune

    search = {
        "grid": {"lr": [1e-4, 2e-4]},
        "random": {"p_hid": "uniform:0.0:0.5", "T": "randint:5:10", "hidden": "choice:8,16"},
    }
    space = sw.ray_backend.tune_space(search)
    assert space["lr"] == tune.grid_search([1e-4, 2e-4])
    assert (space["p_hid"].lower, space["p_hid"].upper) == (0.0, 0.5)
    assert (space["T"].lower, space["T"].upper) == (5, 11)  # Tune's upper bound is excluded
    assert space["hidden"].categories == [[8], [16]]
