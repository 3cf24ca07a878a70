"""Progress: bars only on a terminal, time left in the per-epoch line."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from desire_bp import preset
from desire_bp.progress import bar, format_duration
from desire_bp.training import _time_left, train


def test_format_duration_and_time_left() -> None:
    assert [format_duration(s) for s in (0, 9.4, 61, 245, 3725, 86400)] == [
        "0s", "9s", "1m01s", "4m05s", "1h02m", "24h00m",
    ]  # fmt: skip
    assert _time_left([], 5) == "" and _time_left([10.0], 0) == ""
    assert _time_left([10.0], 3) == ", ~30s left"
    # the first epoch (with Numba's compilation) is left out once others are timed
    assert _time_left([100.0, 10.0, 20.0], 4) == ", ~1m00s left"


def test_quiet_when_not_a_terminal(tmp_path, capsys) -> None:
    """Under pytest stderr is not a terminal: no bar, only the one-line summaries."""
    assert bar(range(3)).disable
    rng = np.random.default_rng(0)
    data = SimpleNamespace(images=rng.random((60, 16), dtype=np.float32), labels=np.arange(60) % 2)
    cfg = preset("mnist", sizes=(16, 8, 2), epochs=3, lr=1e-3)
    train(cfg, tmp_path / "run", data=(data, data), engine="reference", progress=True)
    out, err = capsys.readouterr()
    assert err == ""
    lines = out.splitlines()
    assert len(lines) == 3 and "left" in lines[0] and "left" in lines[1]
    assert "left" not in lines[2]  # nothing left after the last epoch
