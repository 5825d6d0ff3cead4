"""Help texts say what a new user needs: every default, the app's IMAGE form, which model takes a classifier."""

from __future__ import annotations

import re

import pytest

from diffusion_studio.cli import main


def _help(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as info:
        main([*argv, "--help"])
    assert info.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # unwrap argparse's line breaks


def test_top_level_help_mentions_opening_an_image(capsys) -> None:
    assert "diffusion-studio IMAGE" in _help(capsys)


@pytest.mark.parametrize(
    "option,default",
    [
        ("--sampler", "ddpm"),
        ("--steps", "T for DDPM, 50 for DDIM"),
        ("--seed", "0"),
        ("--eta", "0.0"),
        ("--spacing", "leading"),
        ("--variance", "beta_tilde"),
        ("--fps", "20.0"),
        ("--guidance", "1.0"),
        ("--classifier-scale", "0.0"),
        ("--batch", "1"),
        ("--frames", "100"),
        ("--hold", "1500"),
    ],
)
def test_sample_help_shows_every_default(capsys, option: str, default: str) -> None:
    text = _help(capsys, "sample")
    entry = re.search(re.escape(option) + r" [A-Z_{},a-z0-9]+ (.*?)(?= --[a-z]|$)", text.split("options:", 1)[1])
    assert entry is not None and f"default: {default}" in entry.group(1).replace("(default ", "(default: "), entry


def test_sub_command_usage_names_the_command(capsys) -> None:
    assert _help(capsys, "sample").startswith("usage: diffusion-studio sample ")


def test_models_says_which_model_takes_classifier_guidance(capsys) -> None:
    assert main(["models"]) == 0
    out = capsys.readouterr().out.splitlines()
    blocks: dict[str, list[str]] = {}
    for line in out:
        if line and not line.startswith(" "):
            blocks[line.split()[0]] = []
        else:
            blocks[list(blocks)[-1]].append(line)
    if "digits" in blocks:  # the built-in digits model ships its noise-aware classifier
        assert any("--classifier-scale: it has a classifier" in line for line in blocks["digits"])
    if "emoji" in blocks:
        assert any("no classifier, so no --classifier-scale" in line for line in blocks["emoji"])
