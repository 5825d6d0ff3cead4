"""``sample --seeds``, ``--branch-at/--branches`` and ``--filmstrip``: more pictures from one setting.

    sample --model digits --class 7 --sampler ddim --seeds 0-8 --png grid.png --gif grid.gif
    sample --model digits --class 7 --seed 3 --branch-at 600 --branches 4 --gif branches.gif
    sample --model digits --class 7 --sampler ddim --filmstrip strip.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from diffusion_studio.commands import arguments as A
from diffusion_studio.errors import OptionError
from diffusion_studio.session.request import RunRequest


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("seeds, branches and the x0 filmstrip")
    g.add_argument("--seeds", default=None, metavar="LIST",
                   help="the same settings for several seeds on one playhead, e.g. 0-8 or 1,5,9,13 (4 or 9 "
                   "make a square): --gif and --png then show them all, labelled")
    g.add_argument("--branch-at", type=A.whole(0, 100_000), default=None, metavar="T",
                   help="continue the run from its step nearest t = T with fresh noise (see --branches); --gif "
                   "and --png show the trunk, the branches and the per-pixel spread across them")
    g.add_argument("--branches", type=A.whole(1, 8), default=4, help="how many branches for --branch-at (default 4)")
    g.add_argument("--filmstrip", type=A.output_file, default=None, metavar="PATH",
                   help="write the predicted x0 at evenly chosen steps as one PNG strip, the decision step marked")
    g.add_argument("--filmstrip-frames", type=A.whole(2, 100), default=10,
                   help="pictures in the --filmstrip (default 10)")
    g.add_argument("--decision-tol", type=A.number(0, 2, lo_open=True), default=0.1,
                   help="the decision step is the first whose x0 stays within this RMS distance of the final "
                   "picture ([-1, 1] units, default 0.1)")


def wanted(args: argparse.Namespace) -> bool:
    return args.seeds is not None or args.branch_at is not None or args.filmstrip is not None


def run(args: argparse.Namespace, request: RunRequest) -> int:
    """Seeds, branches or a filmstrip instead of one plain run (the plain outputs keep their meaning)."""
    from diffusion_studio.commands.group_outputs import panels_of, print_costs, progress_bars, scale_for, write_group
    from diffusion_studio.session.exports import GroupExport
    from diffusion_studio.session.request import prepare_run

    A.distinct_outputs(gif=args.gif, png=args.png, sheet=args.sheet, filmstrip=args.filmstrip)
    if args.seeds is not None and args.branch_at is not None:
        raise OptionError("Choose --seeds or --branch-at, not both.")
    if request.plan.batch != 1:
        raise OptionError("--seeds, --branch-at and --filmstrip work on one picture per run; leave --batch at 1.")
    if args.filmstrip is None and args.gif is None and args.png is None and args.sheet is None:
        raise OptionError("Nothing would be written; give --gif, --png, --sheet or --filmstrip.")
    panels = panels_of(args)
    GroupExport(panels).check()
    seeds = None
    if args.seeds is not None:
        from diffusion_studio.session.seeds import parse_seeds

        seeds = parse_seeds(args.seeds)
    prepared = prepare_run(request)
    spec = GroupExport(panels, scale=scale_for(args, max(prepared.shape[1:])))
    if seeds is not None:
        from diffusion_studio.session.seeds import grid_columns, seed_grid

        group = seed_grid(prepared, seeds, progress=progress_bars(args))
        spec = GroupExport(panels, grid_columns(len(seeds)), spec.scale)
        print_costs(group)
        write_group(args, group, spec, png_rows=1)
        _filmstrip(args, group.runs[0], spec.scale)
        return 0
    from diffusion_studio.session.branching import check_branch
    from diffusion_studio.session.compare import record_runs

    if args.branch_at is not None:
        check_branch(prepared, args.branch_at, args.branches)
    trunk = record_runs([(prepared, f"seed {prepared.plan.seed}", request)], progress=progress_bars(args))[0]
    if args.branch_at is not None:
        from diffusion_studio.session.branching import branch

        branches = branch(trunk, args.branch_at, args.branches)
        trunk.label = f"trunk (seed {trunk.seed})"
        group = branches.group
        spec = GroupExport(panels, scale=spec.scale, extras=(("spread", branches.spread_map),))
        print(f"branched at t = {branches.at_t} (step {branches.at_index + 1} of {len(trunk.timesteps)})",
              file=sys.stderr)
        print_costs(group)
        write_group(args, group, spec, png_rows=6)
    else:  # --filmstrip alone: --png stays the finished picture, --gif/--sheet show this one run
        from diffusion_studio.session.compare import RunGroup

        png, args.png = args.png, None
        write_group(args, RunGroup([trunk]), spec, png_rows=6)
        if png is not None:
            _write_final(png, trunk.final.x_t)
    _filmstrip(args, trunk, spec.scale)
    return 0


def _write_final(path: Path, picture) -> None:
    from PIL import Image

    from diffusion_studio.io.atomic import atomic_write

    image = Image.fromarray(picture[:, :, 0] if picture.shape[2] == 1 else picture)
    atomic_write(path, lambda tmp: image.save(tmp, format="PNG"))
    print(f"wrote {path}", file=sys.stderr)


def _filmstrip(args: argparse.Namespace, run, scale: int) -> None:
    if args.filmstrip is None:
        return
    from diffusion_studio.session.filmstrip import export_filmstrip

    path, strip = export_filmstrip(args.filmstrip, run, args.filmstrip_frames, args.decision_tol, scale)
    print(f"wrote {path} (decision step: t = {strip.decision.t}, tolerance {strip.tolerance:g})", file=sys.stderr)
