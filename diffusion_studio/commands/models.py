"""``diffusion-studio models``: list the available models with their size, classes and origin."""

from __future__ import annotations

import argparse

from diffusion_studio.models.registry import describe_models, has_classifier


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--verbose", "-v", action="store_true", help="also list every class name")


def run(args: argparse.Namespace) -> int:
    rows = []
    for info in describe_models():
        size = "any size" if info.image_size is None else f"{info.image_size}x{info.image_size}"
        channels = {None: "any", 1: "grey", 3: "RGB"}.get(info.channels, str(info.channels))
        schedule = "any schedule" if info.schedule is None else info.training_schedule().describe()
        classes = f"{info.num_classes} classes" if info.num_classes else "no classes"
        params = f"{info.parameters / 1e6:.2f}M params" if info.parameters else "no training"
        rows.append((info, f"{info.name:<10} {size:<9} {channels:<5} {classes:<11} {params:<14} {schedule}"))
    for info, line in rows:
        print(line)
        print(f"{'':<10} {info.origin}")
        if info.licence:
            print(f"{'':<10} licence: {info.licence}")
        if info.class_names:
            print(f"{'':<10} {_guidance_line(info.name)}")
        if args.verbose and info.class_names:
            print(f"{'':<10} classes: {', '.join(info.class_names)}")
    from diffusion_studio.models.diffusers_cache import cached_model_lines

    cached = cached_model_lines()  # diffusers models in the local Hugging Face cache
    if cached:
        print("\n" + "\n".join(cached))
    return 0


def _guidance_line(name: str) -> str:
    """Which guidance a model with classes takes (classifier guidance needs a noise-aware classifier)."""
    try:
        with_classifier = has_classifier(name)
    except OSError:
        with_classifier = False
    if with_classifier:
        return "guidance: classifier-free (--guidance) and classifier (--classifier-scale: it has a classifier)"
    return "guidance: classifier-free (--guidance); no classifier, so no --classifier-scale"
