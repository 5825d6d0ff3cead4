"""Every option of every command with bad values: one ``error:`` line, exit code 2, no traceback, no file.

The commands run in-process through ``diffusion_studio.cli.main`` (fast); test_bad_options_subprocess.py
proves with a few real processes that no traceback reaches the terminal.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from diffusion_studio.cli import main

NON_NUMBERS = ["abc", "", "1,5", "0x10"]
NOT_FINITE = ["nan", "inf", "-inf", "NaN", "1e400"]
HUGE_INT = ["100000000000", str(2**64), "1" + "0" * 40]

# command -> option -> bad values (the rest of the command line is valid and fast)
BAD_VALUES: dict[str, dict[str, list[str]]] = {
    "sample": {
        "--T": [*NON_NUMBERS, *NOT_FINITE, "-1", "0", "1", "2.5", "4001", *HUGE_INT],
        "--size": [*NON_NUMBERS, *NOT_FINITE, "-4", "0", "7", "100000", *HUGE_INT],
        "--steps": [*NON_NUMBERS, *NOT_FINITE, "-1", "0", "1.5", "4001", *HUGE_INT],
        "--eta": [*NON_NUMBERS, *NOT_FINITE, "-0.1", "1.5", "1e308"],
        "--seed": [*NON_NUMBERS, *NOT_FINITE, "-1", "1.5", str(2**64), "-" + str(2**63 + 1), "1" + "0" * 40],
        "--batch": [*NON_NUMBERS, *NOT_FINITE, "-1", "0", "100000", *HUGE_INT],
        "--guidance": [*NON_NUMBERS, *NOT_FINITE, "1e308", "-1e308", "101"],
        "--classifier-scale": [*NON_NUMBERS, *NOT_FINITE, "-1", "1e308"],
        "--strength": [*NON_NUMBERS, *NOT_FINITE, "0", "-0.5", "1.5"],
        "--frames": [*NON_NUMBERS, *NOT_FINITE, "-5", "0", "1", "100000"],
        "--fps": [*NON_NUMBERS, *NOT_FINITE, "0", "-1", "0.001", "1000"],
        "--scale": [*NON_NUMBERS, *NOT_FINITE, "0", "-1", "100000"],
        "--hold": [*NON_NUMBERS, *NOT_FINITE, "-5", "1000000000"],
        "--threads": [*NON_NUMBERS, *NOT_FINITE, "0", "-1", "1000000"],
        "--churn": [*NON_NUMBERS, *NOT_FINITE, "-1", "1e308"],
        "--guidance-interval": ["abc", "", "5", "1,x", "700,200", "nan,1", "-1,5", "1,2,3"],
        "--sampler": ["foo", ""],
        "--spacing": ["foo"],
        "--variance": ["foo"],
        "--device": ["foo", "cuda:99"],
        "--panels": ["foo", "", ",", "x_t,bar", "v,velocity", "diff"],
        "--schedule": ["foo"],
        "--model": ["nope", "FOLDER"],
        "--class": ["nope", "-1", "99"],
        "--init": ["missing.png", "FOLDER", "TEXTFILE"],
        "--gif": ["/nonexistent-folder/a.gif", "FOLDER"],
        "--png": ["/nonexistent-folder/a.png", "FOLDER"],
        "--sheet": ["/nonexistent-folder/a.png", "FOLDER"],
        "--seeds": ["abc", "", "-1", "5-2", "0-100000"],
        "--branch-at": [*NON_NUMBERS, *NOT_FINITE, "-1", "100000"],
        "--branches": [*NON_NUMBERS, *NOT_FINITE, "-1", "0", "100000"],
        "--filmstrip": ["/nonexistent-folder/a.png", "FOLDER"],
        "--filmstrip-frames": [*NON_NUMBERS, *NOT_FINITE, "-1", "0", "100000"],
        "--decision-tol": [*NON_NUMBERS, *NOT_FINITE, "-1"],
    },
    "noise": {
        "--t": ["abc", "", "-1", "1000", "5000", "nan", "1.5"],
        "--schedule": ["foo"],
        "--T": [*NON_NUMBERS, *NOT_FINITE, "-1", "0", "1", "4001", *HUGE_INT],
        "--size": [*NON_NUMBERS, *NOT_FINITE, "-4", "0", "7", "100000", *HUGE_INT],
        "--seed": [*NON_NUMBERS, *NOT_FINITE, "-1", str(2**64)],
        "--frames": [*NON_NUMBERS, *NOT_FINITE, "-5", "0", "1", "100000"],
        "--fps": [*NON_NUMBERS, *NOT_FINITE, "0", "-1", "0.001", "1000"],
        "--threads": [*NON_NUMBERS, "0", "-1", "1000000"],
        "--out": ["/nonexistent-folder/a.png", "FOLDER"],
        "--gif": ["/nonexistent-folder/a.gif", "FOLDER"],
    },
    "lens": {
        "--model": ["nope", "FOLDER"],
        "--schedule": ["foo"],
        "--T": [*NON_NUMBERS, *NOT_FINITE, "-1", "0", "1", "4001"],
        "--size": [*NON_NUMBERS, *NOT_FINITE, "-4", "0", "100000"],
        "--class": ["nope"],
        "--guidance": [*NON_NUMBERS, *NOT_FINITE, "1e308"],
        "--device": ["foo"],
        "--seed": [*NON_NUMBERS, *NOT_FINITE, "-1", str(2**64)],
        "--samplers": ["foo", "", "euler,foo", "euler:foo", "ddim:karras", ":karras"],
        "--steps": [*NON_NUMBERS, *NOT_FINITE, "-1", "0", "100000"],
        "--spacing": ["foo"],
        "--at": ["abc", "-5", "100000"],
        "--substeps": [*NON_NUMBERS, *NOT_FINITE, "-1", "0", "100000"],
        "--png": ["/nonexistent-folder/a.png", "FOLDER"],
        "--csv": ["/nonexistent-folder/a.csv", "FOLDER"],
    },
    "train": {
        "--data": ["missing.npz", "TEXTFILE", "EMPTYFOLDER"],
        "--out": ["TEXTFILE", "TEXTFILE/x", "/dev/null/model", ""],
        "--steps": [*NON_NUMBERS, *NOT_FINITE, "-1", "0", "1.5", *HUGE_INT],
        "--size": [*NON_NUMBERS, *NOT_FINITE, "-1", "0", "3", "100000"],
        "--channels": ["2", "abc", "0"],
        "--batch": [*NON_NUMBERS, *NOT_FINITE, "-1", "0", "100000"],
        "--lr": [*NON_NUMBERS, *NOT_FINITE, "0", "-1", "2"],
        "--warmup": [*NON_NUMBERS, *NOT_FINITE, "-1", *HUGE_INT],
        "--cooldown": [*NON_NUMBERS, *NOT_FINITE, "-1", *HUGE_INT],
        "--ema": [*NON_NUMBERS, *NOT_FINITE, "0", "1", "-0.5", "2"],
        "--label-dropout": [*NON_NUMBERS, *NOT_FINITE, "-0.1", "1", "2"],
        "--dropout": [*NON_NUMBERS, *NOT_FINITE, "-0.1", "1", "2"],
        "--arch": ["huge", ""],
        "--width": [*NON_NUMBERS, *NOT_FINITE, "-1", "0", "3", "100000"],
        "--schedule": ["foo"],
        "--T": [*NON_NUMBERS, *NOT_FINITE, "-1", "0", "1", "4001"],
        "--device": ["foo"],
        "--seed": [*NON_NUMBERS, *NOT_FINITE, "-1", str(2**64)],
        "--checkpoint-every": [*NON_NUMBERS, *NOT_FINITE, "-1", "0", *HUGE_INT],
        "--sample-every": [*NON_NUMBERS, *NOT_FINITE, "-1", *HUGE_INT],
        "--log-every": [*NON_NUMBERS, *NOT_FINITE, "-1", "0", *HUGE_INT],
        "--threads": [*NON_NUMBERS, "0", "-1", "1000000"],
    },
}

BAD_VALUES["sample"].update({  # seeds, branches and the filmstrip (commands/sample_more.py)
    "--seeds": ["abc", "", "5", "0-100", "1,1", "nan", "1.5-3"],
    "--branch-at": [*NON_NUMBERS, *NOT_FINITE, "-1", "1.5", "500", *HUGE_INT],
    "--branches": [*NON_NUMBERS, *NOT_FINITE, "-1", "0", "9", *HUGE_INT],
    "--filmstrip": ["/nonexistent-folder/a.png", "FOLDER"],
    "--filmstrip-frames": [*NON_NUMBERS, *NOT_FINITE, "-1", "0", "1", "101", *HUGE_INT],
    "--decision-tol": [*NON_NUMBERS, *NOT_FINITE, "0", "-0.1", "3"],
    # samplers12's options, which had no case yet (this test failed on main without them)
    "--churn": [*NON_NUMBERS, *NOT_FINITE, "-1", "1e308"],
    "--guidance-interval": ["abc", "", "5", "nan,1", "3,1", "1,2,3", "-1,5"],
})

FAST_SAMPLE = ["--model", "ideal", "--size", "16", "--sampler", "ddim", "--steps", "2", "--quiet"]
FAST_TRAIN = ["--arch", "tiny", "--width", "8", "--batch", "4", "--T", "20", "--steps", "1"]


def _cases() -> list[tuple[str, str, str]]:
    return [(cmd, opt, v) for cmd, options in BAD_VALUES.items() for opt, values in options.items() for v in values]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """Inputs the commands may read, and the folder they must leave without new files."""
    inputs = tmp_path / "inputs"
    (inputs / "empty").mkdir(parents=True)
    photo = inputs / "photo.png"
    Image.fromarray(np.full((24, 32, 3), 120, np.uint8)).save(photo)
    text = inputs / "notes.txt"
    text.write_text("not a picture")
    data = inputs / "toy.npz"
    np.savez(data, x=np.random.default_rng(0).integers(0, 255, (8, 8, 8), dtype=np.uint8))
    out = tmp_path / "out"
    out.mkdir()
    return {"photo": photo, "text": text, "data": data, "empty": inputs / "empty", "out": out}


def _argv(cmd: str, option: str, value: str, files: dict[str, Path]) -> list[str]:
    value = {"FOLDER": str(files["out"]), "TEXTFILE": str(files["text"]), "EMPTYFOLDER": str(files["empty"])}.get(
        value, value.replace("TEXTFILE", str(files["text"]))
    )
    out = files["out"]
    if cmd == "sample":
        base = [*FAST_SAMPLE, "--png", str(out / "final.png"), "--gif", str(out / "run.gif")]
        if option in ("--class",):
            base = [*base, "--model", "gaussian"] if value == "nope" else [*base]
        if option == "--strength":
            base = [*base, "--init", str(files["photo"])]
    elif cmd == "lens":
        base = ["spectrum", "--size", "16", "--steps", "2", "--png", str(out / "lens.png")]
    elif cmd == "noise":
        base = [str(files["photo"]), "--size", "16", "--out", str(out / "strip.png"), "--gif", str(out / "f.gif")]
    else:
        base = ["--data", str(files["data"]), "--out", str(out / "model"), *FAST_TRAIN]
    # "--seed=-1": a value that starts with "-" must be attached (argparse would take it for an option)
    bad = [f"{option}={value}"] if value.startswith("-") else [option, value]
    return [cmd, *base, *bad]


@pytest.mark.parametrize("cmd,option,value", _cases())
def test_bad_value_is_one_error_line_exit_2_and_no_file(
    cmd: str, option: str, value: str, files: dict[str, Path], capsys, monkeypatch
) -> None:
    monkeypatch.chdir(files["out"].parent)
    assert main(_argv(cmd, option, value, files)) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert "Traceback" not in captured.err and captured.out == ""
    if option.startswith("-") and value not in ("FOLDER", "TEXTFILE", "EMPTYFOLDER") and option not in (
        "--model", "--class", "--init", "--data", "--schedule", "--device", "--out", "--gif", "--png", "--sheet",
        "--samplers",
    ):
        assert option.lstrip("-").split("-")[0].lower() in lines[0].lower(), "the message names the option"
    assert sorted(p.name for p in files["out"].iterdir()) == [], "nothing was written"


def test_every_option_of_every_command_is_covered() -> None:
    """A new option must join BAD_VALUES (or the list of options that take no value or any text)."""
    from diffusion_studio.cli import build_parser

    free_text = {"--name", "--data-notice", "--licence", "--help", "--version"}
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for cmd in BAD_VALUES:
        for action in sub.choices[cmd]._actions:
            takes_value = action.nargs != 0 and action.option_strings
            long_names = [o for o in action.option_strings if o.startswith("--")]
            if takes_value and not set(long_names) & free_text:
                assert set(long_names) & set(BAD_VALUES[cmd]), f"{cmd} {long_names} has no bad-value case"


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["sampel"], "unknown command 'sampel'; did you mean 'sample'?"),
        (["nosie", "x.png"], "did you mean 'noise'?"),
        (["modles"], "did you mean 'models'?"),
        (["frobnicate"], "unknown command 'frobnicate'"),
        (["missing-picture.png"], "there is no file 'missing-picture.png'"),
        (["sample", "--bogus"], "unrecognized arguments: --bogus"),
        (["sample", "--steps"], "--steps: expected one argument"),
        (["models", "extra"], "unrecognized arguments: extra"),
        (["train", "--steps", "5"], "the following arguments are required"),
        (["noise"], "the following arguments are required: image"),
    ],
)
def test_usage_errors_are_one_line(argv: list[str], needle: str, capsys, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and needle in err[0], err


def test_the_same_file_twice_is_refused(tmp_path: Path, capsys) -> None:
    same = str(tmp_path / "a.png")
    assert main(["sample", *FAST_SAMPLE, "--png", same, "--sheet", same]) == 2
    assert "name the same file" in capsys.readouterr().err
    assert not (tmp_path / "a.png").exists()


def test_bad_threads_environment_variable(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("DIFFUSION_STUDIO_THREADS", "lots")
    assert main(["sample", *FAST_SAMPLE, "--png", str(tmp_path / "a.png")]) == 2
    assert capsys.readouterr().err.startswith("error: DIFFUSION_STUDIO_THREADS must be a whole number")
    assert not (tmp_path / "a.png").exists()


def test_a_picture_too_large_is_refused_before_sampling(tmp_path: Path, capsys, monkeypatch) -> None:
    import diffusion_studio.commands.recording as recording

    monkeypatch.setattr(recording, "record_run", lambda *a, **k: pytest.fail("sampling started"))
    argv = ["sample", "--model", "digits", "--batch", "4096", "--scale", "64", "--png", str(tmp_path / "a.png")]
    assert main(argv) == 2
    assert "over the limit of 16,384 pixels a side" in capsys.readouterr().err


def test_a_run_that_cannot_fit_in_memory_is_refused_before_sampling(tmp_path: Path, capsys, monkeypatch) -> None:
    import diffusion_studio.commands.arguments as arguments
    import diffusion_studio.commands.recording as recording

    monkeypatch.setattr(arguments, "free_memory_bytes", lambda: 50 * 1024**2)
    monkeypatch.setattr(recording, "record_run", lambda *a, **k: pytest.fail("sampling started"))
    argv = ["sample", "--model", "digits", "--batch", "256", "--png", str(tmp_path / "a.png"), "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: Sampling a batch of 256") and "GB of memory" in err and "--batch" in err


def test_training_that_cannot_fit_in_memory_is_refused_before_loading(files, capsys, monkeypatch) -> None:
    import diffusion_studio.commands.arguments as arguments

    monkeypatch.setattr(arguments, "free_memory_bytes", lambda: 10 * 1024**2)
    argv = ["train", "--data", str(files["data"]), "--out", str(files["out"] / "m"), "--steps", "1", "--width", "256"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: Training a ") and "lower --width, --batch or --size" in err
    assert not (files["out"] / "m").exists()


def test_an_unwritable_output_folder_is_refused_before_work(files, capsys, monkeypatch) -> None:
    import diffusion_studio.commands.arguments as arguments

    real_access = arguments.os.access
    locked = files["out"]
    monkeypatch.setattr(arguments.os, "access", lambda p, mode: Path(p) != locked and real_access(p, mode))
    for argv in (
        ["sample", *FAST_SAMPLE, "--png", str(locked / "a.png")],
        ["train", "--data", str(files["data"]), "--out", str(locked / "m"), *FAST_TRAIN],
    ):
        assert main(argv) == 2
        assert "is not writable" in capsys.readouterr().err
    assert list(locked.iterdir()) == []
