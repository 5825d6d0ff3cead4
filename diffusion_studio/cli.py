"""The ``diffusion-studio`` command: the desktop app by default, and headless sub-commands.

diffusion-studio [IMAGE]           open the window (with IMAGE loaded)
diffusion-studio noise IMAGE ...   the forward process as a strip or GIF
diffusion-studio sample ...        a reverse process as a GIF / PNG
diffusion-studio models            list models
diffusion-studio train ...         train a model on a folder of images or an .npz
"""

from __future__ import annotations

import argparse
import importlib
import sys

from diffusion_studio import APP_NAME, __version__
from diffusion_studio.errors import StudioError

COMMANDS = {
    "noise": ("diffusion_studio.commands.noise", "show the forward (noising) process of an image"),
    "sample": ("diffusion_studio.commands.sample", "denoise from noise or from your image, export GIF/PNG"),
    "models": ("diffusion_studio.commands.models", "list the available models"),
    "train": ("diffusion_studio.training.command", "train a diffusion model (DDPM Algorithm 1)"),
    "convert-weights": ("diffusion_studio.commands.convert_weights", "turn a diffusers folder's .bin into safetensors"),
    "export-diffusers": ("diffusion_studio.commands.export_diffusers", "write a unet2d model as a diffusers folder"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="diffusion-studio",
        description=f"{APP_NAME}: see how a diffusion model works. Without a command, opens the desktop app.",
    )
    parser.add_argument("--version", action="version", version=f"{APP_NAME} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, summary) in COMMANDS.items():
        p = sub.add_parser(name, help=summary, description=summary)
        importlib.import_module(module_name).add_arguments(p)
    return parser


def _run_app(argv: list[str]) -> int:
    app_parser = argparse.ArgumentParser(prog="diffusion-studio", description=f"Open the {APP_NAME} window.")
    app_parser.add_argument("images", nargs="*", help="image to open (the first one is loaded)")
    args = app_parser.parse_args(argv)
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
    if not argv or (argv[0] not in COMMANDS and not argv[0].startswith("-")):
        return _run_app(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        return _run_app([])
    module = importlib.import_module(COMMANDS[args.command][0])
    try:
        return int(module.run(args) or 0)
    except StudioError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # outputs are written atomically, so an interrupted command leaves no half-written file;
        # train keeps its last checkpoint (continue with --resume)
        print("\ninterrupted.", file=sys.stderr)
        return 130
