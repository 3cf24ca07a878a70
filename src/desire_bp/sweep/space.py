"""Search spaces of a sweep: parameters, grid values and random-search distributions, and how a
trial's parameters become a :class:`~desire_bp.config.Config`."""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import Config

__all__ = [
    "FIGURE_SWEEPS",
    "Distribution",
    "SweepError",
    "parse_grid",
    "parse_random",
    "parse_value",
    "grid_points",
    "random_points",
    "apply_params",
    "figure_grid",
]

#: Preset sweeps of the paper's figures: parameter and its default values.
FIGURE_SWEEPS: dict[str, tuple[str, list[Any]]] = {
    "fig4": ("N", [50, 100, 200, 400, 800, 1600]),  # accuracy vs N in 784-2N-N-10
    "fig5": ("T", [5, 10, 15, 20, 25, 30]),  # accuracy vs T, N = 800
}

_DERIVED = {"N": "int", "hidden": "sizes"}
_DISTRIBUTIONS = ("uniform", "loguniform", "randint", "choice")


class SweepError(ValueError):
    """A sweep specification or sweep directory is invalid; the message says why."""


# ----------------------------------------------------------------------------- parameters


def _kind(name: str) -> str:
    """``"int"``, ``"float"``, ``"str"`` or ``"sizes"``: how a parameter's values are parsed."""
    if name in _DERIVED:
        return _DERIVED[name]
    fields = {
        f.name: f for f in dataclasses.fields(Config) if f.name not in ("integer", "init_from")
    }
    if name not in fields:
        raise SweepError(
            f"unknown sweep parameter {name!r}; choose a Config field "
            f"({', '.join(sorted(fields))}) or N / hidden"
        )
    ann = str(fields[name].type)
    if ann.startswith("tuple"):
        return "sizes"
    for k in ("int", "float", "str"):
        if ann.startswith(k):
            return k
    raise SweepError(f"parameter {name!r} cannot be swept")  # pragma: no cover


def parse_value(name: str, text: str) -> Any:
    """The value of parameter ``name`` written as ``text`` (``"none"`` -> ``None`` for ints).

    Sizes are written with dashes, e.g. ``784-100-10`` (a list of ints is returned).
    """
    kind = _kind(name)
    text = text.strip()
    try:
        if kind == "sizes":
            return [int(s) for s in text.split("-") if s]
        if kind == "int":
            if text.lower() == "none":
                return None
            v = float(text)
            if v != int(v):
                raise ValueError
            return int(v)
        if kind == "float":
            return float(text)
    except ValueError as e:
        raise SweepError(f"parameter {name!r}: cannot read {text!r} as {kind}") from e
    return text


def _split_spec(spec: str) -> tuple[str, str]:
    if "=" not in spec:
        raise SweepError(f"expected NAME=VALUES, got {spec!r}")
    name, rest = spec.split("=", 1)
    name = name.strip().replace("-", "_") if name.strip() not in _DERIVED else name.strip()
    _kind(name)
    return name, rest


def parse_grid(spec: str) -> tuple[str, list[Any]]:
    """``"lr=1e-5,2e-5"`` -> ``("lr", [1e-05, 2e-05])`` (values parsed per :func:`parse_value`)."""
    name, rest = _split_spec(spec)
    values = [parse_value(name, v) for v in rest.split(",") if v.strip()]
    if not values:
        raise SweepError(f"--grid {spec!r}: no values")
    return name, values


@dataclass(frozen=True)
class Distribution:
    """A random-search distribution of one parameter.

    ``uniform:a:b``, ``loguniform:a:b`` (``a > 0``), ``randint:a:b`` (integers ``a..b``
    inclusive) or ``choice:v1,v2,...``; values of integer parameters are rounded.
    """

    name: str
    kind: str
    args: tuple[Any, ...]

    def sample(self, rng: np.random.Generator) -> Any:
        """One value drawn from ``rng``."""
        if self.kind == "choice":
            return self.args[int(rng.integers(len(self.args)))]
        a, b = self.args
        if self.kind == "randint":
            v: Any = int(rng.integers(int(a), int(b) + 1))
        elif self.kind == "uniform":
            v = float(rng.uniform(a, b))
        else:
            v = float(math.exp(rng.uniform(math.log(a), math.log(b))))
        if _kind(self.name) == "int":
            v = int(round(v))
        return v

    def to_text(self) -> str:
        """The specification this distribution was parsed from (canonical form)."""
        if self.kind == "choice":
            return "choice:" + ",".join(_fmt(v) for v in self.args)
        return f"{self.kind}:{self.args[0]!r}:{self.args[1]!r}"


def parse_random(spec: str) -> Distribution:
    """``"lr=loguniform:1e-6:1e-4"`` -> a :class:`Distribution` (see its doc for the kinds)."""
    name, rest = _split_spec(spec)
    kind, _, args = rest.partition(":")
    if kind not in _DISTRIBUTIONS:
        raise SweepError(f"--random {spec!r}: distribution must be one of {_DISTRIBUTIONS}")
    if kind == "choice":
        values = tuple(parse_value(name, v) for v in args.split(",") if v.strip())
        if not values:
            raise SweepError(f"--random {spec!r}: no choices")
        return Distribution(name, kind, values)
    if _kind(name) not in ("int", "float"):
        raise SweepError(f"--random {spec!r}: {kind} needs a numeric parameter; use choice:")
    parts = args.split(":")
    try:
        a, b = (float(p) for p in parts)
    except ValueError as e:
        raise SweepError(f"--random {spec!r}: expected {kind}:LOW:HIGH") from e
    if not a <= b or (kind == "loguniform" and a <= 0):
        raise SweepError(f"--random {spec!r}: need LOW <= HIGH (and LOW > 0 for loguniform)")
    return Distribution(name, kind, (a, b))


def grid_points(grid: dict[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values (the first parameter varies slowest)."""
    names = list(grid)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*grid.values())]


def random_points(space: Sequence[Distribution], n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` points drawn from ``default_rng(seed)``, parameter by parameter in order."""
    rng = np.random.default_rng(seed)
    return [{d.name: d.sample(rng) for d in space} for _ in range(n)]


def figure_grid(name: str, values: Sequence[Any] | None = None) -> dict[str, list[Any]]:
    """The grid of a paper figure's sweep: ``fig4`` over ``N`` (784-2N-N-10), ``fig5`` over
    ``T`` (the base config's sizes, 784-1600-800-10 for the mnist preset, i.e. N = 800)."""
    if name not in FIGURE_SWEEPS:
        raise SweepError(f"unknown figure sweep {name!r}; choose one of {sorted(FIGURE_SWEEPS)}")
    param, default = FIGURE_SWEEPS[name]
    return {param: list(values) if values else list(default)}


def apply_params(base: Config, params: dict[str, Any]) -> Config:
    """``base`` with the trial's ``params`` applied (``N`` and ``hidden`` become ``sizes``)."""
    changes = dict(params)
    if "N" in changes:
        n = int(changes.pop("N"))
        changes["sizes"] = (base.sizes[0], 2 * n, n, base.sizes[-1])
    if "hidden" in changes:
        changes["sizes"] = (base.sizes[0], *changes.pop("hidden"), base.sizes[-1])
    if "sizes" in changes:
        changes["sizes"] = tuple(changes["sizes"])
    return base.replace(**changes)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list | tuple):
        return "-".join(str(x) for x in v)
    return str(v)
