"""`sample --panels` with v-hat and the flow velocity: recorded, titled, and in the seed-grid exports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from diffusion_studio.cli import main
from diffusion_studio.commands.recording import PANEL_TITLES, record_run
from diffusion_studio.core.plan import SamplingPlan
from diffusion_studio.runs import RunRequest, prepare_run
from diffusion_studio.session.frames import stream_frames
from diffusion_studio.session.third_pane import pane_picture

FAST = ["sample", "--model", "ideal", "--size", "12", "--sampler", "ddim", "--steps", "4", "--seed", "2", "--quiet"]


def _prepared():
    plan = SamplingPlan(sampler="ddim", steps=4, seed=2)
    return prepare_run(RunRequest(model="ideal", schedule="linear", T=30, size=12, plan=plan, device="cpu"))


def test_recorded_v_and_flow_panels_are_the_derived_pictures_of_each_frame():
    rec = record_run(_prepared(), ("x_t", "v", "flow"), frame_count=10, quiet=True)
    frames = list(stream_frames(_prepared()))
    assert len(rec.frames) == len(frames) == 5
    for kept, frame in zip(rec.frames, frames, strict=True):
        assert np.array_equal(kept[0], frame.x_t)
        assert np.array_equal(kept[1], pane_picture(frame, "v"))
        assert np.array_equal(kept[2], pane_picture(frame, "flow"))
        assert not np.array_equal(kept[1], kept[2])


def test_titles_name_the_derived_panels():
    assert PANEL_TITLES["v"] == "v̂ predicted velocity" and PANEL_TITLES["flow"] == "ε̂ − x̂₀ flow velocity"


def test_sample_writes_a_sheet_with_v_and_flow_columns(tmp_path: Path):
    sheet, plain = tmp_path / "sheet.png", tmp_path / "plain.png"
    assert main([*FAST, "--panels", "x_t,v,flow", "--sheet", str(sheet)]) == 0
    assert main([*FAST, "--panels", "x_t", "--sheet", str(plain)]) == 0
    wide, narrow = Image.open(sheet).size, Image.open(plain).size
    assert wide[0] > narrow[0]  # three panels per frame instead of one


def test_seed_grids_export_v_and_flow(tmp_path: Path):
    out = tmp_path / "seeds.png"
    argv = [*FAST, "--seeds", "1-2", "--panels", "x_t,v,flow", "--png", str(out)]
    assert main(argv) == 0 and Image.open(out).size[0] > 0
