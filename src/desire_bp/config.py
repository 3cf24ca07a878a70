"""Hyper-parameters and presets (``docs/spec.md``, "Hyper-parameters and presets").

A :class:`Config` holds everything that defines a training run: the network's layer sizes, every
hyper-parameter of the specification's table, and the training-loop settings (data set,
epochs, seed, subset sizes).  It is immutable, validated on construction, and round-trips
through plain dictionaries (JSON) so that a run directory fully describes its run.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Config",
    "ConfigError",
    "IntSpec",
    "InitFrom",
    "PRESETS",
    "PROTOCOL",
    "SCHEDULE_FIELDS",
    "SPEC_PRESETS",
    "preset",
    "ARITHMETICS",
    "DATASETS",
    "SPLITS",
    "ENGINES",
    "HIDDEN_ERRORS",
    "LEAKS",
    "POTENTIATIONS",
    "ROUNDINGS",
    "SCHEDULES",
]

#: Hidden-layer error forms: ``"abs"`` is the specification's default (absolute error,
#: margin-scaled rate);
#: ``"signed"`` is the paper's Eq. 14 (``target - n/T``, target 1 meaning ``T`` spikes).
HIDDEN_ERRORS = ("abs", "signed")

#: Leak rules of the LIF layers: ``"always"`` is the specification's (leak first at every step);
#: ``"skip-after-spike"`` leaks only neurons that did not fire at the previous step, as some
#: versions of the authors' PyTorch code do (decay applied after reset, only where no spike).
LEAKS = ("always", "skip-after-spike")

#: Which neurons desired to fire more are potentiated: ``"always"`` is the specification's
#: (every one that spiked); ``"below-target"`` is an extension that leaves out a neuron that
#: already fired at least ``T - error_margin`` times, its target (see
#: :attr:`Config.potentiation_cap`).
POTENTIATIONS = ("always", "below-target")

#: Learning-rate schedules (see :meth:`Config.lr_at`): ``"exp"`` is the specification's
#: exponential decay,
#: ``"constant"`` keeps ``lr``, ``"cosine"`` and ``"linear"`` anneal from ``lr`` to ``lr_floor``,
#: reached exactly at the last epoch of the run (or of each restart cycle).
SCHEDULES = ("exp", "constant", "cosine", "linear")


#: The data sets (``Config.dataset``) and their splits.
DATASETS = ("mnist", "fashion-mnist")
SPLITS = ("train", "test")

#: The engines of both arithmetics: the fast Numba kernels and the readable reference.
ENGINES = ("fast", "reference")

#: Arithmetics of training: float32 (the specification's) or the integer, multiplication-free
#: mode (``Config.integer`` set; ``docs/integer.md``).
ARITHMETICS = ("float", "int")

#: Rounding of the integer weight update (:attr:`IntSpec.rounding`).
ROUNDINGS = ("nearest", "stochastic")


class ConfigError(ValueError):
    """A hyper-parameter or configuration value is invalid; the message names it."""


#: Largest finite float32; the engines compute in float32, so every real-valued
#: hyper-parameter must be representable there (``lr = 1e40`` would be infinity).
F32_MAX = 3.4028234663852886e38

#: The real-valued fields of a :class:`Config` (validated as float32 values).
FLOAT_FIELDS = (
    "theta_p",
    "mempot_decay",
    "theta_hid",
    "theta_out",
    "lr",
    "lr_decay",
    "lr_floor",
    "p_in",
    "p_hid",
    "w_bound",
)


def _float32_ok(v: Any) -> bool:
    """A real number that float32 holds without overflowing to infinity."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        return False
    return math.isfinite(v) and abs(v) <= F32_MAX


def _ints(name: str, values: Any) -> tuple[int, ...]:
    """Integer-valued entries (``3`` or ``3.0``; not ``True``, ``"3"`` or ``3.5``)."""
    for v in values:
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or int(v) != v:
            raise ConfigError(f"{name} = {values!r}: {v!r} is not an integer")
    return tuple(int(v) for v in values)


@dataclass(frozen=True)
class IntSpec:
    """Widths and fixed-point formats of the integer mode (``docs/integer.md``).

    Attributes:
        weight_bits: weight width in bits (two's complement), 2..32; 16 by default.
        frac_bits: fraction bits ``f_l`` per LIF layer (``W = W_int * 2**-f_l``); ``None``:
            chosen from the weights by :func:`desire_bp.integer.choose_frac_bits` when the
            network is built.
        headroom: ``choose_frac_bits`` keeps ``headroom * max|W_l|`` representable.
        trace_frac: fraction bits of the pre-synaptic traces (``r_int = r * 2**trace_frac``).
        lr_terms: power-of-two terms of the learning rate (1: a plain right shift).
        rounding: of the weight update, ``"stochastic"`` (default: add a pseudo-random
            ``rho`` in ``[0, 2**sh)`` before the shift; xorshift32 seeded per sample and layer
            from the sample's bytes, label and masks -- deterministic and unbiased) or
            ``"nearest"`` (half up; updates below half a weight step are lost).
    """

    weight_bits: int = 16
    frac_bits: tuple[int, ...] | None = None
    headroom: float = 2.0
    trace_frac: int = 10
    lr_terms: int = 2
    rounding: str = "stochastic"

    def __post_init__(self) -> None:
        try:
            self._validate()
        except ConfigError:
            raise
        except (TypeError, ValueError, OverflowError) as e:  # a value of the wrong type
            raise ConfigError(f"invalid integer format: {e}") from e

    def _validate(self) -> None:
        if not 2 <= int(self.weight_bits) <= 32:
            raise ConfigError(f"weight_bits = {self.weight_bits}: must be in 2..32")
        if not 0 <= int(self.trace_frac) <= 20:
            raise ConfigError(f"trace_frac = {self.trace_frac}: must be in 0..20")
        if not 1 <= int(self.lr_terms) <= 4:
            raise ConfigError(f"lr_terms = {self.lr_terms}: must be in 1..4")
        if not self.headroom >= 1:
            raise ConfigError(f"headroom = {self.headroom}: must be >= 1")
        if self.rounding not in ROUNDINGS:
            raise ConfigError(f"rounding = {self.rounding!r}: must be one of {ROUNDINGS}")
        if self.frac_bits is not None:
            object.__setattr__(self, "frac_bits", _ints("frac_bits", self.frac_bits))
            if any(not -64 <= f <= 64 for f in self.frac_bits):
                raise ConfigError(f"frac_bits = {self.frac_bits}: each must be in -64..64")

    def replace(self, **changes: Any) -> IntSpec:
        """A copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (``Config.integer`` in ``config.json``)."""
        d = dataclasses.asdict(self)
        d["frac_bits"] = None if self.frac_bits is None else list(self.frac_bits)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> IntSpec:
        """Inverse of :meth:`to_dict`."""
        if not isinstance(d, dict):
            raise ConfigError(f"an integer format must be an object, not {type(d).__name__}")
        d = dict(d)
        d.setdefault("rounding", "nearest")  # formats written before the option existed
        return cls(**d)


@dataclass(frozen=True)
class InitFrom:
    """Where the initial weights of a run started from a checkpoint came from
    (``desire-bp train --init-from``).

    Attributes:
        path: the checkpoint file as given.
        epoch: its 0-based epoch index in its own run (``None``: not recorded).
        sha256: SHA-256 of the file.
    """

    path: str
    epoch: int | None = None
    sha256: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (``Config.init_from`` in ``config.json``)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> InitFrom:
        """Inverse of :meth:`to_dict`."""
        return cls(**d)


@dataclass(frozen=True)
class Config:
    """Complete description of a network and its training run.

    Attributes:
        sizes: neurons per layer, input first, e.g. ``(784, 1600, 800, 10)``; at least two
            entries (input and output).
        T: time steps per sample.
        theta_p: firing threshold of every neuron (membrane-potential units).
        mempot_decay: leak exponent; ``beta = 1 - 2**-mempot_decay`` (2 -> 0.75).
        theta_hid: ternarization threshold of hidden-layer desire.
        theta_out: ternarization threshold of output-layer desire.
        error_margin: the spike-count target is ``T - error_margin``.
        lr: learning rate at epoch 0.
        lr_decay: decay rate of the ``"exp"`` schedule,
            ``lr(epoch) = lr * exp(-lr_decay * epoch)``, epoch counted from 0.
        schedule: learning-rate schedule, one of :data:`SCHEDULES` (default ``"exp"``,
            the specification's).
        lr_floor: learning rate of the last epoch of a ``"cosine"`` or ``"linear"`` annealing
            (0 <= lr_floor <= lr).
        hold_epochs: epochs at the constant rate ``lr`` before the schedule starts (its epoch
            0 is then epoch ``hold_epochs`` of the run).
        restart_every: restart the schedule every this many epochs (after the hold), as chained
            invocations of the authors' script do; 0: never.  With ``"cosine"``/``"linear"``
            each cycle anneals down to ``lr_floor`` at its last epoch.
        p_in: dropout probability of the input layer.
        p_hid: dropout probability of every hidden layer (never the output layer).
        hidden_error: ``"abs"`` (the specification's default) or ``"signed"`` (paper Eq. 14).
        leak: ``"always"`` (the specification's default) or ``"skip-after-spike"`` (see
            :data:`LEAKS`).
        w_bound: an extension of the rule, off by default (``0``): after every update, the
            weights of the updated neurons are clipped to ``[-w_bound, w_bound]`` (weight
            units), which stops "runaway" neurons (``docs/training.md``). Float32 only.
        potentiation: ``"always"`` (the specification's default) or ``"below-target"``, an
            extension of the rule: a neuron with desire +1 that fired at least
            ``T - error_margin`` times in the sample (rate 1, the target its desire asks
            for) is not updated, where the specification potentiates it again.  Desire -1
            and the output layer are unaffected in effect (an output neuron desired +1 fires
            less than ``(1 - theta_out) (T - error_margin)`` times).
        dataset: ``"mnist"`` or ``"fashion-mnist"``.
        epochs: number of training epochs.
        seed: seed of weight initialisation, shuffling and dropout masks.
        train_samples: use only the first N training samples (``None``: all).
        test_samples: evaluate only the first N test samples (``None``: all).
        validation: hold out the last N training images as a validation set (0: none); the
            model is trained on the rest, and the best checkpoint is chosen on the validation
            set instead of the test set.
        integer: the integer format of a run in integer arithmetic (``None``: float32).
        init_from: where the initial weights came from (``None``: seeded initialisation).
    """

    sizes: tuple[int, ...] = (784, 1600, 800, 10)
    T: int = 20
    theta_p: float = 1.0
    mempot_decay: float = 2.0
    theta_hid: float = 0.05
    theta_out: float = 0.30
    error_margin: int = 4
    lr: float = 1e-5
    lr_decay: float = 0.04
    schedule: str = "exp"
    lr_floor: float = 0.0
    hold_epochs: int = 0
    restart_every: int = 0
    p_in: float = 0.0
    p_hid: float = 0.3
    hidden_error: str = "abs"
    leak: str = "always"
    w_bound: float = 0.0
    potentiation: str = "always"
    dataset: str = "mnist"
    epochs: int = 150
    seed: int = 0
    train_samples: int | None = None
    test_samples: int | None = None
    validation: int = 0
    integer: IntSpec | None = None
    init_from: InitFrom | None = None

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "sizes", _ints("config field 'sizes'", self.sizes))
            if isinstance(self.integer, dict):
                object.__setattr__(self, "integer", IntSpec.from_dict(self.integer))
            if isinstance(self.init_from, dict):
                object.__setattr__(self, "init_from", InitFrom.from_dict(self.init_from))
            self.validate()
        except ConfigError:
            raise
        except (TypeError, ValueError, OverflowError) as e:  # a value of the wrong type
            raise ConfigError(f"invalid config value: {e}") from e

    # ------------------------------------------------------------------ derived values
    @property
    def beta(self) -> float:
        """Leak factor of membrane potentials and traces, ``1 - 2**-mempot_decay``."""
        return 1.0 - 2.0 ** (-self.mempot_decay)

    @property
    def arithmetic(self) -> str:
        """``"int"`` when :attr:`integer` is set, else ``"float"``."""
        return "float" if self.integer is None else "int"

    @property
    def potentiation_cap(self) -> int:
        """Spike count from which a neuron desired +1 is not potentiated: ``T - error_margin``
        under ``potentiation="below-target"``, ``0`` (no cap) under ``"always"``."""
        return self.T - self.error_margin if self.potentiation == "below-target" else 0

    @property
    def n_layers(self) -> int:
        """Number of LIF (weight) layers, ``len(sizes) - 1``."""
        return len(self.sizes) - 1

    def lr_at(self, epoch: int) -> float:
        """Learning rate of ``epoch`` (counted from 0) under :attr:`schedule`.

        The first ``hold_epochs`` epochs use ``lr``.  After them the schedule runs on its own
        epoch counter ``k`` (0 at the first epoch after the hold), which restarts at 0 every
        ``restart_every`` epochs when that is > 0.  With ``L`` the length of a cycle
        (``restart_every``, or the epochs left after the hold):

        - ``"exp"``: ``lr * exp(-lr_decay * k)`` (the specification's: no hold, no restart);
        - ``"constant"``: ``lr``;
        - ``"cosine"``: ``lr_floor + (lr - lr_floor) * (1 + cos(pi * k / (L - 1))) / 2``;
        - ``"linear"``: ``lr_floor + (lr - lr_floor) * (1 - k / (L - 1))``.

        So cosine and linear reach ``lr_floor`` exactly at the last epoch of each cycle (a
        one-epoch cycle uses ``lr``).  Without restarts they depend on :attr:`epochs`.
        """
        if self.schedule == "exp" and self.hold_epochs == 0 and self.restart_every == 0:
            return self.lr * math.exp(
                -self.lr_decay * epoch
            )  # docs/spec.md's expression, bit for bit
        if self.schedule == "constant" or epoch < self.hold_epochs:
            return self.lr
        k = epoch - self.hold_epochs
        if self.restart_every > 0:
            cycle, k = self.restart_every, k % self.restart_every
        else:
            cycle = self.epochs - self.hold_epochs
        if self.schedule == "exp":
            return self.lr * math.exp(-self.lr_decay * k)
        if cycle <= 1:
            return self.lr
        frac = min(k, cycle - 1) / (cycle - 1)
        if self.schedule == "cosine":
            shape = 0.5 * (1.0 + math.cos(math.pi * frac))
        else:
            shape = 1.0 - frac
        # clamped: lr_floor + (lr - lr_floor) * 1.0 can round one ulp above lr
        return min(self.lr, self.lr_floor + (self.lr - self.lr_floor) * shape)

    @property
    def schedule_depends_on_epochs(self) -> bool:
        """True when :meth:`lr_at` of some epoch changes with :attr:`epochs` (cosine or linear
        annealing over the whole run): such a run's length can change on resume only while no
        annealed epoch has been trained (:func:`desire_bp.training.train` checks the rates)."""
        return self.schedule in ("cosine", "linear") and self.restart_every == 0

    def dropout(self, layer: int) -> float:
        """Dropout probability of layer ``layer`` (0 = input, ``len(sizes)-1`` = output)."""
        if layer == 0:
            return self.p_in
        if layer == len(self.sizes) - 1:
            return 0.0
        return self.p_hid

    # ------------------------------------------------------------------ validation / io
    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first invalid field."""

        def bad(name: str, why: str) -> None:
            raise ConfigError(f"config field {name!r} = {getattr(self, name)!r}: {why}")

        if len(self.sizes) < 2 or any(s < 1 for s in self.sizes):
            bad("sizes", "need at least an input and an output layer, each >= 1 neuron")
        if self.sizes[-1] < 2:
            bad("sizes", "the output layer needs at least 2 neurons (one per class)")
        if int(self.T) != self.T or self.T < 1:
            bad("T", "must be a positive integer")
        for name in FLOAT_FIELDS:
            if not _float32_ok(getattr(self, name)):
                bad(name, f"must be a number representable in float32 (|x| <= {F32_MAX:.4g})")
        if not self.theta_p > 0:
            bad("theta_p", "must be > 0")
        if not self.mempot_decay > 0:
            bad("mempot_decay", "must be > 0 (beta = 1 - 2**-mempot_decay in (0, 1))")
        for name in ("theta_hid", "theta_out", "lr", "lr_decay"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and v >= 0):
                bad(name, "must be a finite number >= 0")
        if int(self.error_margin) != self.error_margin or not 0 <= self.error_margin < self.T:
            bad("error_margin", f"must be an integer in [0, T) with T = {self.T}")
        for name in ("p_in", "p_hid"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and 0 <= v < 1):
                bad(name, "dropout probability must be in [0, 1)")
        if self.schedule not in SCHEDULES:
            bad("schedule", f"must be one of {SCHEDULES}")
        if not (
            isinstance(self.lr_floor, int | float)
            and math.isfinite(self.lr_floor)
            and 0 <= self.lr_floor <= self.lr
        ):
            bad("lr_floor", f"must be a finite number in [0, lr] with lr = {self.lr}")
        for name in ("hold_epochs", "restart_every", "validation"):
            v = getattr(self, name)
            if isinstance(v, bool) or int(v) != v or v < 0:
                bad(name, "must be an integer >= 0")
        if self.hidden_error not in HIDDEN_ERRORS:
            bad("hidden_error", f"must be one of {HIDDEN_ERRORS}")
        if self.leak not in LEAKS:
            bad("leak", f"must be one of {LEAKS}")
        if self.potentiation not in POTENTIATIONS:
            bad("potentiation", f"must be one of {POTENTIATIONS}")
        if (
            not (isinstance(self.w_bound, int | float) and math.isfinite(self.w_bound))
            or self.w_bound < 0
        ):
            bad("w_bound", "must be a finite number >= 0 (0: no bound)")
        if self.w_bound > 0 and self.integer is not None:
            bad("w_bound", "bounds float32 weights; integer weights saturate at their bit width")
        if self.integer is not None and not isinstance(self.integer, IntSpec):
            bad("integer", "must be an IntSpec or None")
        if self.init_from is not None and not isinstance(self.init_from, InitFrom):
            bad("init_from", "must be an InitFrom or None")
        if int(self.epochs) != self.epochs or self.epochs < 0:
            bad("epochs", "must be an integer >= 0")
        if int(self.seed) != self.seed or self.seed < 0:
            bad("seed", "must be an integer >= 0")
        for name in ("train_samples", "test_samples"):
            v = getattr(self, name)
            if v is not None and (int(v) != v or v < 1):
                bad(name, "must be a positive integer or None")

    def replace(self, **changes: Any) -> Config:
        """A copy with ``changes`` applied (unknown names raise :class:`ConfigError`)."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise ConfigError(f"unknown config field(s): {', '.join(unknown)}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dictionary (``sizes`` as a list, ``integer`` and
        ``init_from`` as dictionaries or ``None``)."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["sizes"] = list(self.sizes)
        for name in ("integer", "init_from"):
            d[name] = None if d[name] is None else d[name].to_dict()
        return d

    def differing_fields(self, other: Config) -> list[str]:
        """The names of the fields in which ``other`` differs from this config, in field
        order (compared in their :meth:`to_dict` form)."""
        a, b = self.to_dict(), other.to_dict()
        return [k for k in a if a[k] != b[k]]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Config:
        """Inverse of :meth:`to_dict`; unknown keys raise :class:`ConfigError`.

        Also reads the form written by earlier versions, which kept ``integer`` and
        ``init_from`` in a dictionary ``extra``.
        """
        if not isinstance(d, dict):
            raise ConfigError(f"a config must be a JSON object, not {type(d).__name__}")
        d = dict(d)
        old = d.pop("extra", None) or {}
        if not isinstance(old, dict) or set(old) - {"integer", "init_from"}:
            raise ConfigError(f"config field 'extra' = {old!r}: unknown entries")
        for name, value in old.items():
            d.setdefault(name, value)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(f"unknown config field(s): {', '.join(unknown)}")
        if not isinstance(d.get("integer"), dict | None) or not isinstance(
            d.get("init_from"), dict | None
        ):
            raise ConfigError("config fields 'integer' and 'init_from' must be objects or null")
        return cls(**d)


#: The config fields that shape the learning-rate schedule (:meth:`Config.lr_at`): a resumed
#: run may change them as long as no completed epoch's rate changes.
SCHEDULE_FIELDS = ("epochs", "schedule", "lr_decay", "lr_floor", "hold_epochs", "restart_every")

#: The two presets of the specification (``docs/spec.md``): its hyper-parameters and its single
#: exponentially decaying learning rate, ``lr * exp(-lr_decay * epoch)``.
SPEC_PRESETS: dict[str, Config] = {
    "mnist": Config(),
    "fashion-mnist": Config(
        sizes=(784, 1000, 100, 10), epochs=600, p_in=0.05, p_hid=0.4, dataset="fashion-mnist"
    ),
}

#: The training protocol of the presets (``docs/training.md``, "The presets' protocol"): the
#: specification's rule and hyper-parameters, ``lr`` held constant for two thirds of the epochs,
#: then annealed linearly to 0 at the last epoch.  MNIST: 100 + 50 epochs; Fashion-MNIST:
#: 200 + 100.
PROTOCOL: dict[str, dict[str, Any]] = {
    "mnist": dict(schedule="linear", hold_epochs=100, epochs=150),
    "fashion-mnist": dict(schedule="linear", hold_epochs=200, epochs=300),
}

#: The presets: the specification's with the protocol's schedule (:data:`PROTOCOL`).
PRESETS: dict[str, Config] = {
    name: cfg.replace(**PROTOCOL[name]) for name, cfg in SPEC_PRESETS.items()
}


def preset(name: str, *, spec_schedule: bool = False, **overrides: Any) -> Config:
    """The preset ``name`` (``"mnist"`` or ``"fashion-mnist"``) with ``overrides`` applied.

    Args:
        name: the preset.
        spec_schedule: start from the specification's preset (:data:`SPEC_PRESETS`: its
            exponential decay over 150 / 600 epochs) instead of the protocol's
            (:data:`PRESETS`).
        overrides: config fields to change.  ``epochs`` alone keeps ``hold_epochs`` (a run
            shorter than the hold trains at the constant rate ``lr``).
    """
    table = SPEC_PRESETS if spec_schedule else PRESETS
    if name not in table:
        raise ConfigError(f"unknown preset {name!r}; choose one of {sorted(table)}")
    return table[name].replace(**overrides)
