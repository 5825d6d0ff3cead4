"""``diffusion-studio lens error|spectrum|trajectory|placement``: the lenses of a run as PNG plots (and CSV numbers).

error       per-step RMS distance of x0-hat from a fine reference (exact posterior mean for ideal/gaussian),
            one curve per sampler, all from the same seed
spectrum    radially averaged power spectra of x_t, x0-hat and eps-hat at chosen t, with the noise floor
trajectory  x_t and x0-hat of each sampler's run on the first two principal components of all of them
placement   where each sampler calls the model on the log-SNR axis, one row each (no sampling needed)

``--samplers`` takes NAME or NAME:SPACING (e.g. ``ddim:leading,ddim:trailing,euler:karras``).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np

from diffusion_studio.commands import arguments as A  # argument types: one error: line before any work
from diffusion_studio.core.plan import SamplingPlan, run_plan
from diffusion_studio.core.schedules import MAX_T, MIN_T
from diffusion_studio.core.steps import SamplerName, Spacing
from diffusion_studio.errors import OptionError

KINDS = ("error", "spectrum", "trajectory", "placement")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", choices=KINDS, help="which lens: error, spectrum, trajectory or placement")
    p.add_argument("--model", default="ideal", help="model name or folder (default ideal)")
    p.add_argument("--schedule", default=None, help="noise schedule, closed-form models only (default linear)")
    p.add_argument(
        "--T", type=A.whole(MIN_T, MAX_T), default=None, help="number of diffusion steps, closed-form models only"
    )
    p.add_argument("--size", type=A.whole(8, 1024), default=None, help="image side for closed-form models (default 64)")
    p.add_argument("--class", dest="class_label", default=None, help="class name or index")
    p.add_argument("--guidance", type=A.number(-100, 100), default=1.0, help="classifier-free guidance scale")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--seed", type=A.seed, default=0, help="the start noise shared by every run")
    p.add_argument(
        "--samplers",
        default="euler,heun,dpmpp_2m",
        help="comma-separated samplers, one run each (spectrum uses the first), each NAME or NAME:SPACING; "
        "default euler,heun,dpmpp_2m",
    )
    p.add_argument("--steps", type=A.whole(1, MAX_T), default=10, help="steps per run (default 10)")
    p.add_argument(
        "--spacing",
        default="karras",
        choices=[e.value for e in Spacing],
        help="step spacing (default karras; DDPM/DDIM runs use trailing instead of karras)",
    )
    p.add_argument(
        "--at",
        type=A.number_list(0, MAX_T - 1),
        default=None,
        help="spectrum: timesteps to show, e.g. 800,400,50 (default 0.8T,0.4T,0.05T)",
    )
    p.add_argument(
        "--substeps", type=A.whole(1, 64), default=8, help="error: reference Heun steps per run step (default 8)"
    )
    p.add_argument("--png", type=A.output_file, required=True, help="write the plot here")
    p.add_argument("--csv", type=A.output_file, default=None, help="also write the numbers as CSV")


def _samplers(text: str, spacing: str = "karras") -> list[tuple[SamplerName, str]]:
    """(sampler, spacing) of each NAME or NAME:SPACING; without one, ``spacing`` (karras becomes trailing for
    DDPM/DDIM, which have no Karras sigmas)."""
    chosen = []
    for item in (s.strip() for s in text.split(",")):
        if not item:
            continue
        name, _, own = item.partition(":")
        kind = SamplerName.parse(name.strip())
        own = own.strip() or spacing
        if own not in {e.value for e in Spacing}:
            names = ", ".join(e.value for e in Spacing)
            raise OptionError(f"Unknown spacing '{own}' in --samplers; choose one of {names}.")
        if own == Spacing.KARRAS.value and not kind.on_sigmas:
            if ":" in item:
                raise OptionError(f"{kind.value} has no Karras sigmas; give it leading, trailing or linspace.")
            own = Spacing.TRAILING.value
        chosen.append((kind, own))
    if not chosen:
        raise OptionError("Name at least one sampler with --samplers.")
    return chosen


def _prepare(args: argparse.Namespace):
    from diffusion_studio.runs import RunRequest, prepare_run

    if args.steps < 1:
        raise OptionError(f"--steps must be at least 1, got {args.steps}.")
    request = RunRequest(
        model=args.model,
        schedule=args.schedule,
        T=args.T,
        size=args.size,
        class_label=args.class_label,
        cfg_scale=args.guidance,
        plan=SamplingPlan(steps=args.steps, seed=args.seed),
        device=args.device,
    )
    return prepare_run(request)


def _runs(args: argparse.Namespace) -> tuple[object, list[tuple[str, list]]]:
    """Prepare the model once; run each sampler from the same seed; keep every step on the CPU."""
    chosen = _samplers(args.samplers, args.spacing)  # a bad name is refused before the model loads
    prepared = _prepare(args)
    named = len({k for k, _ in chosen}) < len(chosen)  # one sampler twice: tell the runs apart by spacing
    runs = []
    for name, spacing in chosen:
        plan = replace(prepared.plan, sampler=name.value, spacing=spacing).checked(prepared.schedule)
        steps = list(run_plan(prepared.model, prepared.schedule, plan, prepared.shape, device=prepared.device))
        runs.append((f"{name.value}:{spacing}" if named else name.value, steps))
    return prepared, runs


def _write(path: Path, write_fn) -> None:
    from diffusion_studio.io.atomic import atomic_write

    atomic_write(path, write_fn)
    print(f"wrote {path}")


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    def write(tmp: Path) -> None:
        lines = [",".join(header)] + [",".join(f"{v:.6g}" if isinstance(v, float) else str(v) for v in r) for r in rows]
        tmp.write_text("\n".join(lines) + "\n")

    _write(path, write)


def _error(args, prepared, runs) -> None:
    from diffusion_studio.core.lens_error import error_curve
    from diffusion_studio.io.plot import PALETTE, Plot, Series, render

    name = prepared.model.info.name
    exact = name in ("ideal", "gaussian")
    plot = Plot(
        f"x̂₀ error vs {'exact posterior mean' if exact else 'a fine reference run'} ({name}, {args.steps} steps)",
        "σ of the step (noise falls to the right)",
        "RMS error: predicted x₀ (solid), xₜ (dashed)",
        logx=True,
        logy=True,
        invert_x=True,
    )
    rows = []
    guidance = prepared.plan.with_guidance_interval()
    for label, steps in runs:
        c = error_curve(prepared.model, prepared.schedule, steps, guidance=guidance, substeps=args.substeps)
        floor = np.maximum(c.x0, 1e-7)  # a zero error (same start) has no place on a log axis
        colour = PALETTE[len(plot.series) // 2 % len(PALETTE)]
        name_ = f"{label} ({c.calls} calls): final {c.final:.2g}"
        plot.series.append(Series(name_, c.sigmas, floor, colour, marker=True))
        plot.series.append(Series("", c.sigmas, np.maximum(c.x_t, 1e-7), colour, dashed=True, width=1))
        print(
            f"{label:9s} model calls {c.calls:4d}  final-image RMS error {c.final:.3g}"
            f"  (reference: {c.reference_calls} calls)"
        )
        rows += [[label, i, float(c.sigmas[i]), float(c.x_t[i]), float(c.x0[i]), c.final] for i in range(len(c.x0))]
    _write(args.png, lambda tmp: render(plot, (640, 420)).save(tmp, format="PNG"))
    if args.csv:
        _write_csv(args.csv, ["sampler", "step", "sigma", "rms_x_t", "rms_x0", "rms_final"], rows)


def _spectrum(args, prepared, runs) -> None:
    from diffusion_studio.core.lens_spectrum import step_spectrum
    from diffusion_studio.io.plot import Plot, Series, render, side_by_side

    label, steps = runs[0]
    T = prepared.schedule.T  # noqa: N806
    wanted = list(args.at) if args.at else [0.8 * T, 0.4 * T, 0.05 * T]
    panels, rows = [], []
    for want in wanted:
        step = min(steps, key=lambda s: abs((s.time if s.time is not None else s.t) - want))
        sp = step_spectrum(step.x_t, step.x0_pred, step.eps_pred, step.abar(prepared.schedule))
        plot = Plot(
            f"{label}, t = {step.t} (ᾱ {sp.alpha_bar:.3g})",
            "frequency (cycles per pixel)",
            "power",
            logx=True,
            logy=True,
        )
        plot.series += [
            Series("xₜ", sp.freqs, sp.x_t),
            Series("predicted x₀", sp.freqs, sp.x0),
            Series("predicted ε", sp.freqs, sp.eps),
            Series("ᾱ · P(predicted x₀)", sp.freqs, sp.signal, (148, 103, 189), dashed=True),
            Series(
                "noise floor 1 − ᾱ", sp.freqs, np.full_like(sp.freqs, sp.noise_floor), color=(0, 0, 0), dashed=True
            ),
        ]
        if sp.crossover is not None:
            plot.vlines.append((sp.crossover, (214, 39, 40), f"signal = noise at {sp.crossover:.3g}"))
        panels.append(render(plot, (520, 380)))
        print(
            f"t = {step.t:4d}: noise floor {sp.noise_floor:.3g}, crossover "
            + ("none (signal above the floor everywhere)" if sp.crossover is None else f"{sp.crossover:.3g} cycles/px")
        )
        rows += [
            [step.t, float(f), float(a), float(b), float(c), sp.noise_floor]
            for f, a, b, c in zip(sp.freqs, sp.x_t, sp.x0, sp.eps, strict=True)
        ]
    _write(args.png, lambda tmp: side_by_side(panels).save(tmp, format="PNG"))
    if args.csv:
        _write_csv(args.csv, ["t", "freq", "power_x_t", "power_x0", "power_eps", "noise_floor"], rows)


def _trajectory(args, prepared, runs) -> None:
    import torch

    from diffusion_studio.core.lens_trajectory import trajectory_pca
    from diffusion_studio.io.plot import PALETTE, Plot, Series, render, side_by_side

    panels, rows = [], []
    for what, key, title in (("x_t", "x_t", "xₜ"), ("x0-hat", "x0_pred", "predicted x₀")):
        frames = []
        for _, steps in runs:
            seq = [getattr(s, key) for s in steps] + ([steps[-1].x_prev] if key == "x_t" else [])
            frames.append(torch.stack([f[0].cpu() for f in seq]))
        pca = trajectory_pca(frames)
        ev = pca.explained
        plot = Plot(f"{title} trajectories (PC1 {ev[0]:.0%}, PC2 {ev[1] if len(ev) > 1 else 0:.0%})", "PC 1", "PC 2")
        for i, ((label, _), xy) in enumerate(zip(runs, pca.coords, strict=True)):
            y = xy[:, 1] if xy.shape[1] > 1 else np.zeros(len(xy))
            plot.series.append(Series(label, xy[:, 0], y, marker=True))
            plot.points.append((float(xy[-1, 0]), float(y[-1]), PALETTE[i % len(PALETTE)]))
            rows += [[what, label, j, float(xy[j, 0]), float(y[j])] for j in range(len(xy))]
        panels.append(render(plot, (520, 420)))
    _write(args.png, lambda tmp: side_by_side(panels).save(tmp, format="PNG"))
    if args.csv:
        _write_csv(args.csv, ["frames", "sampler", "index", "pc1", "pc2"], rows)


def _placement(args: argparse.Namespace) -> None:
    """Each sampler's model calls on the log-SNR axis, one row each (core/placement.py); nothing is sampled."""
    from diffusion_studio.core.placement import CallKind, step_placement
    from diffusion_studio.io.plot import Row, RowPlot, render_rows

    chosen = _samplers(args.samplers, args.spacing)
    prepared = _prepare(args)
    sched = prepared.schedule
    plot = RowPlot(
        f"Where each sampler calls the model ({sched.describe()}, {args.steps} steps)",
        "log-SNR  λ = log(ᾱ / (1 − ᾱ)) = −2 log σ",
        ends=("← pure noise", "clean →"),
        second_label="Heun's second call of a step (at the next step's σ)",
    )
    rows = []
    for name, spacing in chosen:
        plan = replace(prepared.plan, sampler=name.value, spacing=spacing).checked(sched)
        p = step_placement(plan, sched)
        first = p.mask(CallKind.STEP)
        plot.rows.append(Row(p.label, p.log_snr[first], p.log_snr[~first]))
        print(f"{p.label:42s} log-SNR {p.log_snr.min():7.3f} .. {p.log_snr.max():7.3f}")
        rows += [[p.sampler, p.spacing, k, int(p.step[k]), p.kind[k].value, float(p.time[k]), float(p.log_snr[k])]
                 for k in range(p.calls)]
    _write(args.png, lambda tmp: render_rows(plot).save(tmp, format="PNG"))
    if args.csv:
        _write_csv(args.csv, ["sampler", "spacing", "call", "step", "kind", "model_time", "log_snr"], rows)


def run(args: argparse.Namespace) -> int:
    for path in (args.png, args.csv):
        if path is not None and not Path(path).expanduser().resolve().parent.is_dir():
            raise OptionError(f"The folder for {path} does not exist.")
    if args.kind == "placement":
        _placement(args)
        return 0
    prepared, runs = _runs(args)
    {"error": _error, "spectrum": _spectrum, "trajectory": _trajectory}[args.kind](args, prepared, runs)
    return 0
