"""The committed paper-reproduction runs reproduce their own figures.

The paper's Fig. 4 and 5 in ``results/figures`` are drawn from their committed full-length sweeps.
For every run directory under ``results/`` with a ``checkpoint.npz`` (the presets' runs in
``results/mnist`` and ``results/fashion-mnist``, their other seeds, the specification-schedule
runs in ``results/spec-schedule/``; complete or in progress): the final (``checkpoint.npz``) and
best (``best.npz``) checkpoints, evaluated on the whole test set with ``desire-bp eval``, give
exactly the test accuracy recorded for their epoch, in the checkpoint and in ``metrics.jsonl``;
and the best checkpoint is the epoch with the highest test (or, with a validation hold-out,
validation) accuracy of the history.  The headline runs are the presets' own configs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desire_bp import cli
from desire_bp.checkpoint import load_checkpoint
from desire_bp.training import read_metrics

RESULTS = Path(__file__).resolve().parent.parent / "results"
FIXTURES = {"mnist": "mnist_dir", "fashion-mnist": "fashion_dir"}
RUNS = [
    (d.parent.relative_to(RESULTS).as_posix(), FIXTURES[json.loads(d.read_text())["dataset"]])
    for d in sorted(RESULTS.glob("**/config.json"))
    if (d.parent / "checkpoint.npz").exists() and (d.parent / "best.npz").exists()
]


@pytest.mark.parametrize("run", ["mnist", "fashion-mnist"])
def test_headline_runs_are_the_presets(run):
    from desire_bp import preset
    from desire_bp.training import run_config

    assert run_config(RESULTS / run) == preset(run)
    assert run_config(RESULTS / "spec-schedule" / run) == preset(run, spec_schedule=True)


@pytest.mark.parametrize(
    ("run", "name", "seed"),
    [
        ("mnist-seed1", "mnist", 1),
        ("mnist-seed2", "mnist", 2),
        ("fashion-mnist-seed1", "fashion-mnist", 1),
    ],
)
def test_seed_runs_are_the_presets_with_another_seed(run, name, seed):
    """The README's mean ± std over seeds averages runs that differ in the seed only."""
    from desire_bp import preset
    from desire_bp.training import run_config

    assert run_config(RESULTS / run) == preset(name).replace(seed=seed)


@pytest.mark.parametrize(("run", "data_fixture"), RUNS)
@pytest.mark.parametrize("which", ["checkpoint.npz", "best.npz"])
def test_committed_checkpoint_reproduces_its_accuracy(run, data_fixture, which, request, capsys):
    path = RESULTS / run / which
    assert path.exists(), f"{path} is not committed"
    data_dir = request.getfixturevalue(data_fixture)
    ck = load_checkpoint(path)
    epoch, recorded = ck.meta["epoch"], ck.meta["metrics"]["test_accuracy"]

    rc = cli.main(["eval", "--checkpoint", str(path), "--data-dir", str(data_dir), "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["accuracy"] == recorded

    rows = read_metrics(RESULTS / run)
    history = ck.meta["history"]
    # the committed metrics agree with the checkpoint (a run in progress writes metrics.jsonl
    # just after its checkpoint, so locally it may be one epoch behind)
    n = min(len(rows), len(history))
    assert n >= len(history) - 1
    assert rows[:n] == history[:n]
    assert history[epoch]["test_accuracy"] == recorded
    if which == "best.npz":  # chosen on the validation set where the run has one
        key = "val_accuracy" if history[-1].get("val_accuracy") is not None else "test_accuracy"
        assert history[epoch][key] == max(r[key] for r in history)
    else:
        assert epoch == len(history) - 1


@pytest.mark.parametrize(("which", "param"), [("fig4", "N"), ("fig5", "T")])
def test_committed_paper_figures_are_drawn_from_their_full_length_sweeps(which, param, tmp_path):
    """``results/figures/fig4.csv`` and ``fig5.csv`` are what ``desire-bp figure`` draws from
    the committed sweeps, whose trials are the MNIST preset (its protocol, 150 epochs on all
    60,000 images) but for the swept parameter."""
    from desire_bp import preset
    from desire_bp.sweep.space import apply_params
    from desire_bp.training import run_config

    figures = RESULTS / "figures"
    trials = sorted((figures / f"{which}-full" / "trials").iterdir())
    assert trials
    for trial in trials:
        value = int(trial.name.split("=")[1])
        assert run_config(trial) == apply_params(preset("mnist"), {param: value}), trial
    out = tmp_path / f"{which}.png"
    cli.main(["figure", which, "--sweep-dir", str(figures / f"{which}-full"), "--out", str(out)])
    assert out.with_suffix(".csv").read_text() == (figures / f"{which}.csv").read_text()
