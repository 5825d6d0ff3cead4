"""Whole runs of the studio's samplers against diffusers' schedulers, over configurations beyond the tests.

Each case is one diffusers scheduler config (the keys a ``scheduler_config.json`` holds) and a number of steps. The
reference is diffusers' pipeline loop: latents = z * init_noise_sigma, the model fed scale_model_input(latents),
one ``step`` per timestep with the pipeline's generator (DDPM noise, DDIM eta > 0). The studio's run goes the way a
diffusers folder goes: ``schedule_and_defaults(config)`` -> schedule and sampler defaults -> ``SamplingPlan`` ->
``run_plan`` with the same seed (so the same z and the same later draws). Same model on both sides: a smooth
deterministic fake network (eps, x0 or v output), the closed-form ``ideal`` / ``gaussian`` models, or a small
randomly initialised diffusers ``UNet2DModel`` behind the studio's folder wrapper (diffusers' side calls the bare
U-Net, so the wrapper's handling of model times is checked too).

A case is EQUAL when the final images agree to 1e-4 relative (||ours - ref|| / ||ref||) and every step's model
input does too; DIFF otherwise; REFUSED when the studio refuses the config (a ModelError/OptionError sentence);
DIFFUSERS-FAILS when diffusers itself raises. Cases whose difference is deliberate and documented (README,
"Samplers and lenses"; docs/samplers-and-lenses.md) are marked ``known``: they are expected to differ.

Run:  python benchmarks/sweep_agreement.py              (about 1,500 cases; about a minute on one core)
      python benchmarks/sweep_agreement.py --quick      (fewer schedules and step counts)
      python benchmarks/sweep_agreement.py --only DIFF  (print only the disagreements; DIFF(known) included)
      python benchmarks/sweep_agreement.py --sampler heun
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch

from diffusion_studio.core.plan import run_plan
from diffusion_studio.errors import ModelError, OptionError
from diffusion_studio.models.base import ModelInfo
from diffusion_studio.models.diffusers_config import plan_from_defaults, schedule_and_defaults

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "core"))
from core_helpers import FakeNet  # noqa: E402 - the fake network the sweep's tests use too

warnings.filterwarnings("ignore")
torch.set_num_threads(1)
TOL = 1e-4
SHAPE = (3, 8, 8)
CLASSES = {
    "ddpm": "DDPMScheduler",
    "ddim": "DDIMScheduler",
    "euler": "EulerDiscreteScheduler",
    "heun": "HeunDiscreteScheduler",
    "dpmpp_2m": "DPMSolverMultistepScheduler",
}
SIGMA_SAMPLERS = ("euler", "heun", "dpmpp_2m")


@dataclass(frozen=True)
class Case:
    sampler: str
    config: dict = field(hash=False)  # diffusers scheduler kwargs
    steps: int = 10
    model: str = "fake"  # fake (with config's prediction_type), ideal, gaussian
    eta: float = 0.0  # DDIM
    batch: int = 1

    def label(self) -> str:
        keys = {k: v for k, v in self.config.items() if k not in ("algorithm_type", "solver_order")}
        short = " ".join(f"{k}={v}" for k, v in keys.items())
        extra = f" eta={self.eta:g}" if self.sampler == "ddim" and self.eta else ""
        extra += f" batch={self.batch}" if self.batch > 1 else ""
        return f"{self.sampler:8s} n={self.steps:<4d} {self.model:8s} {short}{extra}"


def known_reason(case: Case) -> str:
    """Why this case is expected to differ (a documented, deliberate difference), or ""."""
    import numpy as np

    cfg = case.config
    T, n = cfg.get("num_train_timesteps", 1000), case.steps  # noqa: N806
    spacing = cfg.get("timestep_spacing", "leading")
    if case.sampler == "ddim" and spacing != "leading":
        ts = np.linspace(0, T - 1, n).round()[::-1] if spacing == "linspace" else np.round(np.arange(T, 0, -T / n)) - 1
        if any(int(a) - T // n != int(b) for a, b in zip(ts[:-1], ts[1:], strict=True)):
            return "DDIM steps to the next timestep of the run; diffusers' DDIM to t - T // n (README)"
    sched, _ = schedule_and_defaults({"_class_name": CLASSES[case.sampler], **cfg}, Path("scheduler_config.json"))
    if case.sampler == "ddim" and n == 1 and sched.alpha_bars[-1] < 1e-4:
        return "one DDIM step from abar_{T-1} < 1e-4: x0-hat is ill-conditioned in float32, in any implementation"
    if case.sampler == "ddpm" and cfg.get("variance_type") == "fixed_large" and n < T and spacing == "trailing":
        return "diffusers' DDPM adds sqrt(beta) noise at a last step whose t > 0; here the last step adds none"
    if case.sampler == "ddpm" and cfg.get("variance_type") == "fixed_large_log":
        return "diffusers' DDPM takes the square root of log(beta) for fixed_large_log: NaN; here beta, as fixed_large"
    if case.sampler == "heun" and cfg.get("clip_sample"):
        return "the sigma samplers never clip x0-hat (said in a note)"
    if case.sampler == "euler" and cfg.get("final_sigmas_type") == "sigma_min":
        return "x_prev is in VP scale, diffusers' Euler output in VE scale: 1 + beta_0 / 2 apart"
    return ""


TINY_UNET = {  # a small diffusers UNet2DModel (random weights) for 8x8 RGB
    "sample_size": 8,
    "in_channels": 3,
    "out_channels": 3,
    "layers_per_block": 1,
    "block_out_channels": (16, 32),
    "down_block_types": ("DownBlock2D", "AttnDownBlock2D"),
    "up_block_types": ("AttnUpBlock2D", "UpBlock2D"),
    "norm_num_groups": 8,
}


def _unet(prediction: str):
    """A diffusers UNet2DModel behind the studio's DiffusersModel (what opening a folder gives)."""
    import diffusers

    from diffusion_studio.models.diffusers_folder import DiffusersModel

    torch.manual_seed(0)
    net = diffusers.UNet2DModel(**TINY_UNET)
    return DiffusersModel(net, ModelInfo("unet", 8, 3, prediction=prediction))


def _reference_output(model, x, t, sched, raw: bool) -> torch.Tensor:
    """The model output diffusers' pipeline would use: the bare U-Net for a diffusers model, else the model's."""
    if hasattr(model, "net") and hasattr(model.net, "config"):
        with torch.no_grad():
            return model.net(x, t).sample
    return model.forward(x, t, sched) if raw else model.predict_eps(x, t, sched)


def _model(case: Case):
    if case.model == "fake":
        return FakeNet(case.config.get("prediction_type", "epsilon"))
    if case.model == "unet":
        return _unet(case.config.get("prediction_type", "epsilon"))
    from diffusion_studio.models.registry import load_model

    return load_model(case.model)


def _in_float64(ref) -> None:
    """The scheduler's alpha-bars recomputed in float64 from its betas (DDPM/DDIM: the studio's arithmetic)."""
    ref.betas = ref.betas.double()
    ref.alphas = 1.0 - ref.betas
    ref.alphas_cumprod = torch.cumprod(ref.alphas, dim=0)
    if hasattr(ref, "final_alpha_cumprod"):
        one = ref.config.get("set_alpha_to_one", True)
        ref.final_alpha_cumprod = torch.tensor(1.0, dtype=torch.float64) if one else ref.alphas_cumprod[0]


def _diffusers_run(
    case: Case, model, sched, seed: int, float64: bool = False
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """diffusers' pipeline loop; the model inputs and the final sample."""
    import diffusers

    ref = getattr(diffusers, CLASSES[case.sampler])(**case.config)
    ref.set_timesteps(case.steps)
    if float64:
        _in_float64(ref)
    if case.sampler in SIGMA_SAMPLERS:
        ref.set_begin_index(0)  # as img2img pipelines do: a repeated first timestep would otherwise shift the index
    generator = torch.Generator().manual_seed(seed)
    latents = torch.randn((case.batch, *SHAPE), generator=generator) * ref.init_noise_sigma
    raw = model.info.prediction != "epsilon" and ref.config.get("prediction_type", "epsilon") != "epsilon"
    inputs = []
    for t in ref.timesteps:
        x_in = ref.scale_model_input(latents, t)
        inputs.append(x_in)
        out = _reference_output(model, x_in, t, sched, raw)
        kwargs = {}
        if case.sampler == "ddpm":
            kwargs = {"generator": generator}
        elif case.sampler == "ddim":
            kwargs = {"eta": case.eta, "generator": generator, "use_clipped_model_output": True}
        latents = ref.step(out, t, latents, **kwargs).prev_sample.float()
    return inputs, latents


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    """||a - b|| / ||b||; infinity when either holds a NaN (so that max() cannot drop it)."""
    err = float((a.double() - b.double()).norm() / b.double().norm().clamp(min=1e-30))
    return err if err == err else float("inf")


def run_case(case: Case, seed: int = 0) -> tuple[str, float, str]:
    """(verdict, relative error of the final image, note)."""
    config = {"_class_name": CLASSES[case.sampler], **case.config}
    model = _model(case)
    try:
        sched, defaults = schedule_and_defaults(config, Path("scheduler_config.json"))
        plan = plan_from_defaults(defaults, steps=case.steps, eta=case.eta, seed=seed, batch=case.batch)
        ours = list(run_plan(model, sched, plan, SHAPE))
    except (ModelError, OptionError) as err:
        return "REFUSED", float("nan"), str(err)
    try:
        inputs, final = _diffusers_run(case, model, sched, seed)
    except Exception as err:  # diffusers' own failures (IndexError, ValueError...)
        return "DIFFUSERS-FAILS", float("nan"), f"{type(err).__name__}: {str(err)[:100]}"
    note = "; ".join(defaults.notes)
    if len(ours) != case.steps and case.sampler != "heun":
        return "DIFF", float("nan"), f"{len(ours)} steps, diffusers {len(inputs)}. {note}"
    stride = 2 if case.sampler == "heun" else 1
    worst = max(_rel(s.x_t, inputs[stride * i]) for i, s in enumerate(ours))
    err = max(worst, _rel(ours[-1].x_prev, final))
    if err >= 1e-5 and case.sampler in ("ddpm", "ddim"):  # the studio's DDPM/DDIM coefficients are float64
        inputs, final = _diffusers_run(case, model, sched, seed, float64=True)
        err64 = max(_rel(ours[-1].x_prev, final), *(_rel(s.x_t, inputs[i]) for i, s in enumerate(ours)))
        note = f"{err64:.1e} against diffusers with float64 alpha-bars. {note}".strip()
        if err >= TOL and err64 < TOL:
            return "EQUAL(f64)", err, note
    return ("EQUAL" if err < TOL else "DIFF"), err, note


# ---------------------------------------------------------------- the cases


def _base(sampler: str, schedule: str, T: int, betas: tuple[float, float]) -> dict:  # noqa: N803
    cfg = {"num_train_timesteps": T, "beta_schedule": schedule, "beta_start": betas[0], "beta_end": betas[1]}
    if sampler == "dpmpp_2m":
        cfg.update(algorithm_type="dpmsolver++", solver_order=2)
    return cfg


SCHEDULES = [
    ("linear", 1000, (1e-4, 0.02)),
    ("scaled_linear", 1000, (0.00085, 0.012)),
    ("squaredcos_cap_v2", 1000, (1e-4, 0.02)),
    ("linear", 100, (1e-4, 0.02)),
    ("linear", 500, (3e-4, 0.03)),
    ("scaled_linear", 2000, (1e-4, 0.02)),
    ("squaredcos_cap_v2", 100, (1e-4, 0.02)),
    ("linear", 2000, (5e-5, 0.01)),
]


def sigma_cases(quick: bool) -> list[Case]:
    cases = []
    steps_list = [1, 2, 3, 7, 25] if quick else [1, 2, 3, 7, 10, 25, 50]
    for sampler, (schedule, T, betas), spacing, karras in itertools.product(  # noqa: N806
        SIGMA_SAMPLERS, SCHEDULES, ("linspace", "leading", "trailing"), (False, True)
    ):
        for steps in steps_list[:: (2 if (quick or T != 1000) else 1)]:
            if steps > T:
                continue
            cfg = _base(sampler, schedule, T, betas) | {"timestep_spacing": spacing, "use_karras_sigmas": karras}
            cases.append(Case(sampler, cfg, steps))
    # prediction types, steps_offset, final sigmas, long runs, closed-form models
    for sampler in SIGMA_SAMPLERS:
        for prediction, schedule, karras in itertools.product(
            ("epsilon", "sample", "v_prediction"), ("linear", "scaled_linear", "squaredcos_cap_v2"), (False, True)
        ):
            cfg = _base(sampler, schedule, 1000, (1e-4, 0.02))
            cases.append(Case(sampler, cfg | {"prediction_type": prediction, "use_karras_sigmas": karras}, 9))
        for offset, steps in itertools.product((0, 1, 3), (5, 10)):
            cfg = _base(sampler, "linear", 1000, (1e-4, 0.02)) | {"timestep_spacing": "leading", "steps_offset": offset}
            cases.append(Case(sampler, cfg, steps))
        cases.append(Case(sampler, _base(sampler, "linear", 1000, (1e-4, 0.02)), 999))
        cases.append(Case(sampler, _base(sampler, "linear", 1000, (1e-4, 0.02)) | {"use_karras_sigmas": True}, 999))
        for spacing, karras in itertools.product(("linspace", "leading", "trailing"), (False, True)):
            cfg = _base(sampler, "scaled_linear", 100, (1e-4, 0.02)) | {"timestep_spacing": spacing}
            cases.append(Case(sampler, cfg | {"use_karras_sigmas": karras}, 100))  # as many steps as T
        for model in ("ideal", "gaussian"):
            for karras in (False, True):
                cfg = _base(sampler, "linear", 1000, (1e-4, 0.02))
                cases.append(Case(sampler, cfg | {"prediction_type": "sample", "use_karras_sigmas": karras}, 12, model))
        if sampler != "heun":
            for final in ("zero", "sigma_min"):
                cfg = _base(sampler, "linear", 1000, (1e-4, 0.02)) | {"final_sigmas_type": final}
                cases.append(Case(sampler, cfg, 10))
    for sampler, karras, spacing, prediction in itertools.product(
        SIGMA_SAMPLERS, (False, True), ("linspace", "leading"), ("epsilon", "v_prediction")
    ):
        cfg = _base(sampler, "linear", 1000, (1e-4, 0.02)) | {"timestep_spacing": spacing, "use_karras_sigmas": karras}
        cases.append(Case(sampler, cfg | {"prediction_type": prediction}, 6, model="unet"))
    for lower, final, steps in itertools.product((True, False), ("zero", "sigma_min"), (7, 20)):
        cfg = _base("dpmpp_2m", "linear", 1000, (1e-4, 0.02)) | {"lower_order_final": lower, "final_sigmas_type": final}
        cases.append(Case("dpmpp_2m", cfg, steps))
    for sampler, karras in itertools.product(("euler", "dpmpp_2m"), (False, True)):
        cfg = _base(sampler, "scaled_linear", 1000, (0.00085, 0.012)) | {"final_sigmas_type": "sigma_min"}
        cases.append(Case(sampler, cfg | {"use_karras_sigmas": karras}, 25))
    for sampler, offset in itertools.product(SIGMA_SAMPLERS, (1, 5)):
        cfg = _base(sampler, "scaled_linear", 1000, (0.00085, 0.012)) | {"timestep_spacing": "leading"}
        cases.append(Case(sampler, cfg | {"steps_offset": offset, "use_karras_sigmas": True}, 20))
    betas = [float(b) for b in torch.linspace(0.001, 0.03, 300).double() ** 1.5]
    for sampler, karras in itertools.product(SIGMA_SAMPLERS, (False, True)):
        cfg = {"num_train_timesteps": 300, "trained_betas": betas, "use_karras_sigmas": karras}
        cases.append(Case(sampler, cfg | ({"solver_order": 2} if sampler == "dpmpp_2m" else {}), 11, batch=3))
    cases.append(Case("heun", _base("heun", "linear", 1000, (1e-4, 0.02)) | {"clip_sample": True}, 10))
    cases.append(Case("euler", _base("euler", "linear", 1000, (1e-4, 0.02)) | {"rescale_betas_zero_snr": True}, 10))
    return cases


def ddpm_ddim_cases(quick: bool) -> list[Case]:
    cases = []
    for (schedule, T, betas), spacing, variance, clip in itertools.product(  # noqa: N806
        SCHEDULES[:: (2 if quick else 1)] + [("sigmoid", 1000, (1e-4, 0.02))],
        ("leading", "linspace", "trailing"),
        ("fixed_small", "fixed_large"),
        (True, False),
    ):
        for steps in (T, 10, 3) if T <= 500 else (10, 3):
            cfg = _base("ddpm", schedule, T, betas) | {
                "timestep_spacing": spacing,
                "variance_type": variance,
                "clip_sample": clip,
            }
            cases.append(Case("ddpm", cfg, steps))
    for (schedule, T, betas), spacing, clip, eta in itertools.product(  # noqa: N806
        SCHEDULES[:: (2 if quick else 1)], ("leading", "linspace", "trailing"), (True, False), (0.0, 1.0)
    ):
        for steps in (10, 7, 1):
            cfg = _base("ddim", schedule, T, betas) | {"timestep_spacing": spacing, "clip_sample": clip}
            cases.append(Case("ddim", cfg, steps, eta=eta))
    for prediction, sampler, (schedule, T, betas), clip in itertools.product(  # noqa: N806
        ("epsilon", "sample", "v_prediction"), ("ddpm", "ddim"), SCHEDULES[:3], (False, True)
    ):
        cfg = _base(sampler, schedule, T, betas) | {"prediction_type": prediction, "clip_sample": clip}
        cases.append(Case(sampler, cfg, 10, eta=0.5 if sampler == "ddim" else 0.0, batch=2))
    for variance in ("fixed_small_log", "fixed_large_log"):
        cases.append(Case("ddpm", _base("ddpm", "linear", 100, (1e-4, 0.02)) | {"variance_type": variance}, 20))
    betas = [float(b) for b in torch.linspace(0.001, 0.03, 300).double() ** 1.5]
    for sampler in ("ddpm", "ddim"):
        cases.append(Case(sampler, {"num_train_timesteps": 300, "trained_betas": betas}, 30, batch=3))
    for sampler, offset, rng, one in itertools.product(("ddpm", "ddim"), (0, 1), (1.0, 1.5), (True, False)):
        cfg = _base(sampler, "linear", 1000, (1e-4, 0.02)) | {"steps_offset": offset, "clip_sample_range": rng}
        if sampler == "ddim":
            cfg["set_alpha_to_one"] = one
        elif not one:
            continue
        cases.append(Case(sampler, cfg, 10, eta=1.0 if sampler == "ddim" else 0.0))
    for one, eta, spacing in itertools.product((True, False), (0.0, 0.5), ("leading", "trailing")):
        cfg = _base("ddim", "scaled_linear", 1000, (0.00085, 0.012)) | {"set_alpha_to_one": one, "steps_offset": 1}
        cases.append(Case("ddim", cfg | {"timestep_spacing": spacing, "clip_sample": False}, 20, eta=eta))
    for model in ("ideal", "gaussian"):
        sample = {"prediction_type": "sample"}
        cases.append(Case("ddim", _base("ddim", "linear", 1000, (1e-4, 0.02)) | sample, 12, model))
        cases.append(Case("ddpm", _base("ddpm", "linear", 100, (1e-4, 0.02)) | sample, 100, model))
    for sampler, prediction in itertools.product(("ddpm", "ddim"), ("epsilon", "sample")):
        cfg = _base(sampler, "linear", 1000, (1e-4, 0.02)) | {"prediction_type": prediction, "steps_offset": 1}
        cases.append(Case(sampler, cfg | {"clip_sample_range": 1.5}, 8, model="unet", eta=0.5))
    cases.append(Case("ddim", _base("ddim", "linear", 1000, (1e-4, 0.02)) | {"rescale_betas_zero_snr": True}, 10))
    return cases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="about a fifth of the cases")
    parser.add_argument("--only", default=None, help="print only cases with this verdict (EQUAL, DIFF, ...)")
    parser.add_argument("--sampler", default=None, help="only this sampler")
    parser.add_argument("--seed", type=int, default=0, help="the start noise and later draws (default 0)")
    args = parser.parse_args(argv)
    cases = sigma_cases(args.quick) + ddpm_ddim_cases(args.quick)
    if args.sampler:
        cases = [c for c in cases if c.sampler == args.sampler]
    counts: dict[str, int] = {}
    start = time.perf_counter()
    for case in cases:
        verdict, err, note = run_case(case, args.seed)
        known = known_reason(case) if verdict == "DIFF" else ""
        if verdict == "DIFF" and known:
            verdict = "DIFF(known)"
        counts[verdict] = counts.get(verdict, 0) + 1
        if args.only is None or verdict.startswith(args.only):
            shown = "" if err != err else f"{err:9.2e}"  # NaN: no number
            print(f"{verdict:15s} {shown:>9s}  {case.label()}" + (f"  [{note}]" if note else ""))
            if known and verdict.startswith("DIFF"):
                print(f"{'':26s}known: {known}")
    summary = ", ".join(f"{v} {n}" for v, n in sorted(counts.items()))
    print(f"\n{len(cases)} cases in {time.perf_counter() - start:.0f} s: {summary}  (tolerance {TOL:g} relative)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
