"""``diffusion-studio compare``: 2 to 4 runs from the same start noise, side by side on one playhead.

    diffusion-studio compare --model digits --class 7 --seed 3 --vary sampler=ddpm,ddim --gif cmp.gif --png grid.png

Every option of ``sample`` sets what the runs share; each ``--vary KEY=V1,V2[,V3,V4]`` sets what differs (several
--vary are zipped: the first values make run 1, and so on). Output: a labelled GIF (each column named by what
differs), a PNG grid of steps x runs, and the model calls each run made.
"""

from __future__ import annotations

import argparse

from diffusion_studio.commands import arguments as A
from diffusion_studio.errors import OptionError
from diffusion_studio.session.compare import MAX_RUNS, VARY_KEYS


def add_arguments(p: argparse.ArgumentParser) -> None:
    from diffusion_studio.commands import sample

    sample.add_arguments(p)
    from diffusion_studio.commands import arguments
    from diffusion_studio.session.exports import GROUP_PANELS

    for action in p._actions:  # a comparison also draws the 'diff' panel, and shows x0-hat beside x_t by default
        if action.dest == "panels":
            action.type = arguments.choices_list(GROUP_PANELS)
            action.default = "x_t,x0"
            action.help = f"panels of each run, comma-separated from {','.join(GROUP_PANELS)} (default x_t,x0)"
    c = p.add_argument_group("comparison")
    c.add_argument(
        "--vary", action="append", default=None, metavar="KEY=V1,V2",
        help=f"what differs between the runs (2 to {MAX_RUNS} values), KEY one of {', '.join(VARY_KEYS)}; "
        "repeat to vary several keys together, e.g. --vary sampler=ddpm,ddim --vary steps=1000,50",
    )
    c.add_argument("--match", default="auto", choices=["auto", "t", "logsnr"],
                   help="how runs meet on the playhead: nearest t, or nearest log-SNR (auto: t when the runs visit the "
                   "same timesteps, else log-SNR)")
    c.add_argument("--diff-against", type=A.whole(1, MAX_RUNS), default=1, metavar="N",
                   help="run number that the 'diff' panel is measured against (default 1)")
    c.add_argument("--rows", type=A.whole(1, 50), default=6,
                   help="steps in the --png grid, the finished picture last (default 6; 1: finished pictures only)")


def run(args: argparse.Namespace) -> int:
    from diffusion_studio.commands.group_outputs import (
        check_outputs,
        panels_of,
        print_costs,
        progress_bars,
        request_from_args,
        scale_for,
        write_group,
    )
    from diffusion_studio.session.compare import compare, parse_vary
    from diffusion_studio.session.exports import GroupExport

    for flag, value in (("--seeds", args.seeds), ("--branch-at", args.branch_at), ("--filmstrip", args.filmstrip)):
        if value is not None:
            raise OptionError(f"{flag} belongs to `diffusion-studio sample`; compare varies settings with --vary.")
    check_outputs(args, ("gif", "png", "sheet"))
    if args.rows < 1:
        raise OptionError(f"--rows must be at least 1, not {args.rows}.")
    variants = parse_vary(args.vary or [])
    if not 1 <= args.diff_against <= len(variants):
        raise OptionError(f"--diff-against must be a run number from 1 to {len(variants)}.")
    spec_panels = panels_of(args)
    GroupExport(spec_panels).check()

    base = request_from_args(args)
    match = None if args.match == "auto" else args.match
    group = compare(base, variants, match, args.diff_against - 1, progress=progress_bars(args))
    side = max(group.runs[0].shape[1:])
    print_costs(group)
    write_group(args, group, GroupExport(spec_panels, scale=scale_for(args, side)), args.rows)
    return 0
