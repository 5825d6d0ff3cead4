"""``diffusion-studio lens error|spectrum|trajectory`` writes a PNG plot and the numbers as CSV."""

from __future__ import annotations

import csv

import pytest
from PIL import Image

from diffusion_studio.cli import main


@pytest.mark.parametrize("kind", ["error", "spectrum", "trajectory"])
def test_lens_writes_png_and_csv(tmp_path, capsys, kind: str) -> None:
    png, table = tmp_path / f"{kind}.png", tmp_path / f"{kind}.csv"
    argv = ["lens", kind, "--model", "gaussian", "--size", "16", "--steps", "5", "--substeps", "2"]
    assert main([*argv, "--samplers", "euler,ddim", "--png", str(png), "--csv", str(table)]) == 0
    im = Image.open(png)
    assert im.width > 400 and im.height > 300
    rows = list(csv.reader(table.open()))
    assert len(rows) > 5 and all(len(r) == len(rows[0]) for r in rows)
    if kind == "error":
        assert {r[0] for r in rows[1:]} == {"euler", "ddim"}
        assert "model calls" in capsys.readouterr().out


def test_lens_refuses_a_missing_folder_and_unknown_sampler(tmp_path, capsys) -> None:
    assert main(["lens", "error", "--png", str(tmp_path / "no" / "a.png")]) == 2
    assert main(["lens", "error", "--samplers", "euler,foo", "--png", str(tmp_path / "a.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert all(line.startswith("error:") for line in err) and len(err) == 2
    assert not (tmp_path / "a.png").exists()
