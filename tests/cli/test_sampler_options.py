"""``sample --sampler euler|heun|dpmpp_2m --spacing karras --churn --guidance-interval`` from the command line."""

from __future__ import annotations

import pytest
from PIL import Image

from diffusion_studio.cli import main


@pytest.mark.parametrize("sampler", ["euler", "heun", "dpmpp_2m"])
def test_sigma_samplers_write_a_png(tmp_path, sampler: str) -> None:
    out = tmp_path / f"{sampler}.png"
    args = ["sample", "--sampler", sampler, "--spacing", "karras", "--steps", "4", "--size", "16", "--quiet"]
    assert main([*args, "--png", str(out)]) == 0
    assert Image.open(out).size[0] >= 16


@pytest.mark.parametrize(
    "extra",
    [["--guidance-interval", "700,200"], ["--guidance-interval", "x"], ["--sampler", "foo"], ["--churn", "1"]],
)
def test_bad_sampler_options_are_one_line_errors(tmp_path, capsys, extra) -> None:
    argv = ["sample", "--size", "8", "--steps", "2", "--sampler", "ddim", "--quiet", "--png", str(tmp_path / "a.png")]
    try:
        rc = main([*argv, *extra])
    except SystemExit as exit_:  # argparse refuses the value itself
        rc = exit_.code
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(("error:", "diffusion-studio sample: error:")) and "Traceback" not in "".join(err)
    assert not (tmp_path / "a.png").exists()
