"""The training loop (``docs/spec.md``, "Training loop") and run directories.

A run directory holds everything about one training run::

    RUN_DIR/
      config.json          the full Config
      metrics.jsonl        one JSON object per completed epoch
      checkpoint.npz       weights after the last completed epoch (+ its epoch in meta)
      best.npz             weights of the epoch with the best test accuracy so far
      .lock                flock-ed while a training runs there (a second one is refused)

Both checkpoints are zip-compressed ``.npz`` files (see :mod:`desire_bp.checkpoint`).
:func:`train` never writes into a directory that holds anything but a run of ours, checks
everything it can before writing, and removes what it wrote when a new run fails before its
first checkpoint (``docs/reliability.md``).

Epoch numbers: everything printed or plotted counts epochs from 1 (console, ``desire-bp report``
and its ``--json``, sweep tables, figures).  The ``epoch`` and ``best_epoch`` fields stored in
``metrics.jsonl`` and in the checkpoints' metadata are 0-based *indices*, the argument of
:meth:`~desire_bp.config.Config.lr_at` and :func:`epoch_rng`: index ``e`` is epoch ``e + 1``.

Reproducibility: the epoch of index ``e`` uses its own generator ``default_rng([seed, e])`` for the
shuffling permutation and then the dropout masks of its samples, in visiting order; weight
initialisation uses :func:`desire_bp.engine.network.init_rng`.  So the state needed to resume after
epoch ``e`` is the weights alone, and a resumed run ends bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .checkpoint import atomic_write, load_checkpoint, save_checkpoint
from .config import SCHEDULE_FIELDS, Config, ConfigError
from .engine import Network, NetworkBase, pixel_matrix, reference
from .engine.network import check_memory
from .fingerprint import summary as weight_summary

__all__ = [
    "EpochMetrics",
    "RunError",
    "RunInUse",
    "epoch_rng",
    "train_epoch",
    "training_arrays",
    "train",
    "read_metrics",
    "run_config",
]

MASK_BLOCK = 512  # samples whose dropout masks are drawn at once


class RunError(RuntimeError):
    """A run directory is inconsistent or cannot be resumed; the message says why."""


class RunInUse(RunError):
    """Another process is training in the run directory (it holds the directory's lock).

    Attributes:
        pid: that process's id as it wrote it into the lock file (``"?"`` if unreadable).
    """

    def __init__(self, message: str, pid: str) -> None:
        super().__init__(message)
        self.pid = pid

    def __reduce__(self):  # picklable across a process pool: both arguments, not just args
        return type(self), (str(self), self.pid)


@dataclass
class EpochMetrics:
    """Metrics of one epoch.

    Attributes:
        epoch: epoch index, from 0 (epoch ``epoch + 1`` in everything printed).
        lr: learning rate used.
        train_accuracy: percent correct during training (with dropout).
        test_accuracy: percent correct on the test set after the epoch.
        best_test_accuracy / best_epoch: the epoch (its index, from 0) of ``best.npz`` so far
            and its test accuracy: the epoch of the highest test accuracy, or, in a run with a
            validation set, of the highest validation accuracy (the test accuracy is then only
            reported).
        val_accuracy: percent correct on the held-out validation set (``None``: no validation
            set); best_val_accuracy: the validation accuracy of ``best_epoch``.
        train_seconds / test_seconds: wall-clock time of the two phases.
        extra: the weights' per-layer summary (:func:`desire_bp.fingerprint.summary`:
            ``w_std``, ``w_max_abs``, ``runaway``) and anything recorded by hooks (e.g. local
            losses).
    """

    epoch: int
    lr: float
    train_accuracy: float
    test_accuracy: float
    best_test_accuracy: float
    best_epoch: int
    train_seconds: float
    test_seconds: float
    val_accuracy: float | None = None
    best_val_accuracy: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = {
            k: v
            for k, v in self.__dict__.items()
            if k != "extra" and not (k.endswith("val_accuracy") and v is None)
        }
        d.update(self.extra)
        return d


def epoch_rng(seed: int, epoch: int) -> np.random.Generator:
    """The generator of epoch ``epoch``: shuffling, then the dropout masks in visiting order."""
    return np.random.default_rng([seed, epoch])


def train_epoch(
    net: NetworkBase,
    images: np.ndarray,
    labels: np.ndarray,
    epoch: int,
    progress: Callable[[int, int], None] | None = None,
    on_sample: Callable[[int, NetworkBase], None] | None = None,
) -> float:
    """One epoch of online training; returns the training accuracy in percent.

    Args:
        net: trained in place; ``net.cfg`` gives seed, dropout and learning-rate schedule.
        images: ``(N, n_0)`` float32 in [0, 1]; labels: ``(N,)`` ints.
        epoch: epoch index (selects the learning rate and the random stream).
        progress: called as ``progress(samples_done, correct_so_far)`` every 500 samples and
            at the end.
        on_sample: called as ``on_sample(samples_done, net)`` after each sample (analysis
            hooks; slows training).
    """
    cfg = net.cfg
    rng = epoch_rng(cfg.seed, epoch)
    order = rng.permutation(len(images))
    lr = cfg.lr_at(epoch)
    correct = 0
    for start in range(0, len(order), MASK_BLOCK):
        block = order[start : start + MASK_BLOCK]
        masks = reference.draw_mask_block(cfg, rng, len(block))
        for k, s in enumerate(block):
            res = net.train_sample(images[s], int(labels[s]), lr, [m[k] for m in masks])
            correct += res.correct
            done = start + k + 1
            if on_sample is not None:
                on_sample(done, net)
            if progress is not None and (done % 500 == 0 or done == len(order)):
                progress(done, correct)
        if cfg.integer is None and not all(np.isfinite(w).all() for w in net.weights):
            raise RunError(
                f"epoch {epoch + 1}: the weights became NaN or infinite within training samples "
                f"{start + 1}..{start + len(block)} (learning rate {lr:g} too large?)"
            )
    return 100.0 * correct / max(1, len(order))


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """The per-epoch metrics of a run directory (``metrics.jsonl``), in epoch order."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return []
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise RunError(f"{path}, line {n}: not valid JSON ({e})") from e
    return rows


def _write_metrics(run_dir: Path, rows: list[dict[str, Any]]) -> None:
    text = "".join(json.dumps(r) + "\n" for r in rows)
    atomic_write(run_dir / "metrics.jsonl", lambda f: f.write(text.encode()))


def _load_data(cfg: Config, data_dir: str | Path | None):
    from .data import load_dataset

    train = load_dataset(cfg.dataset, "train", data_dir)
    test = load_dataset(cfg.dataset, "test", data_dir).subset(cfg.test_samples)
    return train, test


def training_arrays(cfg: Config, train_set: Any) -> tuple[np.ndarray, np.ndarray, tuple | None]:
    """What a run of ``cfg`` trains on: ``(X, y, val)``, the pixel matrix ``(N, n_0)`` float32
    and the int64 labels ``(N,)`` of the first ``cfg.train_samples`` training samples left
    after the validation hold-out, and the hold-out (``None`` without one).

    Raises:
        ConfigError: ``cfg.train_samples`` more than the samples available.
    """
    (images, labels), val = split_validation(train_set.images, train_set.labels, cfg.validation)
    n = len(labels) if cfg.train_samples is None else cfg.train_samples
    if n > len(labels):
        raise ConfigError(
            f"config field 'train_samples' = {n}: only {len(labels)} training samples are "
            "available" + (" after the validation hold-out" if val else "")
        )
    return pixel_matrix(images[:n]), np.asarray(labels[:n]).astype(np.int64), val


def split_validation(images: Any, labels: Any, n_val: int) -> tuple[tuple, tuple | None]:
    """``((train_images, train_labels), (val_images, val_labels))``: the last ``n_val``
    samples held out (``None`` for the second pair when ``n_val`` is 0)."""
    n = len(labels)
    if n_val == 0:
        return (images, labels), None
    if n_val >= n:
        raise ConfigError(
            f"config field 'validation' = {n_val}: must be smaller than the {n} training samples"
        )
    return (images[: n - n_val], labels[: n - n_val]), (images[n - n_val :], labels[n - n_val :])


def train(
    cfg: Config,
    run_dir: str | Path | None = None,
    *,
    resume: bool = False,
    data_dir: str | Path | None = None,
    engine: str = "fast",
    data: tuple[Any, Any] | None = None,
    on_epoch: Callable[[EpochMetrics, NetworkBase], dict[str, Any] | None] | None = None,
    on_sample: Callable[[int, int, NetworkBase], None] | None = None,
    on_saved: Callable[[dict[str, Any]], None] | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = print,
    init_weights: Sequence[np.ndarray] | None = None,
) -> tuple[NetworkBase, list[dict[str, Any]]]:
    """Train ``cfg`` for ``cfg.epochs`` epochs, checkpointing into ``run_dir`` every epoch.

    Args:
        cfg: the full configuration (data set, sizes, hyper-parameters, epochs, seed).
        run_dir: where config, metrics and checkpoints go (``None``: keep nothing on disk).
        resume: continue the run in ``run_dir`` after its last completed epoch; the stored
            config must equal ``cfg`` except for ``epochs`` (which may be raised).
        data_dir: where the data sets are (default: the fetch chain of :mod:`desire_bp.data`).
        engine: ``"fast"`` or ``"reference"``.
        data: ``(train, test)``, your own data instead of ``cfg.dataset``: two objects with
            ``images``, an array ``(N, n_in)`` (or ``(N, h, w)``) of uint8 bytes or floats in
            [0, 1], ``n_in = cfg.sizes[0]``, and ``labels``, ``(N,)`` integers in
            ``0 .. cfg.sizes[-1] - 1`` (a :class:`~desire_bp.data.Dataset`, a
            ``SimpleNamespace``, ...; see ``examples/own_data.py``).  ``cfg.train_samples`` and
            ``cfg.validation`` apply to ``train`` as to a named data set; ``test`` is evaluated
            whole (``cfg.test_samples`` is not applied to it).
        on_epoch: hook after each epoch's evaluation; may return extra metrics to record.
        on_sample: hook ``(epoch, samples_done, net)`` after every training sample.
        on_saved: hook with each epoch's metrics (as in ``metrics.jsonl``) once they and the
            checkpoint are written, so that it may end the process (an early-stopping
            scheduler reporting to Ray Tune).
        progress: show a progress bar per epoch (only when stderr is a terminal).
        log: where the one-line-per-epoch summaries go (``None``: silent).
        init_weights: start a new run from these weights (``(n_l, n_{l-1})`` each, e.g. a
            checkpoint's) instead of the seeded initialisation; the learning-rate schedule
            starts again at epoch 0 (what the original code's ``--model-path`` does).
            Not with ``resume``.

    With ``cfg.integer`` set the network is trained in integer arithmetic (an
    :class:`~desire_bp.integer.IntegerNetwork` quantized from the initial or resumed weights;
    fraction bits left open in the format are fixed first, from the seed's initial weights).

    Returns:
        the trained network and the metrics of all epochs (including resumed ones).
    """
    run = Path(run_dir) if run_dir is not None else None
    net: NetworkBase | None = None
    if resume and run is None:
        raise RunError("resume needs a run directory")
    if init_weights is not None and resume:
        raise RunError("init_weights starts a new run; it cannot be combined with resume")
    if resume:
        run_config(run)  # a run directory with a readable config.json, or a clear error
    check_memory(cfg)  # before anything is allocated or written
    if cfg.integer is not None and cfg.integer.frac_bits is None:
        from .integer import with_integer_format

        cfg = with_integer_format(cfg)
    if init_weights is not None:
        net = Network(init_weights, cfg, engine)  # checks the shapes before anything is written
    with _run_lock(run) as created:
        claimed = False
        try:
            rows: list[dict[str, Any]] = []
            if resume:
                assert run is not None
                net, rows, cfg = _resume_state(run, cfg, engine)
            elif run is not None:
                _claim_new_run(run, cfg, write=False)  # refuse early, write once all is checked
            if run is not None:
                for name in RUN_FILES:  # left by our writes that were killed (atomic_write)
                    for tmp in run.glob(f".{name}.*.tmp"):
                        tmp.unlink(missing_ok=True)
            train_set, test_set = data if data is not None else _load_data(cfg, data_dir)
            _check_data_fits(cfg, train_set, "training")
            _check_data_fits(cfg, test_set, "test")
            X_train, y_train, val = training_arrays(cfg, train_set)
            if run is not None and not resume:
                _claim_new_run(run, cfg)
                claimed = True
            hooks = _Hooks(on_epoch, on_sample, on_saved, progress, log)
            return _train_loop(
                cfg, run, net, rows, engine, (X_train, y_train), test_set, val, hooks
            )
        except BaseException:
            if run is not None and (claimed or created) and not (run / "checkpoint.npz").exists():
                _remove_empty_run(run, created)  # a failed new run leaves nothing behind
            raise


class _Hooks(NamedTuple):
    """The callbacks and output settings of :func:`train`, passed on to its epoch loop."""

    on_epoch: Callable[[EpochMetrics, NetworkBase], dict[str, Any] | None] | None
    on_sample: Callable[[int, int, NetworkBase], None] | None
    on_saved: Callable[[dict[str, Any]], None] | None
    progress: bool
    log: Callable[[str], None] | None


def _train_loop(
    cfg: Config,
    run: Path | None,
    net: NetworkBase | None,
    rows: list[dict[str, Any]],
    engine: str,
    train_xy: tuple[np.ndarray, np.ndarray],
    test_set: Any,
    val: tuple | None,
    hooks: _Hooks,
) -> tuple[NetworkBase, list[dict[str, Any]]]:
    """The epochs of :func:`train` (run directory claimed and locked, data checked)."""
    on_epoch, on_sample, on_saved, progress, log = hooks
    X_train, y_train = train_xy
    if net is None:
        net = Network.init(cfg, engine=engine)
    if cfg.integer is not None:
        from .integer import IntegerNetwork

        net = IntegerNetwork.from_network(net, cfg.integer, engine)
    key = "val_accuracy" if val is not None else "test_accuracy"
    best = max((r[key] for r in rows), default=-math.inf)
    best_epoch = next((r["epoch"] for r in rows if r[key] == best), -1)

    epoch_seconds: list[float] = []  # of the epochs trained in this call, for the time left
    for epoch in range(len(rows), cfg.epochs):
        bar = _progress_bar(len(y_train), epoch, cfg.epochs) if progress else None

        def prog(done: int, correct: int, bar=bar) -> None:
            if bar is not None:
                bar.update(done - bar.n)
                bar.set_postfix(train_acc=f"{100.0 * correct / done:.2f}%", refresh=False)

        hook = (lambda done, n, epoch=epoch: on_sample(epoch, done, n)) if on_sample else None
        t0 = time.perf_counter()
        try:
            train_acc = train_epoch(net, X_train, y_train, epoch, prog, hook)
        except RunError as e:
            kept = (
                f"; the last good checkpoint (epoch {len(rows)}) is kept in {run}"
                if run is not None and rows
                else ""
            )
            raise RunError(f"{e}; training stopped{kept}") from None
        finally:
            if bar is not None:
                bar.close()  # also on Ctrl-C: messages then start on a clean line
        t1 = time.perf_counter()
        test_acc = net.evaluate(test_set.images, test_set.labels).accuracy
        val_acc = net.evaluate(*val).accuracy if val is not None else None
        t2 = time.perf_counter()
        epoch_seconds.append(t2 - t0)
        score = val_acc if val is not None else test_acc
        if score > best:
            best, best_epoch = score, epoch
        best_row = rows[best_epoch] if best_epoch < epoch else None
        m = EpochMetrics(
            epoch,
            cfg.lr_at(epoch),
            train_acc,
            test_acc,
            best_row["test_accuracy"] if best_row else test_acc,
            best_epoch,
            t1 - t0,
            t2 - t1,
            val_acc,
            best if val is not None else None,
        )
        m.extra.update(weight_summary(net.weights))
        if on_epoch is not None:
            m.extra.update(on_epoch(m, net) or {})
        rows.append(m.to_dict())
        if run is not None:
            meta = {"epoch": epoch, "metrics": m.to_dict(), "history": rows}
            # compressed (zip-deflate: ~8 % smaller for trained float32 weights); best first,
            # so that best.npz is never behind checkpoint.npz after an interruption
            if best_epoch == epoch:
                save_checkpoint(run / "best.npz", net.weights, cfg, meta, compress=True)
                atomic_write(run / "checkpoint.npz", (run / "best.npz").read_bytes())
            else:
                save_checkpoint(run / "checkpoint.npz", net.weights, cfg, meta, compress=True)
            _write_metrics(run, rows)
        if log is not None:
            vtext = f"val {val_acc:.2f}%  " if val_acc is not None else ""
            left = _time_left(epoch_seconds, cfg.epochs - epoch - 1)
            log(
                f"epoch {epoch + 1}/{cfg.epochs}: train {train_acc:.2f}%  {vtext}"
                f"test {test_acc:.2f}%  best {m.best_test_accuracy:.2f}% (epoch "
                f"{best_epoch + 1}{', by validation' if val is not None else ''})  "
                f"{t1 - t0:.1f}s + {t2 - t1:.1f}s{left}"
            )
        if on_saved is not None:
            on_saved(rows[-1])
    return net, rows


#: The files of a run directory that :func:`train` writes (and may overwrite).
RUN_FILES = ("config.json", "metrics.jsonl", "checkpoint.npz", "best.npz")
#: What analysis recorders (:mod:`desire_bp.analysis`) write into a run directory, possibly
#: before training starts.
RECORD_FILES = ("contributions.npz", "spikes")
#: The lock file of a run directory (``flock``: released by the system when the process dies).
LOCK_FILE = ".lock"


def _check_data_fits(cfg: Config, data: Any, what: str) -> None:
    """Refuse data whose samples or labels do not fit the network's input and output layers."""
    images, labels = np.asarray(data.images), np.asarray(data.labels)
    width = int(np.prod(images.shape[1:])) if images.ndim > 1 else 0
    if width != cfg.sizes[0]:
        raise ConfigError(
            f"config field 'sizes' = {cfg.sizes}: the input layer has {cfg.sizes[0]} neurons "
            f"but the {cfg.dataset} {what} images have {width} pixels"
        )
    if len(labels) and int(labels.max()) >= cfg.sizes[-1]:
        raise ConfigError(
            f"config field 'sizes' = {cfg.sizes}: the output layer has {cfg.sizes[-1]} neurons "
            f"but the {cfg.dataset} {what} labels go up to {int(labels.max())}"
        )


@contextlib.contextmanager
def _run_lock(run: Path | None) -> Iterator[bool]:
    """Hold an exclusive lock on the run directory ``run`` (created if missing) while training;
    yields whether the directory was created here.

    A second training into the same directory is refused while the first one runs.
    """
    if run is None:
        yield False
        return
    if run.exists() and not run.is_dir():
        raise RunError(f"run directory {run} is a file, not a directory")
    created = not run.exists()
    lock_created = created or not (run / LOCK_FILE).exists()
    try:
        run.mkdir(parents=True, exist_ok=True)
        fd = os.open(run / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as e:
        raise RunError(f"run directory {run}: cannot write there ({e.strerror or e})") from e
    try:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no locking
            fcntl = None
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                other = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                raise RunInUse(
                    f"run directory {run} is in use by another training (process {other}); "
                    "wait for it to end or choose another directory",
                    other,
                ) from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield created
    except BaseException:
        if lock_created:  # a failed command leaves the directory as it found it
            (run / LOCK_FILE).unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)


def _claim_new_run(run: Path, cfg: Config, write: bool = True) -> None:
    """Write ``config.json`` of a new run into ``run``, which must be empty or hold only the
    ``config.json`` of a run of ours that never completed an epoch; never overwrite anything
    else (``write=False``: only check)."""
    found = sorted(p.name for p in run.iterdir() if p.name != LOCK_FILE)
    if "config.json" in found:
        try:
            run_config(run)
        except RunError:
            raise RunError(
                f"run directory {run} holds a config.json that is not a desire-bp config; "
                "refusing to overwrite it: choose a new or empty directory"
            ) from None
        done = [n for n in found if n in RUN_FILES[1:]]
        if done:
            raise RunError(
                f"run directory {run} already holds a run ({', '.join(done)}); continue it "
                f"with --resume {run} (Python: resume=True) or choose another directory"
            )
    others = [n for n in found if n != "config.json" and n not in RECORD_FILES]
    if others:
        shown = ", ".join(others[:5]) + (" ..." if len(others) > 5 else "")
        raise RunError(
            f"run directory {run} is not empty ({shown}) and holds no desire-bp run; refusing "
            "to overwrite anything in it: choose a new or empty directory"
        )
    if not write:
        return
    text = json.dumps(cfg.to_dict(), indent=2) + "\n"
    atomic_write(run / "config.json", lambda f: f.write(text.encode()))


def _remove_empty_run(run: Path, created: bool) -> None:
    """Undo :func:`_claim_new_run` after a failure before the first checkpoint, when nothing
    but our config, metrics and lock is there (the directory too if this run created it)."""
    with contextlib.suppress(OSError):
        names = {p.name for p in run.iterdir()}
        if names <= {LOCK_FILE, "config.json", "metrics.jsonl"}:
            for n in names:
                (run / n).unlink(missing_ok=True)
            if created:
                run.rmdir()


def _progress_bar(total: int, epoch: int, epochs: int):
    from .progress import bar

    return bar(total=total, desc=f"epoch {epoch + 1}/{epochs}", unit="sample")


def _time_left(epoch_seconds: list[float], remaining: int) -> str:
    """``", ~1h02m left"`` for ``remaining`` more epochs at the mean duration of the epochs
    timed so far (the first left out once there are others: it includes Numba's compilation);
    ``""`` after the last epoch."""
    from .progress import format_duration

    if remaining <= 0 or not epoch_seconds:
        return ""
    timed = epoch_seconds[1:] or epoch_seconds
    return f", ~{format_duration(remaining * sum(timed) / len(timed))} left"


def run_config(run_dir: str | Path) -> Config:
    """The config of the run in ``run_dir`` (its ``config.json``).

    Raises:
        RunError: no ``config.json`` there, or not a valid config.
    """
    cfg_path = Path(run_dir) / "config.json"
    if not cfg_path.is_file():
        raise RunError(f"{cfg_path} not found (is {run_dir} a run directory of desire-bp?)")
    try:
        return Config.from_dict(json.loads(cfg_path.read_text()))
    except (ValueError, TypeError) as e:  # JSONDecodeError and ConfigError are ValueErrors
        raise RunError(f"{cfg_path} is not a valid config ({e})") from e
    except OSError as e:
        raise RunError(f"{cfg_path}: cannot read it ({e.strerror or e})") from e


def _resume_state(run: Path, cfg: Config, engine: str) -> tuple[Network, list[dict], Config]:
    """Weights, metrics and config to continue the run in ``run``."""
    cfg_path = run / "config.json"
    try:
        stored = run_config(run)
    except RunError as e:
        raise RunError(f"cannot resume: {e}") from None
    if stored.replace(**_schedule_of(cfg)) != cfg:
        raise RunError(
            f"cannot resume {run}: config differs from the stored one in {_diff(cfg, stored)}"
        )
    ck_path = run / "checkpoint.npz"
    if not ck_path.exists():
        # Nothing completed yet: start from scratch in the same directory.
        return Network.init(cfg, engine=engine), [], cfg
    # The checkpoint (one atomic file) is the source of truth: it carries the metrics history.
    ck = load_checkpoint(ck_path)
    if ck.config.replace(**_schedule_of(stored)) != stored:
        raise RunError(
            f"cannot resume {run}: {ck_path} was written by a different run than its "
            f"config.json (they differ in {_diff(ck.config, stored)}); refusing to continue "
            "a mixed run"
        )
    rows = ck.meta.get("history")
    if not isinstance(rows, list) or ck.meta.get("epoch") != len(rows) - 1:
        raise RunError(f"cannot resume {run}: {ck_path} has no consistent metrics history")
    _check_schedule_change(run, stored, cfg, len(rows))
    _write_metrics(run, rows)
    if cfg != stored:
        text = json.dumps(cfg.to_dict(), indent=2) + "\n"
        atomic_write(cfg_path, lambda f: f.write(text.encode()))
    return Network(ck.weights, cfg, engine), rows, cfg


def _schedule_of(cfg: Config) -> dict[str, Any]:
    return {name: getattr(cfg, name) for name in SCHEDULE_FIELDS}


def _check_schedule_change(run: Path, stored: Config, cfg: Config, done: int) -> None:
    """Refuse a resume of ``done`` completed epochs whose schedule changes any of their rates.

    A run is defined by its weights and per-epoch random streams alone, so a resumed run with a
    new schedule is bit-identical to a fresh run of that schedule exactly when every completed
    epoch had the rate the new schedule gives it (e.g. a longer hold of a hold-then-anneal run
    still in its hold).
    """
    if cfg.epochs < done:
        raise RunError(
            f"cannot resume {run} with {cfg.epochs} epochs: {done} epochs are already trained "
            "(a run can be shortened only down to the epochs it has completed)"
        )
    for e in range(done):
        old, new = stored.lr_at(e), cfg.lr_at(e)
        if old != new:
            changed = [k for k, v in _schedule_of(cfg).items() if v != getattr(stored, k)]
            raise RunError(
                f"cannot resume {run} with a changed schedule ({', '.join(changed)}): epoch "
                f"{e + 1}, already trained at learning rate {old:.6g}, would have {new:.6g} "
                f"(a schedule may change only where no epoch has been trained: here after "
                f"epoch {done})"
            )


def _diff(a: Config, b: Config) -> list[str]:
    """The fields outside :data:`SCHEDULE_FIELDS` in which two configs differ."""
    return sorted(k for k in a.differing_fields(b) if k not in SCHEDULE_FIELDS)
