"""File > Open Model Folder…: a diffusers folder loads in a thread, joins the Model list, runs, is recent."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

diffusers = pytest.importorskip("diffusers")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "diffusers_models"))
from diffusers_helpers import make_unet, save_flat  # noqa: E402

from diffusion_studio.app.model_folder import open_model_folder, recent_models  # noqa: E402


def _folder(tmp_path: Path, name: str = "ddpm-tiny") -> Path:
    scheduler = diffusers.DDPMScheduler(num_train_timesteps=50, variance_type="fixed_large", clip_sample=False)
    return save_flat(tmp_path / name, make_unet(seed=50), scheduler)


def test_open_model_folder_then_run(make_window, qtbot, tmp_path) -> None:
    w = make_window()
    folder = str(_folder(tmp_path))
    with qtbot.waitSignal(w.model_folder_loader.loaded, timeout=30000):
        open_model_folder(w, folder)
        assert "Opening ddpm-tiny" in w.statusBar().currentMessage()
    c = w.controls
    assert c.model.currentData() == folder and c.model_info().image_size == 8
    assert c.variance.currentData() == "beta" and not c.clip.isChecked()  # the scheduler's defaults
    assert "parameters" in w.statusBar().currentMessage()
    assert recent_models(w) == [folder]
    w.set_view("reverse")
    c.method.setCurrentIndex(c.method.findData("ddim"))
    c.steps.setValue(5)
    with qtbot.waitSignal(w.runEnded, timeout=30000) as ended:
        w.start_run()
    assert ended.args == ["finished", ""]
    assert w.session.store.frames[-1].x_t.shape[:2] == (8, 8)


def test_a_bin_only_folder_says_convert_weights(make_window, qtbot, tmp_path) -> None:
    w = make_window()
    folder = _folder(tmp_path, "old")
    (folder / "diffusion_pytorch_model.safetensors").rename(folder / "diffusion_pytorch_model.bin")
    before = w.controls.model.count()
    with qtbot.waitSignal(w.model_folder_loader.failed, timeout=30000):
        open_model_folder(w, str(folder))
    assert "convert-weights" in w.statusBar().currentMessage()
    assert w.controls.model.count() == before and recent_models(w) == []
