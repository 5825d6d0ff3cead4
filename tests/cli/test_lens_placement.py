"""``diffusion-studio lens placement``: each sampler's model calls on the log-SNR axis, as PNG and CSV."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
from PIL import Image

from diffusion_studio.cli import main


def test_placement_writes_one_row_per_sampler_and_the_calls_as_csv(tmp_path, capsys) -> None:
    png, table = tmp_path / "placement.png", tmp_path / "placement.csv"
    argv = ["lens", "placement", "--samplers", "ddim:leading,heun:karras,euler", "--steps", "4"]
    assert main([*argv, "--png", str(png), "--csv", str(table)]) == 0
    im = Image.open(png)
    assert im.width >= 700 and im.height > 150
    rows = list(csv.DictReader(table.open()))
    by = {}
    for r in rows:
        by.setdefault((r["sampler"], r["spacing"]), []).append(r)
    assert set(by) == {("ddim", "leading"), ("heun", "karras"), ("euler", "karras")}  # --spacing karras default
    abar = np.cumprod(1 - np.linspace(1e-4, 0.02, 1000))  # the ideal model's linear schedule, by hand
    ddim = by[("ddim", "leading")]
    assert [int(r["model_time"]) for r in ddim] == [750, 500, 250, 0]
    np.testing.assert_allclose([float(r["log_snr"]) for r in ddim],
                               [math.log(abar[t] / (1 - abar[t])) for t in (750, 500, 250, 0)], rtol=1e-5)
    heun = by[("heun", "karras")]
    assert [r["kind"] for r in heun].count("correction") == 3 and len(heun) == 7
    out = capsys.readouterr().out
    assert "heun, karras: 4 steps, 7 calls" in out and f"wrote {png}" in out


@pytest.mark.parametrize("samplers,needle", [
    ("euler:foo", "Unknown spacing 'foo'"),
    ("ddim:karras", "ddim has no Karras sigmas"),
    ("nope", "Unknown sampler 'nope'"),
])
def test_placement_refuses_bad_samplers_with_one_line(tmp_path, capsys, samplers: str, needle: str) -> None:
    png = tmp_path / "p.png"
    assert main(["lens", "placement", "--samplers", samplers, "--png", str(png)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and needle in err[0]
    assert not png.exists()


def test_placement_refuses_more_steps_than_t(tmp_path, capsys) -> None:
    png = tmp_path / "p.png"
    assert main(["lens", "placement", "--T", "20", "--steps", "30", "--png", str(png)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "steps" in err[0]
    assert not png.exists()
