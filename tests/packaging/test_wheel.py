"""The wheel carries the resources and the built-in weights, and runs from where it is installed.

Building a wheel takes a while, so this runs only with RUN_SLOW=1:

    RUN_SLOW=1 python -m pytest tests/packaging/test_wheel.py -q
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("RUN_SLOW") != "1", reason="builds a wheel; set RUN_SLOW=1 to run"),
]

# Files that are in resources/ but are not data (resources/__init__.py makes it the diffusion_studio.resources package).
NOT_DATA = {".py", ".pyc"}


def resource_files() -> list[Path]:
    return sorted(
        p.relative_to(ROOT / "resources")
        for p in (ROOT / "resources").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in NOT_DATA
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from a copy of the checkout (so the build leaves no build/ or egg-info in the checkout)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    shutil.copytree(
        ROOT, source,
        ignore=shutil.ignore_patterns(".git", ".venv", "build", "dist", "runs", "*.egg-info", "__pycache__",
                                      ".pytest_cache", ".ruff_cache"),
    )
    out = work / "dist"
    try:  # the PyPA "build" front end when installed (not a build/ folder that happens to be on sys.path)
        metadata.version("build")
        has_build = True
    except metadata.PackageNotFoundError:
        has_build = False
    if has_build:
        command = [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(source)]
    else:
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(out),
                   str(source)]
    subprocess.run(command, check=True, capture_output=True, text=True, timeout=600)
    wheels = list(out.glob("diffusion_studio-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_name_and_version(wheel: Path) -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    version = re.search(r'^version = "([^"]+)"', pyproject, re.MULTILINE).group(1)
    assert wheel.name.startswith(f"diffusion_studio-{version}-py3-none-any")
    with zipfile.ZipFile(wheel) as z:
        entry_points = z.read(f"diffusion_studio-{version}.dist-info/entry_points.txt").decode()
    assert "diffusion-studio = diffusion_studio.cli:main" in entry_points


def test_wheel_carries_every_resource(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    expected = {f"diffusion_studio/resources/{p.as_posix()}" for p in resource_files()}
    missing = sorted(expected - names)
    assert not missing, f"not in the wheel (extend package-data in pyproject.toml?): {missing}"
    for name in ("samples/chelsea.png", "samples/NOTICE.md", "icons/diffusion-studio.svg",
                 "icons/diffusion-studio.ico", "icons/diffusion-studio.icns",
                 "icons/hicolor/16x16/apps/io.github.diffusionstudio.DiffusionStudio.png",
                 "icons/hicolor/512x512/apps/io.github.diffusionstudio.DiffusionStudio.png"):
        assert f"diffusion_studio/resources/{name}" in names
    assert "diffusion_studio/resources/__init__.py" in names


def test_wheel_carries_builtin_weights(wheel: Path) -> None:
    models = sorted((ROOT / "resources" / "models").glob("*/model.safetensors"))
    if not models:
        pytest.skip("no built-in models in resources/models yet")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        for model in models:
            name = f"diffusion_studio/resources/models/{model.parent.name}/model.safetensors"
            assert name in names
            assert z.getinfo(name).file_size == model.stat().st_size


def test_installed_wheel_runs_from_its_own_files(wheel: Path, tmp_path: Path) -> None:
    """Installed away from the checkout, the package finds its resources in the install and samples a GIF."""
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile",
                    "--target", str(site), str(wheel)], check=True, timeout=300)
    env = {**os.environ, "PYTHONPATH": str(site), "QT_QPA_PLATFORM": "offscreen"}
    probe = ("import diffusion_studio, diffusion_studio.paths as p; "
             "print(diffusion_studio.__file__); print(p.resources_dir()); print(diffusion_studio.__version__)")
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, check=True, capture_output=True,
                         text=True).stdout.splitlines()
    assert out[0].startswith(str(site)) and out[1].startswith(str(site)), out
    gif = tmp_path / "x.gif"
    subprocess.run([sys.executable, "-m", "diffusion_studio", "sample", "--model", "ideal", "--sampler", "ddim",
                    "--steps", "10", "--size", "32", "--gif", str(gif)],
                   cwd=tmp_path, env=env, check=True, capture_output=True, timeout=300)
    assert gif.read_bytes()[:6] in (b"GIF87a", b"GIF89a")
