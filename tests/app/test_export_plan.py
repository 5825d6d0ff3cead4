"""What an export writes, without Qt: frame spacing, the size estimate against the file written, file names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from diffusion_studio.app.exporting import (
    ExportRequest,
    chosen_positions,
    default_export_path,
    estimate,
    file_stem,
    forward_source,
    reverse_source,
    run_export,
    run_note,
    select_even,
)
from diffusion_studio.app.streaming import StepFrames, stream_frames
from diffusion_studio.core.cancel import CancelToken
from diffusion_studio.core.plan import SamplingPlan
from diffusion_studio.core.schedules import make_schedule
from diffusion_studio.io.gif import GifOptions
from diffusion_studio.io.images import load_image
from diffusion_studio.paths import resources_dir, sample_images
from diffusion_studio.runs import RunRequest, prepare_run


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    chelsea = next(p for p in sample_images() if p.stem == "chelsea")
    return load_image(chelsea, size=48, mode="fit", channels=3)


@pytest.fixture(scope="module")
def run_frames(photo) -> tuple[list[StepFrames], object]:
    """A real DDPM run of the ideal model over 100 steps, from pure noise, as the window records it."""
    prepared = prepare_run(RunRequest(model="ideal", schedule="linear", T=100, size=32,
                                      plan=SamplingPlan(sampler="ddpm", seed=3)))
    frames = [f for f in stream_frames(prepared) if isinstance(f, StepFrames)]
    return frames, prepared.schedule


def _write(source, req: ExportRequest) -> int:
    results = list(run_export(source, req, CancelToken()))
    assert results
    return req.path.stat().st_size


CASES = {
    "reverse gif x8 titled": ("reverse", ExportRequest(Path("a.gif"), frame_count=12, options=GifOptions(scale=8))),
    "reverse gif all frames": ("reverse", ExportRequest(Path("b.gif"), frame_count=None,
                                                        options=GifOptions(scale=2))),
    "reverse gif there and back": ("reverse", ExportRequest(Path("c.gif"), frame_count=30, options=GifOptions(
        scale=4, direction="both"))),
    "forward gif 100 frames": ("forward", ExportRequest(Path("d.gif"), frame_count=100,
                                                        options=GifOptions(scale=2, direction="noise"))),
    "forward gif even in t, bare": ("forward", ExportRequest(Path("e.gif"), frame_count=40, spacing="t",
                                                             titles=False, options=GifOptions(label=False))),
    "reverse sheet": ("reverse", ExportRequest(Path("f.png"), kind="sheet", frame_count=12,
                                               options=GifOptions(scale=4))),
    "forward sheet": ("forward", ExportRequest(Path("g.png"), kind="sheet", frame_count=8, columns=4)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_size_estimate_is_within_a_quarter_of_the_file(case, photo, run_frames, tmp_path):
    kind, req = CASES[case]
    frames, schedule = run_frames
    note = run_note("ideal", None, 1.0, 0.0, "ddpm", 100, 3)
    source = reverse_source(frames, schedule, note) if kind == "reverse" else \
        forward_source(photo, make_schedule("linear", 1000), 5, "chelsea.png · linear")
    req = ExportRequest(**{**req.__dict__, "path": tmp_path / req.path.name})
    count, (width, height), guess, _ = estimate(source, req)
    written = _write(source, req)
    assert abs(guess - written) <= 0.25 * written, f"{case}: estimated {guess} bytes, wrote {written}"
    with Image.open(req.path) as im:
        if req.kind == "gif":
            assert im.size == (width, height) and im.n_frames <= count
        else:
            assert im.size == (width, height)


def test_frames_are_spread_evenly_in_log_snr_by_default(photo):
    schedule = make_schedule("linear", 1000)
    source = forward_source(photo, schedule, 0)
    by_snr = [source.ts[i] for i in chosen_positions(source, ExportRequest(Path("x.gif"), frame_count=20))]
    by_t = [source.ts[i] for i in chosen_positions(source, ExportRequest(Path("x.gif"), frame_count=20,
                                                                         spacing="t"))]
    assert by_snr[0] == by_t[0] == 999 and by_snr[-1] == by_t[-1] == -1 and len(by_snr) == len(set(by_snr)) == 20
    noise = [t for t in by_snr if t >= 0 and schedule.alpha_bars[t] < 0.1]  # x_t is at least 95 % noise there
    noise_t = [t for t in by_t if t >= 0 and schedule.alpha_bars[t] < 0.1]
    assert len(noise) < len(noise_t) and len(noise) <= 0.45 * len(by_snr)
    gaps = np.diff([schedule.log_snr[t] for t in by_snr if t >= 0])
    assert gaps.max() < 2.5 * np.median(gaps)  # even in log-SNR (up to whole steps)


def test_frames_can_be_spread_by_how_much_x0_changes(run_frames):
    frames, schedule = run_frames
    source = reverse_source(frames, schedule)
    picked = chosen_positions(source, ExportRequest(Path("x.gif"), frame_count=10, spacing="x0"))
    assert picked[0] == 0 and picked[-1] == len(frames) - 1 and len(set(picked)) == 10


def test_select_even_keeps_ends_and_distinct_indices():
    values = np.array([0, 0, 0, 0, 1, 2, 3, 10, 10.5, 11], dtype=float)
    picked = select_even(values, 5)
    assert picked[0] == 0 and picked[-1] == 9 and picked == sorted(set(picked)) and len(picked) == 5
    assert select_even(values, 20) == list(range(10))


def test_default_names_come_from_the_run_and_never_land_in_the_package(tmp_path):
    assert file_stem("emoji", "Smileys & Emotion", "ddim50", "seed2") == "emoji-smileys-emotion-ddim50-seed2"
    assert file_stem("digits", None, "ddpm1000", "seed0") == "digits-ddpm1000-seed0"
    path = default_export_path(str(tmp_path), "digits-7-ddim50-seed2", ".gif")
    assert path == tmp_path / "digits-7-ddim50-seed2.gif"
    inside = default_export_path(str(resources_dir() / "samples"), "x", ".gif")
    package = Path(__file__).resolve().parents[2] / "diffusion_studio"
    assert resources_dir().resolve() not in inside.resolve().parents and package not in inside.resolve().parents
    assert inside.parent in (Path.home() / "Pictures", Path.home())
    assert default_export_path(str(tmp_path / "gone"), "x", ".png").parent in (Path.home() / "Pictures", Path.home())


def test_the_run_note_names_model_class_guidance_sampler_steps_and_seed():
    note = run_note("digits", "7", 3.0, 0.0, "ddim", 50, 2, eta=0.0)
    assert note == "digits · class 7 · guidance s = 3 · DDIM, η = 0, 50 steps · seed 2"
    assert "classifier s = 2" in run_note("digits", "4", 1.0, 2.0, "ddpm", 1000, 0)
