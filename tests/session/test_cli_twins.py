"""The CLI twins: compare, sample --seeds, --branch-at/--branches and --filmstrip (fast closed-form model)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from diffusion_studio.cli import main

FAST = ["--model", "gaussian", "--T", "50", "--size", "8", "--quiet"]


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "Traceback" not in err[0], err
    return err[0]


def test_compare_writes_labelled_gif_and_grid(tmp_path: Path, capsys) -> None:
    gif, png = tmp_path / "cmp.gif", tmp_path / "grid.png"
    code = main(["compare", *FAST, "--seed", "3", "--vary", "sampler=ddpm,ddim", "--vary", "steps=50,10",
                 "--panels", "x_t,x0,diff", "--gif", str(gif), "--png", str(png), "--rows", "3"])
    assert code == 0
    out = capsys.readouterr().out
    assert "DDPM, 50 steps" in out and "DDIM, 10 steps" in out
    rows = [line.split() for line in out.splitlines()[1:]]
    assert [r[-1] for r in rows] == ["50", "10"]  # model calls per run
    with Image.open(gif) as im:
        assert im.n_frames > 2
    with Image.open(png) as im:
        assert im.width > 2 * 3 * 8


def test_sample_seeds_grid(tmp_path: Path, capsys) -> None:
    png, gif = tmp_path / "seeds.png", tmp_path / "seeds.gif"
    assert main(["sample", *FAST, "--sampler", "ddim", "--steps", "5", "--seeds", "0-3", "--png", str(png),
                 "--gif", str(gif)]) == 0
    out = capsys.readouterr().out
    assert all(f"seed {s}" in out for s in range(4))
    with Image.open(png) as im:  # 2 x 2 labelled cells
        w, h = im.size
        assert w < 2.2 * h and h > 2 * 8


def test_sample_branches_and_filmstrip(tmp_path: Path, capsys) -> None:
    gif, strip = tmp_path / "b.gif", tmp_path / "strip.png"
    assert main(["sample", *FAST, "--seed", "2", "--branch-at", "20", "--branches", "3", "--gif", str(gif),
                 "--filmstrip", str(strip)]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[1].split()[-1] == "50" and [r.split()[-1] for r in lines[2:]] == ["21"] * 3
    assert "branched at t = 20" in captured.err and "decision step" in captured.err
    assert gif.stat().st_size > 0 and strip.stat().st_size > 0


def test_filmstrip_alone_keeps_png_as_the_final_picture(tmp_path: Path) -> None:
    png, strip = tmp_path / "final.png", tmp_path / "strip.png"
    assert main(["sample", *FAST, "--filmstrip", str(strip), "--png", str(png)]) == 0
    with Image.open(png) as im:
        assert im.size == (8, 8)


@pytest.mark.parametrize("argv", [
    ["compare", "--vary", "sampler=ddpm", "--gif", "x.gif"],
    ["compare", "--vary", "sampler=ddpm,ddim"],  # nothing to write
    ["compare", "--vary", "flavour=a,b", "--gif", "x.gif"],
    ["compare", "--vary", "sampler=ddpm,ddim", "--diff-against", "3", "--gif", "x.gif"],
    ["compare", "--vary", "sampler=ddpm,ddim", "--seeds", "0-3", "--gif", "x.gif"],
    ["compare", "--vary", "sampler=ddpm,ddim", "--panels", "x_t,nope", "--gif", "x.gif"],
    ["sample", "--seeds", "0-99", "--png", "x.png"],
    ["sample", "--seeds", "a-b", "--png", "x.png"],
    ["sample", "--seeds", "0-3", "--branch-at", "10", "--png", "x.png"],
    ["sample", "--sampler", "ddim", "--branch-at", "10", "--gif", "x.gif"],
    ["sample", "--branch-at", "900", "--gif", "x.gif"],
    ["sample", "--seeds", "0-3", "--batch", "2", "--png", "x.png"],
])
def test_bad_requests_get_one_error_line(argv, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main([*argv[:1], *FAST, *argv[1:]]) == 2
    _error_line(capsys)
    assert not list(tmp_path.iterdir())  # nothing written


@pytest.mark.parametrize("argv", [
    ["sample", "--branch-at", "-5", "--gif", "x.gif"],
    ["sample", "--branch-at", "10", "--branches", "0", "--gif", "x.gif"],
    ["sample", "--filmstrip", "s.png", "--filmstrip-frames", "1"],
    ["sample", "--filmstrip", "s.png", "--decision-tol", "nan"],
    ["sample", "--filmstrip", "s.png", "--png", "s.png"],
    ["compare", "--vary", "sampler=ddpm,ddim", "--rows", "0", "--png", "x.png"],
    ["compare", "--vary", "sampler=ddpm,ddim", "--diff-against", "x", "--png", "x.png"],
])
def test_bad_numbers_and_clashing_paths_get_one_error_line(argv, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main([*argv[:1], *FAST, *argv[1:]]) == 2
    _error_line(capsys)
    assert not list(tmp_path.iterdir())


COMPARE_BAD = {  # compare's own options; the ones it shares with sample are checked by tests/cli/test_bad_options.py
    "--vary": ["", "sampler", "sampler=ddpm", "flavour=a,b", "steps=1,x", "eta=nan,0", "guidance=inf,1",
               "steps=1,2,3,4,5", "steps=2,2"],
    "--match": ["foo", ""],
    "--diff-against": ["abc", "", "nan", "0", "-1", "5", "1.5"],
    "--rows": ["abc", "", "nan", "inf", "0", "-1", "51", str(2**64)],
    "--seeds": ["0-3"],  # sample's, refused here
    "--branch-at": ["10"],
    "--filmstrip": ["strip.png"],
}


@pytest.mark.parametrize("option,value", [(o, v) for o, values in COMPARE_BAD.items() for v in values])
def test_compare_bad_values_are_one_error_line(option, value, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    vary = [] if option == "--vary" else ["--vary", "steps=2,1"]
    bad = [f"{option}={value}"] if value.startswith("-") else [option, value]
    argv = ["compare", *FAST, "--sampler", "ddim", *vary, "--png", "grid.png", *bad]
    assert main(argv) == 2
    _error_line(capsys)
    assert not list(tmp_path.iterdir())


def test_every_compare_option_is_covered() -> None:
    from diffusion_studio.cli import build_parser
    from tests.cli.test_bad_options import BAD_VALUES

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for action in sub.choices["compare"]._actions:
        names = {o for o in action.option_strings if o.startswith("--")}
        if action.nargs != 0 and names and "--help" not in names:
            assert names & (set(COMPARE_BAD) | set(BAD_VALUES["sample"])), f"compare {names} has no bad-value case"
