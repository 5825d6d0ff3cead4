"""The scheduler config sets the sampler defaults; big models default to DDIM 50 on the CPU; the cost is said first."""

from __future__ import annotations

import diffusers
from diffusers_helpers import make_unet, save_flat, save_pipeline

from diffusion_studio.cli import main
from diffusion_studio.models import diffusers_defaults
from diffusion_studio.models.diffusers_defaults import choose_sampler


def test_scheduler_config_fills_what_was_not_chosen(tmp_path) -> None:
    folder = save_pipeline(
        tmp_path / "m",
        make_unet(seed=30),
        diffusers.DDIMScheduler(clip_sample=False, timestep_spacing="trailing"),
    )
    chosen = choose_sampler(str(folder), None, None, None, False, None, on_cpu=True)
    assert (chosen.sampler, chosen.spacing, chosen.clip_x0) == ("ddim", "trailing", False)
    chosen = choose_sampler(str(folder), "ddpm", "beta", "leading", False, 20, on_cpu=True)
    assert (chosen.sampler, chosen.variance, chosen.spacing, chosen.steps) == ("ddpm", "beta", "leading", 20)
    flat = save_flat(tmp_path / "f", make_unet(seed=31), diffusers.DDPMScheduler(variance_type="fixed_large"))
    assert choose_sampler(str(flat), None, None, None, False, None, on_cpu=True).variance == "beta"
    assert choose_sampler(str(flat), None, None, None, True, None, on_cpu=True).clip_x0 is False
    plain = choose_sampler("ideal", None, None, None, False, None, on_cpu=True)
    # spacing None: the plan uses the sampler's own diffusers default (leading for DDPM/DDIM, linspace for Euler...)
    assert (plain.sampler, plain.variance, plain.spacing, plain.clip_x0) == ("ddpm", "beta_tilde", None, True)


def test_big_models_default_to_ddim_50_on_the_cpu(tmp_path, monkeypatch) -> None:
    folder = save_flat(tmp_path / "m", make_unet(seed=32), diffusers.DDPMScheduler())
    monkeypatch.setattr(diffusers_defaults, "BIG_WEIGHT_BYTES", 1000)  # the tiny model counts as big
    chosen = choose_sampler(str(folder), None, None, None, False, None, on_cpu=True)
    assert (chosen.sampler, chosen.steps) == ("ddim", 50) and any("DDIM 50" in n for n in chosen.notes)
    assert choose_sampler(str(folder), None, None, None, False, None, on_cpu=False).sampler == "ddpm"
    assert choose_sampler(str(folder), "ddpm", None, None, False, None, on_cpu=True).steps is None


def test_sample_says_the_cost_before_the_run(tmp_path, capsys) -> None:
    folder = save_flat(tmp_path / "m", make_unet(seed=33), diffusers.DDPMScheduler(num_train_timesteps=100))
    png = tmp_path / "out.png"
    assert main(["sample", "--model", str(folder), "--steps", "4", "--png", str(png), "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    first = err.splitlines()[0]
    assert "parameters" in first and "8x8" in first and "DDPM 4 steps" in first and "s per step" in first
    assert png.is_file()
