"""The distribution: the wheel builds, installs into a fresh virtual environment and works
there without the extras (``desire-bp --version``, a short training, eval, report)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

import desire_bp
from desire_bp.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXTRAS = ("ray", "torch", "nir", "pytest", "hypothesis")

#: sitecustomize of the fresh environment: the extras (and dev tools) cannot be imported, so
#: everything run there shows what the base install does on its own.
BLOCK_EXTRAS = f"""
import sys

class _NoExtras:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {set(EXTRAS)!r}:
            raise ImportError(f"{{name}} is an extra, not part of the base install")

sys.meta_path.insert(0, _NoExtras())
"""


def test_version(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"desire-bp {desire_bp.__version__}"
    assert desire_bp.__version__ == "0.2.0"  # pyproject.toml, CITATION.cff and CHANGELOG.md
    assert "version: 0.2.0" in (ROOT / "CITATION.cff").read_text()
    assert "## [0.2.0]" in (ROOT / "CHANGELOG.md").read_text()


@pytest.mark.slow
def test_wheel_installs_and_trains(tmp_path: Path, mnist_dir: Path) -> None:
    """``python -m build`` makes a wheel with ``py.typed`` and the license; installed into a
    fresh venv it runs without ray, torch, nir and the dev tools (~10 s).

    The fresh venv gets the wheel alone (``--no-deps``); it finds the base dependencies
    (NumPy, Numba, ...) in this interpreter's site-packages through a ``.pth`` file instead of
    downloading them again.  Which files its ``desire_bp`` comes from is checked.
    """
    # a copy of the sources: no stale build/ directory of the work tree ends up in the wheel
    src = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.nbi", "*.nbc")
    shutil.copytree(ROOT / "src", src / "src", ignore=ignore)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    dist = tmp_path / "dist"
    run = [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist)]
    subprocess.run([*run, str(src)], check=True, capture_output=True, text=True)
    (wheel,) = dist.glob("desire_bp-*.whl")
    assert wheel.name == f"desire_bp-{desire_bp.__version__}-py3-none-any.whl"
    names = zipfile.ZipFile(wheel).namelist()
    assert "desire_bp/py.typed" in names and "desire_bp/cli/__init__.py" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    py = env_dir / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps"]
    subprocess.run([*pip, "--no-index", str(wheel)], check=True, capture_output=True, text=True)
    site = Path(
        subprocess.run(
            [py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    (site / "_base_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    (tmp_path / "block").mkdir()
    (tmp_path / "block" / "sitecustomize.py").write_text(BLOCK_EXTRAS)
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "block")}

    def cli(*args: str) -> str:
        res = subprocess.run(
            [env_dir / "bin" / "desire-bp", *args], capture_output=True, text=True, env=env
        )
        assert res.returncode == 0, res.stderr
        return res.stdout

    assert cli("--version").strip() == f"desire-bp {desire_bp.__version__}"
    where = subprocess.run(
        [py, "-c", "import desire_bp, sys; print(desire_bp.__file__); import ray"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert where.stdout.startswith(str(site)), where.stdout  # the wheel's files, not src/
    assert "ray is an extra" in where.stderr  # the extras really are out of reach
    run_dir = tmp_path / "run"
    small = ["--hidden", "32", "--epochs", "2", "--train-samples", "100", "--test-samples", "100"]
    # the readable engine: the fast one's compilation is timed by the rest of the suite
    out = cli(
        "train",
        *small,
        "--engine",
        "reference",
        "--run-dir",
        str(run_dir),
        "--data-dir",
        str(mnist_dir),
    )
    assert "epoch 2/2" in out and (run_dir / "best.npz").exists()
    ck = str(run_dir / "best.npz")
    out = cli(
        "eval",
        "--checkpoint",
        ck,
        "--engine",
        "reference",
        "--test-samples",
        "100",
        "--data-dir",
        str(mnist_dir),
    )
    assert "accuracy" in out
    cli("report", str(run_dir))
    assert (run_dir / "accuracy.png").stat().st_size > 0
