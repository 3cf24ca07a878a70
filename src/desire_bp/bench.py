"""Benchmarks: engine speed on real data (``desire-bp bench speed``), a full epoch against the
readable engine (``bench epoch``) and scaling with the hidden-layer size like the paper's
Fig. 9 (``bench scaling``).

Timings are wall-clock medians of per-sample times after warm-up (and after Numba's
compilation); machines are shared and noisy, so compare ratios measured in one run.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit

from .config import preset
from .engine import Network, kernels, reference, to_float_pixels
from .progress import bar

F32 = np.float32

__all__ = ["machine", "time_training", "time_evaluation", "speed", "epoch", "scaling"]


def machine() -> dict[str, Any]:
    """A short description of this machine (CPU model, cores, Python, NumPy, Numba)."""
    import numba

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "numba_threads": numba.get_num_threads(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
    }


def rss_mb() -> float:
    """Current resident memory of this process in MB (Linux), else peak."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except OSError:
        return peak_rss_mb()


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_training(
    net: Network,
    X: np.ndarray,
    y: np.ndarray,
    warmup: int = 100,
    seed: int = 0,
    desc: str = "training",
) -> dict[str, float]:
    """Per-sample online training times (s) on rows of ``X`` with dropout masks from ``seed``
    (``desc``: label of the progress bar, shown on a terminal).

    Returns median, mean and the resident memory before and after (MB).
    """
    cfg = net.cfg
    n = len(X)
    masks = reference.draw_mask_block(cfg, np.random.default_rng(seed), n)
    for s in range(min(warmup, n)):
        net.train_sample(X[s], int(y[s]), cfg.lr, [m[s] for m in masks])
    times = np.empty(n)
    rss0 = rss_mb()
    for s in bar(range(n), desc=desc, unit="sample"):  # outside the timed span
        m = [mm[s] for mm in masks]
        t0 = time.perf_counter()
        net.train_sample(X[s], int(y[s]), cfg.lr, m)
        times[s] = time.perf_counter() - t0
    return {
        "median_s": float(np.median(times)),
        "mean_s": float(times.mean()),
        "samples": n,
        "rss_before_mb": rss0,
        "rss_after_mb": rss_mb(),
    }


def time_evaluation(
    net: Network, X: np.ndarray, repeat: int = 3, desc: str = "evaluation"
) -> dict[str, float]:
    """Evaluation time per sample (s): best of ``repeat`` passes over ``X`` (batched)."""
    net.forward_batch(X[: min(len(X), 16)])  # compile / warm up
    best = np.inf
    for _ in bar(range(repeat), desc=desc, unit="pass"):
        t0 = time.perf_counter()
        net.forward_batch(X)
        best = min(best, time.perf_counter() - t0)
    return {"per_sample_s": best / len(X), "samples": len(X)}


def speed(
    samples: int | None = None,
    presets: list[str] | None = None,
    reference_samples: int = 100,
    out: str | None = None,
    data_dir: str | None = None,
) -> dict[str, Any]:
    """Training and evaluation speed of both presets on real data, fast vs readable engine.

    Prints a table and returns (and optionally writes as JSON) the figures.
    """
    from .data import load_dataset

    samples = samples or 2000
    result: dict[str, Any] = {"machine": machine(), "presets": {}}
    print(f"machine: {result['machine']}")
    for name in presets or ["mnist", "fashion-mnist"]:
        cfg = preset(name)
        train = load_dataset(cfg.dataset, "train", data_dir)
        test = load_dataset(cfg.dataset, "test", data_dir)
        n = min(samples + 100, len(train))
        X = to_float_pixels(train.images[:n])
        y = train.labels[:n]
        fast = Network.init(cfg, seed=0)
        ref = Network(fast.weights, cfg, "reference")
        tf = time_training(fast, X[100:n], y[100:n], warmup=100, desc=f"{name}: fast training")
        nr = min(reference_samples, n)
        tr = time_training(ref, X[:nr], y[:nr], warmup=2, desc=f"{name}: readable training")
        Xt = to_float_pixels(test.images)
        ef = time_evaluation(fast, Xt, desc=f"{name}: fast evaluation")
        er = time_evaluation(ref, Xt[:nr], repeat=1, desc=f"{name}: readable evaluation")
        res = {
            "sizes": list(cfg.sizes),
            "train_ms_fast": tf["median_s"] * 1e3,
            "train_ms_reference": tr["median_s"] * 1e3,
            "train_speedup": tr["median_s"] / tf["median_s"],
            "train_samples_per_s_fast": 1 / tf["median_s"],
            "eval_ms_fast": ef["per_sample_s"] * 1e3,
            "eval_ms_reference": er["per_sample_s"] * 1e3,
            "eval_speedup": er["per_sample_s"] / ef["per_sample_s"],
            "epoch_s_estimate": len(train) * tf["mean_s"] + len(test) * ef["per_sample_s"],
            "rss_growth_mb_during_training": tf["rss_after_mb"] - tf["rss_before_mb"],
            "peak_rss_mb": peak_rss_mb(),
            "timed_samples_fast": tf["samples"],
            "timed_samples_reference": tr["samples"],
        }
        result["presets"][name] = res
        print(
            f"{name:14s} {'-'.join(map(str, cfg.sizes))}: train "
            f"{res['train_ms_fast']:.3f} ms/sample (median of {tf['samples']}; "
            f"{1 / tf['median_s']:.0f} samples/s) vs readable "
            f"{res['train_ms_reference']:.1f} ms -> x{res['train_speedup']:.0f}; eval "
            f"{res['eval_ms_fast']:.3f} ms/sample vs {res['eval_ms_reference']:.1f} ms -> "
            f"x{res['eval_speedup']:.0f}; epoch ~{res['epoch_s_estimate']:.0f} s; memory growth "
            f"{res['rss_growth_mb_during_training']:+.1f} MB, peak RSS {res['peak_rss_mb']:.0f} MB"
        )
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(result, indent=2) + "\n")
    return result


def epoch(
    preset_name: str = "mnist",
    engines: tuple[str, ...] = ("fast", "reference"),
    train_samples: int | None = None,
    out: str | None = None,
    data_dir: str | None = None,
) -> dict[str, Any]:
    """One full training epoch plus test evaluation per engine, from the same initial weights
    and the same shuffling and dropout masks; prints seconds and accuracies of each."""
    from .training import train

    cfg = preset(preset_name, epochs=1, train_samples=train_samples)
    result: dict[str, Any] = {"machine": machine(), "preset": preset_name, "engines": {}}
    for engine in engines:
        t0 = time.perf_counter()
        net, rows = train(cfg, None, engine=engine, data_dir=data_dir, progress=True, log=None)
        secs = time.perf_counter() - t0
        r = rows[0]
        result["engines"][engine] = {
            "seconds": secs,
            "train_seconds": r["train_seconds"],
            "test_seconds": r["test_seconds"],
            "train_accuracy": r["train_accuracy"],
            "test_accuracy": r["test_accuracy"],
            "weights_sha256": _weights_hash(net),
        }
        print(
            f"{engine:9s}: epoch {secs:.1f} s ({r['train_seconds']:.1f} s train + "
            f"{r['test_seconds']:.1f} s test), train {r['train_accuracy']:.2f} %, test "
            f"{r['test_accuracy']:.2f} %"
        )
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(result, indent=2) + "\n")
    return result


def _weights_hash(net: Network) -> str:
    import hashlib

    h = hashlib.sha256()
    for w in net.weights:
        h.update(np.ascontiguousarray(w).tobytes())
    return h.hexdigest()


# ----------------------------------------------------------------------------- scaling


DEFAULT_SCALING_SIZES = (100, 200, 500, 1000, 2000, 5000, 10000, 20000, 30000)


@njit(cache=True)
def _updated_neurons(masks, ws):
    """Neurons the update will change: with desire, kept by dropout, at least one spike."""
    n = 0
    for layer in range(1, len(ws.counts)):
        off = ws.offsets[layer]
        for o in range(ws.counts[layer].shape[0]):
            n += ws.desire[layer][o] != 0 and masks[off + o] and ws.counts[layer][o] > 0
    return n


def _phase_times(
    net: Network, X: np.ndarray, y: np.ndarray, desc: str = "phases"
) -> tuple[float, float, float, float]:
    """Median seconds of forward, backward and update of one training sample each, and the
    mean number of neurons updated per sample.

    The update runs with learning rate 0: it does all its work, but the weights stay the
    untrained ones for every sample.  (With the preset's rate the first few samples push the
    output layer of a wide network, N >= 10,000, into near silence, so that later samples
    update almost nothing and the timed update shrank as N grew.)
    """
    cfg = net.cfg
    ws = net._workspace()
    p = net._params
    WT = net._WT
    masks = np.ones(sum(cfg.sizes), np.bool_)
    lr = F32(0.0)
    tf, tb, tu, updated = [], [], [], []
    for s in bar(range(len(X)), desc=desc, unit="sample"):
        t0 = time.perf_counter()
        kernels._forward(WT, X[s], masks, p, ws)
        t1 = time.perf_counter()
        kernels.backward(WT, int(y[s]), masks, p, ws)
        t2 = time.perf_counter()
        kernels.update(WT, masks, lr, p, ws)
        t3 = time.perf_counter()
        tf.append(t1 - t0)
        tb.append(t2 - t1)
        tu.append(t3 - t2)
        updated.append(_updated_neurons(masks, ws))
    return (
        float(np.median(tf)),
        float(np.median(tb)),
        float(np.median(tu)),
        float(np.mean(updated)),
    )


def model_bytes(net: Network) -> int:
    """Bytes of the network's weights and its training workspace."""
    ws = net._workspace()
    weights = sum(w.nbytes for w in net._WT)
    return weights + kernels.workspace_nbytes(ws)


def scaling(
    sizes: tuple[int, ...] | None = None,
    samples: int | None = None,
    out_dir: str | None = None,
    data_dir: str | None = None,
) -> list[dict[str, Any]]:
    """Fig. 9: per-sample time of forward, backward, update and memory for 784-N-10.

    Writes ``scaling.csv`` and ``scaling.png`` (log-log, with fitted slopes) to ``out_dir``.
    """
    from .data import load_dataset

    sizes = tuple(sizes or DEFAULT_SCALING_SIZES)
    samples = samples or 300
    train = load_dataset("mnist", "train", data_dir)
    X = to_float_pixels(train.images[: samples + 20])
    y = train.labels[: samples + 20]
    out = Path(out_dir or "results/scaling")
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in sizes:
        cfg = preset("mnist", sizes=(784, n, 10), p_hid=0.0)
        net = Network.init(cfg, seed=0)
        _phase_times(net, X[:20], y[:20])  # warm-up
        f, b, u, updated = _phase_times(net, X[20:], y[20:], desc=f"N={n}")
        row = {
            "N": n,
            "forward_ms": f * 1e3,
            "backward_ms": b * 1e3,
            "update_ms": u * 1e3,
            "updated_neurons": updated,
            "model_mb": model_bytes(net) / 1e6,
            "peak_rss_mb": peak_rss_mb(),
        }
        rows.append(row)
        print(
            f"N={n:6d}: forward {row['forward_ms']:.3f} ms, backward {row['backward_ms']:.3f} "
            f"ms, update {row['update_ms']:.3f} ms ({updated:.1f} neurons), model "
            f"{row['model_mb']:.1f} MB, "
            f"peak RSS {row['peak_rss_mb']:.0f} MB"
        )
    keys = ["forward_ms", "backward_ms", "update_ms", "model_mb"]
    slopes = {}
    logn = np.log10([r["N"] for r in rows])
    for k in keys:
        vals = np.array([r[k] for r in rows])
        ok = vals > 0
        slopes[k] = float(np.polyfit(logn[ok], np.log10(vals[ok]), 1)[0]) if ok.sum() > 1 else None
    print(
        "log-log slopes (1.0 = linear): "
        + ", ".join(f"{k} {v:.2f}" for k, v in slopes.items() if v is not None)
    )
    with open(out / "scaling.csv", "w") as fcsv:
        fcsv.write(",".join(rows[0]) + "\n")
        for r in rows:
            fcsv.write(",".join(f"{v:.6g}" for v in r.values()) + "\n")
    (out / "scaling_slopes.json").write_text(
        json.dumps({"slopes": slopes, "machine": machine()}, indent=2) + "\n"
    )
    _plot_scaling(rows, slopes, out / "scaling.png")
    print(f"wrote {out / 'scaling.csv'} and {out / 'scaling.png'}")
    return rows


def _plot_scaling(rows: list[dict[str, Any]], slopes: dict[str, float | None], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = [r["N"] for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for k, label in [
        ("forward_ms", "forward"),
        ("backward_ms", "backward"),
        ("update_ms", "update"),
    ]:
        ax1.loglog(n, [r[k] for r in rows], "o-", label=f"{label} (slope {slopes[k]:.2f})")
    ax1.set_xlabel("hidden neurons N (784-N-10)")
    ax1.set_ylabel("time per sample [ms]")
    ax1.legend()
    ax1.grid(True, which="both", alpha=0.3)
    ax2.loglog(
        n,
        [r["model_mb"] for r in rows],
        "o-",
        label=f"weights + workspace (slope {slopes['model_mb']:.2f})",
    )
    ax2.set_xlabel("hidden neurons N (784-N-10)")
    ax2.set_ylabel("memory [MB]")
    ax2.legend()
    ax2.grid(True, which="both", alpha=0.3)
    fig.suptitle(
        "Scaling of desire BP on one CPU core (cf. paper Fig. 9): 784-N-10, untrained weights, "
        "median per training sample"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
