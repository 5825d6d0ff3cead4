"""The ``diffusion-studio`` command: the desktop app by default, and headless sub-commands.

diffusion-studio [IMAGE]           open the window (with IMAGE loaded)
diffusion-studio noise IMAGE ...   the forward process as a strip or GIF
diffusion-studio sample ...        a reverse process as a GIF / PNG
diffusion-studio models            list models
diffusion-studio compare ...       runs from the same noise that differ in one setting, side by side
diffusion-studio train ...         train a model on a folder of images or an .npz

Every error is one ``error:`` line on stderr with exit code 2 (the usage block only with --help).
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import re
import sys
from pathlib import Path
from typing import NoReturn

from diffusion_studio import APP_NAME, __version__
from diffusion_studio.errors import StudioError

COMMANDS = {
    "noise": ("diffusion_studio.commands.noise", "show the forward (noising) process of an image"),
    "sample": ("diffusion_studio.commands.sample", "denoise from noise or from your image, export GIF/PNG"),
    "models": ("diffusion_studio.commands.models", "list the available models"),
    "compare": ("diffusion_studio.commands.compare", "2 to 4 runs from the same noise, side by side (GIF/PNG)"),
    "lens": ("diffusion_studio.commands.lens", "plot a run's lenses: error vs a reference, spectrum, trajectory"),
    "train": ("diffusion_studio.training.command", "train a diffusion model (DDPM Algorithm 1)"),
    "convert-weights": ("diffusion_studio.commands.convert_weights", "turn a diffusers folder's .bin into safetensors"),
    "export-diffusers": ("diffusion_studio.commands.export_diffusers", "write a unet2d model as a diffusers folder"),
}
USAGE_ERROR = 2


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, unless its help already says it or there is none to show."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        nothing = action.default is None or action.default is False or action.default == argparse.SUPPRESS
        if "default" in text.lower() or nothing or not action.option_strings:
            return text
        return super()._get_help_string(action)


class UsageError(Exception):
    """A command line argparse refused; ``str(err)`` is the one line to print after ``error:``."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line: ``error: --seed must be a whole number ...`` (exit code 2;
    raised as :class:`UsageError` so that ``main`` returns instead of exiting)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(_one_line(message, self.prog))


def _one_line(message: str, prog: str) -> str:
    """argparse's 'argument -v/--verbose: must be ...' as '--verbose must be ...'; a --help hint where useful."""
    match = re.match(r"argument ([^:]+): (.*)", message, re.S)
    if match:
        option = match.group(1).split("/")[-1]
        rest = match.group(2)
        message = f"{option} {rest}" if rest.split(" ", 1)[0] in ("must", "takes", "needs") else f"{option}: {rest}"
    if message.startswith(("unrecognized arguments", "the following arguments are required")):
        message += f" (see {prog} --help)"
    return " ".join(message.split())


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="diffusion-studio",
        description=f"{APP_NAME}: see how a diffusion model works. Without a command, opens the desktop app: "
        "`diffusion-studio` or `diffusion-studio IMAGE` (with your picture loaded).",
        usage="diffusion-studio [IMAGE] | diffusion-studio COMMAND [options]",
    )
    parser.add_argument("--version", action="version", version=f"{APP_NAME} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, summary) in COMMANDS.items():
        p = sub.add_parser(name, help=summary, description=summary, prog=f"diffusion-studio {name}")
        importlib.import_module(module_name).add_arguments(p)
    return parser


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return USAGE_ERROR


def _unknown_word(word: str) -> str | None:
    """The error for a first word that is neither a command nor an existing file, or None if it is a file."""
    if Path(word).expanduser().exists():
        return None
    close = difflib.get_close_matches(word, list(COMMANDS), n=1, cutoff=0.6)
    if close:
        return f"unknown command '{word}'; did you mean '{close[0]}'?"
    if Path(word).suffix or "/" in word or "\\" in word:
        return f"there is no file '{word}' to open."
    return f"unknown command '{word}'; the commands are {', '.join(COMMANDS)} (or give an image file to open)."


def _run_app(argv: list[str]) -> int:
    app_parser = Parser(prog="diffusion-studio", description=f"Open the {APP_NAME} window.")
    app_parser.add_argument("images", nargs="*", help="image to open (the first one is loaded)")
    try:
        args = app_parser.parse_args(argv)
    except UsageError as err:
        return _fail(str(err))
    from diffusion_studio.commands.display import display_problem

    problem = display_problem()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    try:
        from diffusion_studio.app.main import run_app
    except ImportError as err:
        print(
            f"error: the desktop app cannot start here ({err}); the sub-commands still work, see --help.",
            file=sys.stderr,
        )
        return 1
    return run_app(args.images[0] if args.images else None)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv == ["--version"]:  # answered before the sub-commands (and torch) are imported
        print(f"{APP_NAME} {__version__}")
        return 0
    from diffusion_studio.threads import prepare_environment

    prepare_environment()  # the OpenMP wait policy must be set before torch is imported
    if argv and argv[0] not in COMMANDS and not argv[0].startswith("-"):
        problem = _unknown_word(argv[0])
        if problem:
            return _fail(problem)
    if not argv or (argv[0] not in COMMANDS and not argv[0].startswith("-")):
        return _run_app(argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as err:
        return _fail(str(err))
    if args.command is None:
        return _run_app([])
    module = importlib.import_module(COMMANDS[args.command][0])
    try:
        from diffusion_studio.threads import configure_threads

        configure_threads(getattr(args, "threads", None))  # every command, --threads where it has one
        return int(module.run(args) or 0)
    except StudioError as err:
        return _fail(str(err))
    except KeyboardInterrupt:
        # outputs are written atomically, so an interrupted command leaves no half-written file;
        # train keeps its last complete checkpoint (continue with --resume)
        print("\ninterrupted.", file=sys.stderr)
        return 130
    except MemoryError:
        return _fail("the computer ran out of memory; try a smaller --batch, --size or --frames.")
    except OSError as err:  # a file problem no check could foresee (a full disk, a vanished folder...)
        where = f" '{err.filename}'" if err.filename else ""
        return _fail(f"could not read or write{where}: {err.strerror or err}.")
