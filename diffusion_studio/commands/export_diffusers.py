"""``diffusion-studio export-diffusers MODEL OUT``: a model trained with ``--arch unet2d`` as a diffusers folder."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="a model folder written by `diffusion-studio train --arch unet2d`")
    p.add_argument("out", help="the diffusers folder to write (must not exist yet)")


def run(args: argparse.Namespace) -> int:
    from diffusion_studio.models.diffusers_export import export_diffusers

    out = export_diffusers(args.model, args.out)
    print(f"wrote {out} (model_index.json, unet/, scheduler/); diffusers opens it with DDPMPipeline.from_pretrained.")
    return 0
