"""Where the data sets are and whether their files are the official ones.

The two data sets are stored, one folder per data set, as the four uncompressed IDX files of
the original distribution (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``); gzipped copies named ``<file>.gz``
placed there by hand are read too.  Every file is checked against the SHA-256 of the official
file (of its decompressed content); a successful check is remembered in a sidecar file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
import uuid
from pathlib import Path

from ..config import DATASETS, SPLITS
from .idx import DataError, StrPath, _Content, _open_file

__all__ = [
    "DATASETS",
    "ENV_VAR",
    "FILE_NAMES",
    "SHA256",
    "SPLITS",
    "SPLIT_FILES",
    "dataset_dir",
]

SPLIT_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
"""Canonical (uncompressed) file names of each split: ``(images, labels)``."""

FILE_NAMES: tuple[str, ...] = (*SPLIT_FILES["train"], *SPLIT_FILES["test"])
"""The four canonical file names of a data set."""

SHA256: dict[str, dict[str, str]] = {
    "mnist": {
        "train-images-idx3-ubyte": (
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
        ),
        "train-labels-idx1-ubyte": (
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
        ),
        "t10k-images-idx3-ubyte": (
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
        ),
        "t10k-labels-idx1-ubyte": (
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"
        ),
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": (
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"
        ),
        "train-labels-idx1-ubyte": (
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"
        ),
        "t10k-images-idx3-ubyte": (
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"
        ),
        "t10k-labels-idx1-ubyte": (
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"
        ),
    },
}
"""SHA-256 (hex) of the decompressed official files, per data set and canonical file name."""

ENV_VAR = "DESIRE_BP_DATA_DIR"
"""Environment variable naming the root data directory (holding one folder per data set)."""

_PART_SUFFIX = ".part"
_SIDECAR_SUFFIX = ".verified"
# A cached verification is trusted only if the file's ctime and mtime lie this long before
# the moment its hash was computed (file time stamps have a coarse granularity, so a file
# rewritten in place right after being hashed could otherwise keep the same stat).
_RACY_NS = 2_000_000_000


def _check_name(name: str) -> str:
    if name not in DATASETS:
        raise DataError(f"unknown data set {name!r}; known: {', '.join(DATASETS)}")
    return name


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; known: {', '.join(SPLITS)}")
    return split


def dataset_dir(name: str, data_dir: StrPath | None = None) -> Path:
    """The folder of data set ``name``: ``<root>/<name>``.

    ``<root>`` is ``data_dir`` if given, else the environment variable ``DESIRE_BP_DATA_DIR``
    if set and not empty, else the user cache directory of ``desire-bp`` (from
    ``platformdirs``; ``~/.cache/desire-bp`` on Linux). ``~`` is expanded. Nothing is created.

    Raises:
        DataError: unknown data set name.
    """
    _check_name(name)
    if data_dir is not None:
        root = Path(os.fspath(data_dir)).expanduser()
    elif os.environ.get(ENV_VAR):
        root = Path(os.environ[ENV_VAR]).expanduser()
    else:
        import platformdirs

        root = Path(platformdirs.user_cache_dir("desire-bp", appauthor=False))
    return root / name


def _find_file(directory: Path, fname: str) -> Path | None:
    """``directory/fname`` if it is a file, else ``directory/fname.gz`` if it is, else None."""
    for candidate in (directory / fname, directory / f"{fname}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _stat_key(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _now_ns() -> int:
    return time.time_ns()


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + _SIDECAR_SUFFIX)


def _sidecar_ok(path: Path, expected: str) -> bool:
    """Whether the sidecar of ``path`` vouches that its content has hash ``expected``."""
    try:
        record = json.loads(_sidecar(path).read_text(encoding="utf-8"))
        key = _stat_key(path)
        return (
            isinstance(record, dict)
            and record.get("sha256") == expected
            and record.get("stat") == key
            and max(key[1], key[2]) < int(record["verified_at_ns"]) - _RACY_NS
        )
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _write_sidecar(path: Path, sha: str, key: list[int], verified_at_ns: int) -> None:
    """Record a verification of ``path`` (best effort; a read-only folder is fine)."""
    side = _sidecar(path)
    tmp = side.with_name(f".{side.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}{_PART_SUFFIX}")
    record = {"sha256": sha, "stat": key, "verified_at_ns": verified_at_ns}
    try:
        tmp.write_text(json.dumps(record), encoding="utf-8")
        os.replace(tmp, side)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _hash_content(path: Path) -> tuple[str, int]:
    """SHA-256 (hex) and length in bytes of the decompressed content of ``path``."""
    h = hashlib.sha256()
    size = 0
    with _open_file(path) as raw:
        for chunk in _Content(raw, str(path)).chunks():
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _verify_file(path: Path, expected: str, what: str) -> None:
    """Check that the content of ``path`` has SHA-256 ``expected``.

    A successful check is cached in the sidecar ``<path>.verified`` (size, times and inode of
    the file); it is trusted only while the file's stat is unchanged.

    Raises:
        DataError: unreadable file or hash mismatch (``what`` describes the expected file).
    """
    if _sidecar_ok(path, expected):
        return
    try:
        before = _stat_key(path)
    except OSError as e:
        raise DataError(f"{path}: cannot stat: {e.strerror or e}") from e
    started = _now_ns()
    actual, size = _hash_content(path)
    if actual != expected:
        raise DataError(
            f"{path}: SHA-256 mismatch: expected {expected} (the official {what}), got "
            f"{actual} ({size} bytes of content). This is not the official file: delete it to "
            f"fetch the official one (desire-bp data fetch), or, to use your own IDX files, load "
            f"them from Python with verify=False."
        )
    with contextlib.suppress(OSError):
        if _stat_key(path) == before and max(before[1], before[2]) < started - _RACY_NS:
            _write_sidecar(path, actual, before, started)
