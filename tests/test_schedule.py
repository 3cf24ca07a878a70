"""Learning-rate schedules (Config.lr_at) and their validation."""

from __future__ import annotations

import math

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from desire_bp import preset
from desire_bp.config import ConfigError


def test_exp_is_specs_expression_bit_for_bit():
    cfg = preset("mnist", spec_schedule=True)
    for e in range(0, 600, 7):
        assert cfg.lr_at(e) == 1e-5 * math.exp(-0.04 * e)


def test_constant_hold_and_restarts():
    assert {
        preset("mnist", spec_schedule=True, schedule="constant").lr_at(e) for e in range(150)
    } == {1e-5}
    held = preset("mnist", spec_schedule=True, hold_epochs=10)
    assert [held.lr_at(e) for e in (0, 9, 10, 11)] == [
        1e-5,
        1e-5,
        1e-5,
        1e-5 * math.exp(-0.04),
    ]
    r = preset("mnist", spec_schedule=True, restart_every=30)
    assert r.lr_at(29) == 1e-5 * math.exp(-0.04 * 29)
    assert r.lr_at(30) == 1e-5 and r.lr_at(61) == r.lr_at(1)


@pytest.mark.parametrize("schedule", ["cosine", "linear"])
def test_annealing_reaches_the_floor_exactly_at_the_last_epoch(schedule):
    cfg = preset("mnist", spec_schedule=True, schedule=schedule, epochs=150, lr_floor=2e-7)
    assert cfg.lr_at(0) == 1e-5 and cfg.lr_at(149) == pytest.approx(2e-7, abs=1e-20)
    assert cfg.lr_at(148) > 2e-7
    assert cfg.schedule_depends_on_epochs
    cyc = preset("mnist", spec_schedule=True, schedule=schedule, epochs=150, restart_every=50)
    assert not cyc.schedule_depends_on_epochs
    assert cyc.lr_at(49) == pytest.approx(0.0, abs=1e-20) and cyc.lr_at(50) == 1e-5
    held = preset("mnist", spec_schedule=True, schedule=schedule, epochs=100, hold_epochs=60)
    assert held.lr_at(60) == 1e-5 and held.lr_at(99) == pytest.approx(0.0, abs=1e-20)


@example(schedule="cosine", epochs=1, hold=0, restart=2, floor_frac=0.19160717791787302)
@given(
    schedule=st.sampled_from(["exp", "constant", "cosine", "linear"]),
    epochs=st.integers(1, 400),
    hold=st.integers(0, 50),
    restart=st.integers(0, 60),
    floor_frac=st.floats(0, 1),
)
def test_rates_stay_in_range_and_never_rise_within_a_cycle(
    schedule, epochs, hold, restart, floor_frac
):
    hold = min(hold, epochs)
    cfg = preset(
        "mnist",
        spec_schedule=True,
        schedule=schedule,
        epochs=epochs,
        hold_epochs=hold,
        restart_every=restart,
        lr_floor=1e-5 * floor_frac,
    )
    low = 0.0 if schedule == "exp" else cfg.lr_floor * (1 - 1e-12)
    rates = [cfg.lr_at(e) for e in range(epochs)]
    assert all(low <= r <= cfg.lr for r in rates)
    for e in range(1, epochs):
        new_cycle = e <= hold or (restart and (e - hold) % restart == 0)
        if not new_cycle:
            assert rates[e] <= rates[e - 1]


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("schedule", "step", "schedule"),
        ("lr_floor", 2e-5, "lr_floor"),
        ("lr_floor", -1.0, "lr_floor"),
        ("lr_floor", math.nan, "lr_floor"),
        ("hold_epochs", -1, "hold_epochs"),
        ("restart_every", 2.5, "restart_every"),
        ("validation", -3, "validation"),
    ],
)
def test_bad_schedule_fields_are_named(field, value, match):
    with pytest.raises(ConfigError, match=match):
        preset("mnist", spec_schedule=True, **{field: value})


def test_configs_written_before_schedules_read_as_specs_schedule():
    d = preset("mnist", spec_schedule=True).to_dict()
    for k in ("schedule", "lr_floor", "hold_epochs", "restart_every", "validation"):
        d.pop(k)
    cfg = type(preset("mnist", spec_schedule=True)).from_dict(d)
    assert cfg == preset("mnist", spec_schedule=True) and cfg.schedule == "exp"


def test_presets_train_with_the_protocol_and_one_flag_gives_the_specs_schedule():
    from desire_bp.config import PRESETS, PROTOCOL, SPEC_PRESETS

    for name, shape in (("mnist", (150, 100)), ("fashion-mnist", (300, 200))):
        cfg = preset(name)
        assert (cfg.schedule, cfg.epochs, cfg.hold_epochs, cfg.lr_floor) == ("linear", *shape, 0)
        assert cfg == PRESETS[name] == SPEC_PRESETS[name].replace(**PROTOCOL[name])
        assert {cfg.lr_at(e) for e in range(shape[1])} == {cfg.lr}
        assert cfg.lr_at(shape[0] - 1) == 0.0 and 0 < cfg.lr_at(shape[1] + 1) < cfg.lr
        spec = preset(name, spec_schedule=True)
        assert spec.schedule == "exp" and spec.hold_epochs == 0
        assert spec.epochs == {"mnist": 150, "fashion-mnist": 600}[name]
        # everything but the schedule is the specification's
        assert cfg.replace(schedule="exp", hold_epochs=0, epochs=spec.epochs) == spec
    # epochs alone keeps the hold: a run shorter than it trains at the constant rate
    short = preset("mnist", epochs=3)
    assert [short.lr_at(e) for e in range(3)] == [1e-5] * 3


def test_cli_spec_schedule_flag():
    import argparse

    from desire_bp.cli.options import add_config_options, config_from_args

    p = argparse.ArgumentParser()
    add_config_options(p)
    assert config_from_args(p.parse_args(["--preset", "fashion-mnist"])) == preset("fashion-mnist")
    spec = config_from_args(p.parse_args(["--preset", "fashion-mnist", "--spec-schedule"]))
    assert spec == preset("fashion-mnist", spec_schedule=True)
    assert config_from_args(p.parse_args(["--spec-schedule", "--epochs", "30"])) == preset(
        "mnist", spec_schedule=True, epochs=30
    )
