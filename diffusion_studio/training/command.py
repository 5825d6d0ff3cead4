"""``diffusion-studio train``: train a U-Net into --out (or, with --classifier, a noise-aware classifier).

Output folder (``--out``)::

    model.safetensors, model.json   the EMA weights of the U-Net and their description (see models/weights.py)
    classifier.safetensors/.json    with --classifier: p(y | x_t, t) for classifier guidance
    NOTICE.txt                      training data attribution and licence
    samples.png                     a DDIM-50 contact sheet from the EMA network (one row per class)
    checkpoints/unet/, checkpoints/classifier/   resumable state (not to be shipped)

Also runnable as ``python -m diffusion_studio.training.command`` (same options).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import sys
from pathlib import Path

import torch

from diffusion_studio.commands import arguments as A
from diffusion_studio.core.schedules import MAX_T, MIN_T, SCHEDULE_NAMES, make_schedule, schedule_from_spec
from diffusion_studio.errors import OptionError
from diffusion_studio.models.classifier import (
    ClassifierConfig,
    NoisyClassifier,
    classifier_meta,
    save_classifier,
)
from diffusion_studio.models.unet import UNet, UNetConfig, count_parameters
from diffusion_studio.models.weights import MODEL_STEM, model_meta, read_meta, save_model
from diffusion_studio.threads import MAX_THREADS
from diffusion_studio.training.checkpoint import latest_state
from diffusion_studio.training.data import Dataset, load_dataset
from diffusion_studio.training.distributed import is_main_process
from diffusion_studio.training.loop import TrainConfig, train
from diffusion_studio.training.notice import DataNotice, data_notice, notice_text
from diffusion_studio.training.objectives import classifier_loss, eps_loss
from diffusion_studio.training.sheet import sample_grid, save_sheet

ARCHS = {
    # ~1.8M parameters (7 MB fp32): ~13 ms per 32 x 32 sampling step at batch 1 on 2 CPU cores.
    "small": {
        "base_channels": 32,
        "channel_mults": (1, 2, 3),
        "num_res_blocks": 1,
        "attention_at_lowest": True,
    },
    # ~0.1M parameters: for tests and quick CPU trials.
    "tiny": {"base_channels": 16, "channel_mults": (1, 2), "num_res_blocks": 1, "attention_at_lowest": False},
}
MAX_COUNT = 10**9  # steps, warm-up, intervals
MAX_SIZE = 1024  # training image side
MAX_WIDTH = 1024  # base channels
CLASSIFIER_ARCHS = {
    "small": {"base_channels": 32, "channel_mults": (1, 2, 2), "num_res_blocks": 1},
    "tiny": {"base_channels": 16, "channel_mults": (1, 2), "num_res_blocks": 1},
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``diffusion-studio train``."""
    a = parser.add_argument
    a(
        "--data",
        required=True,
        help="a folder of images (subfolders = classes) or an .npz with x [, y, classes]",
    )
    a("--out", type=A.output_folder, required=True, help="the model folder to write (created if needed)")
    a("--steps", type=A.whole(1, MAX_COUNT), required=True, help="optimizer steps in total (resumed steps included)")
    a(
        "--size",
        type=A.whole(4, MAX_SIZE),
        help="scale and centre-crop every image to SIZE x SIZE (default: keep; all must match)",
    )
    a("--channels", type=int, choices=(1, 3), help="1 = grey, 3 = RGB (default: as the data; a folder: 3)")
    a("--classes", action="store_true", help="class-conditional (labels from subfolders or the npz's y)")
    a(
        "--classifier",
        action="store_true",
        help="train the noise-aware classifier for classifier guidance instead",
    )
    a("--resume", action="store_true", help="continue from the last checkpoint in --out (same options)")
    a("--batch", type=A.whole(1, 65536), default=64, help="images per step (default 64)")
    a("--lr", type=A.number(0, 1, lo_open=True), default=2e-4, help="AdamW learning rate after warm-up (default 2e-4)")
    a("--warmup", type=A.whole(0, MAX_COUNT), default=200, help="learning-rate warm-up steps (default 200)")
    a(
        "--cooldown",
        type=A.whole(0, MAX_COUNT),
        default=0,
        help="decay the learning rate linearly to 0 over the last N steps (default 0: constant; "
        "may be added on --resume)",
    )
    a(
        "--ema",
        type=A.number(0, 1, lo_open=True, hi_open=True),
        default=0.999,
        help="EMA decay of the shipped weights (default 0.999)",
    )
    a(
        "--label-dropout",
        type=A.number(0, 1, hi_open=True),
        default=0.1,
        help="share of labels replaced by the null class (default 0.1)",
    )
    a(
        "--dropout",
        type=A.number(0, 1, hi_open=True),
        default=0.0,
        help="dropout inside the residual blocks (default 0)",
    )
    a("--flip", action="store_true", help="random horizontal flips (not for digits or text)")
    a(
        "--arch",
        choices=[*sorted(ARCHS), "unet2d"],
        default="small",
        help="network size, or unet2d: a diffusers UNet2DModel (default small)",
    )
    a("--width", type=A.whole(4, MAX_WIDTH), help="base channel count, overriding the --arch preset")
    a("--schedule", choices=SCHEDULE_NAMES, default="linear", help="noise schedule (default linear)")
    a("--T", type=A.whole(MIN_T, MAX_T), default=1000, help="number of diffusion steps (default 1000)")
    a("--device", choices=("auto", "cpu", "cuda"), default="auto", help="auto = CUDA when present")
    a(
        "--bf16",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="bf16 autocast (default: on with CUDA)",
    )
    a("--seed", type=A.seed, default=0, help="random seed (default 0)")
    a("--checkpoint-every", type=A.whole(1, MAX_COUNT), default=1000, help="steps between checkpoints (default 1000)")
    a(
        "--sample-every",
        type=A.whole(0, MAX_COUNT),
        default=0,
        help="steps between sample sheets (default: only at the end)",
    )
    a(
        "--log-every",
        type=A.whole(1, MAX_COUNT),
        default=100,
        help="steps between progress lines when not on a terminal (default 100)",
    )
    a("--name", help="model name shown in the app (default: the --out folder's name)")
    a("--data-notice", help="attribution text for NOTICE.txt (known project data files are recognised)")
    a("--licence", help="licence of the training data, one line (e.g. 'CC BY 4.0')")
    a("--threads", type=A.whole(1, MAX_THREADS), help="CPU threads (default: the idle cores)")


def resolve_device(choice: str) -> torch.device:
    if choice == "cuda" and not torch.cuda.is_available():
        raise OptionError("--device cuda was asked for, but no CUDA GPU is available to PyTorch.")
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(choice)


def train_config(args: argparse.Namespace, device: torch.device) -> TrainConfig:
    bf16 = device.type == "cuda" if args.bf16 is None else bool(args.bf16)
    if bf16 and device.type != "cuda":
        raise OptionError("--bf16 needs a CUDA device.")
    return TrainConfig(
        steps=args.steps,
        batch=args.batch,
        lr=args.lr,
        warmup=args.warmup,
        cooldown=args.cooldown,
        ema_decay=args.ema,
        flip=args.flip,
        seed=args.seed,
        checkpoint_every=max(1, args.checkpoint_every),
        sample_every=max(0, args.sample_every),
        log_every=max(1, args.log_every),
        bf16=bf16,
    )


def run(args: argparse.Namespace) -> int:
    """Train as the options say; bad input raises DataError / OptionError / ModelError (one sentence)."""
    _check_numbers(args)
    _check_fits(args)
    device = resolve_device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    data = load_dataset(args.data, args.size, args.channels, with_labels=args.classes or args.classifier)
    out = Path(args.out).expanduser()
    if not args.resume and latest_state(out / "checkpoints" / _kind(args)) is not None:
        raise OptionError(
            f"{out} already holds a {_kind(args)} training run; add --resume or choose a new --out."
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OptionError(f"Could not create the model folder {out} ({err.strerror or err}).") from None
    notice = data_notice(args.data, args.data_notice, args.licence)
    cfg = train_config(args, device)
    torch.manual_seed(args.seed)  # the network's initial weights
    if args.classifier:
        return _train_classifier(args, data, out, cfg, device, notice)
    return _train_unet(args, data, out, cfg, device, notice)


def _check_fits(args: argparse.Namespace) -> None:
    """Refuse, before loading anything, a run that cannot fit in memory (see training/budget.py)."""
    from diffusion_studio.training.budget import check_training_fits

    channels = args.channels or 3
    if args.arch == "unet2d" and args.classifier:
        raise OptionError("--arch unet2d trains a diffusers denoiser, not a classifier; choose another --arch.")
    if args.arch == "unet2d":  # a diffusers UNet2DModel (training/unet2d.py)
        from diffusion_studio.training.unet2d import UNet2DNet, unet2d_config

        width = args.width or 32
        config = unet2d_config(args.size or 32, channels, 0, width)  # the side does not change the parameters
        check_training_fits(args.data, args.size, args.channels, args.batch, width, lambda: UNet2DNet(config))
        return
    presets = CLASSIFIER_ARCHS if args.classifier else ARCHS
    arch = {**presets[args.arch], **({"base_channels": args.width} if args.width else {})}
    if args.classifier:
        def build():
            return NoisyClassifier(ClassifierConfig(in_channels=channels, num_classes=2, **arch), ("a", "b"), None)
    else:
        def build():
            return UNet(UNetConfig(in_channels=channels, num_classes=0, **arch))
    check_training_fits(args.data, args.size, args.channels, args.batch, arch["base_channels"], build)


def _kind(args: argparse.Namespace) -> str:
    return "classifier" if args.classifier else "unet"


def _check_numbers(args: argparse.Namespace) -> None:
    checks = [
        (args.steps >= 1, "--steps must be at least 1"),
        (args.batch >= 1, "--batch must be at least 1"),
        (args.lr > 0, "--lr must be positive"),
        (args.cooldown >= 0, "--cooldown must be 0 or more"),
        (0 <= args.label_dropout < 1, "--label-dropout must be in [0, 1)"),
        (0 <= args.dropout < 1, "--dropout must be in [0, 1)"),
        (0 < args.ema < 1, "--ema must be between 0 and 1"),
        (args.width is None or args.width >= 4, "--width must be at least 4"),
    ]
    for ok, message in checks:
        if not ok:
            raise OptionError(message + ".")


def _settings(args: argparse.Namespace, data: Dataset, arch: dict) -> dict:
    return {
        "data": str(Path(args.data).resolve()),
        "images": len(data),
        "size": data.size,
        "channels": data.channels,
        "classes": list(data.class_names),
        "arch": arch,
        "schedule": args.schedule,
        "T": args.T,
        "label_dropout": args.label_dropout,
    }


def _training_block(
    args: argparse.Namespace, cfg: TrainConfig, device: torch.device, notice: DataNotice, steps: int
) -> dict:
    return {
        "data": notice.description,
        "data_file": Path(args.data).name,
        "licence": notice.licence,
        "attribution": notice.attribution,
        "steps": steps,
        "batch": cfg.batch,
        "lr": cfg.lr,
        "cooldown": cfg.cooldown,
        "ema_decay": cfg.ema_decay,
        "flip": cfg.flip,
        "label_dropout": args.label_dropout if args.classes else None,
        "seed": cfg.seed,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "date": _dt.date.today().isoformat(),
    }


def _announce(name: str, net: torch.nn.Module, data: Dataset, device, kind: str = "") -> None:
    """The run's first line (rank 0 alone under torchrun): network size, data and device."""
    if is_main_process():
        print(
            f"Training '{name}'{kind}: {count_parameters(net):,} parameters, {len(data)} images of {data.size} x "
            f"{data.size} x {data.channels}, {len(data.class_names) or 'no'} classes, on {device}.",
            file=sys.stderr,
        )


def _sheet_writer(out: Path, schedule, size: int):
    """The loop's sample-sheet callback: samples-<step>.png beside the checkpoints and samples.png in ``out``."""

    def sheet(ema, step: int) -> None:
        grid = sample_grid(ema.model, schedule, size)
        (out / "checkpoints" / "unet").mkdir(parents=True, exist_ok=True)  # --sample-every may come before a checkpoint
        save_sheet(out / "checkpoints" / "unet" / f"samples-{step:07d}.png", grid)
        save_sheet(out / "samples.png", grid)

    return sheet


def _train_unet(args, data: Dataset, out: Path, cfg: TrainConfig, device, notice: DataNotice) -> int:
    if args.arch == "unet2d":  # a diffusers UNet2DModel, same loop (training/unet2d.py)
        from diffusion_studio.training.unet2d import train_unet2d

        return train_unet2d(args, data, out, cfg, device, notice)
    schedule = make_schedule(args.schedule, args.T)
    arch = dict(ARCHS[args.arch])
    if args.width:
        arch["base_channels"] = args.width
    config = UNetConfig(
        in_channels=data.channels, num_classes=len(data.class_names), dropout=args.dropout, **arch
    )
    net = UNet(config)
    name = args.name or out.name
    _announce(name, net, data, device)
    sheet = _sheet_writer(out, schedule, data.size)

    null = config.num_classes
    result = train(
        net,
        lambda n, x0, y, g, keep=None: eps_loss(n, schedule, x0, y, g, args.label_dropout, null, keep=keep),
        data,
        cfg,
        out / "checkpoints" / "unet",
        device,
        _settings(args, data, config.to_dict()),
        args.resume,
        sheet,
    )
    if not is_main_process():  # under torchrun, rank 0 alone writes the model folder
        return 0
    training = _training_block(args, cfg, device, notice, result.step)
    meta = model_meta(
        config,
        image_size=data.size,
        schedule=schedule.spec(),
        class_names=data.class_names,
        name=name,
        training=training,
    )
    save_model(out, result.ema.model, meta)
    _write_notice(out, name, notice, result.step, training["date"])
    print(
        f"Wrote {out / 'model.safetensors'} (EMA weights after {result.step} steps, final loss "
        f"{result.losses[-1]:.4f}) and {out / 'samples.png'}.",
        file=sys.stderr,
    )
    return 0


def _train_classifier(args, data: Dataset, out: Path, cfg: TrainConfig, device, notice: DataNotice) -> int:
    schedule = make_schedule(args.schedule, args.T)
    if (out / f"{MODEL_STEM}.json").is_file():  # use the schedule of the U-Net it will guide
        spec = read_meta(out, MODEL_STEM).get("schedule")
        if isinstance(spec, dict) and not schedule_from_spec(spec).same_as(schedule):
            raise OptionError(
                f"The model in {out} uses the {schedule_from_spec(spec).describe()} schedule; "
                "train its classifier with the same --schedule and --T."
            )
    arch = dict(CLASSIFIER_ARCHS[args.arch])
    if args.width:
        arch["base_channels"] = args.width
    config = ClassifierConfig(
        in_channels=data.channels, num_classes=len(data.class_names), dropout=args.dropout, **arch
    )
    clf = NoisyClassifier(config, data.class_names, schedule.spec())
    print(
        f"Training the noise-aware classifier: {count_parameters(clf):,} parameters, {len(data)} images, "
        f"{len(data.class_names)} classes, on {device}.",
        file=sys.stderr,
    )
    result = train(
        clf,
        lambda n, x0, y, g, keep=None: classifier_loss(n, schedule, x0, y, g, keep=keep),
        data,
        cfg,
        out / "checkpoints" / "classifier",
        device,
        _settings(args, data, config.to_dict()),
        args.resume,
    )
    if not is_main_process():
        return 0
    training = _training_block(args, cfg, device, notice, result.step)
    save_classifier(out, result.ema.model, classifier_meta(clf, image_size=data.size, training=training))
    if not (out / "NOTICE.txt").is_file():
        _write_notice(out, args.name or out.name, notice, result.step, training["date"])
    print(
        f"Wrote {out / 'classifier.safetensors'} (EMA weights after {result.step} steps, final loss "
        f"{result.losses[-1]:.4f}).",
        file=sys.stderr,
    )
    return 0


def _write_notice(out: Path, name: str, notice: DataNotice, steps: int, date: str) -> None:
    from diffusion_studio.io.atomic import atomic_write

    text = notice_text(name, notice, steps, date)
    atomic_write(out / "NOTICE.txt", lambda tmp: tmp.write_text(text, encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    """``python -m diffusion_studio.training.command ...`` is ``diffusion-studio train ...``."""
    from diffusion_studio.cli import main as cli_main

    return cli_main(["train", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
