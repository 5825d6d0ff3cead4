"""Export from the window: GIF and contact sheet written in the background and read back; settings persist."""

from __future__ import annotations

from PIL import Image
from PySide6.QtWidgets import QDialog

from diffusion_studio.app.export_dialog import ExportDialog
from diffusion_studio.app.exporting import ExportRequest
from diffusion_studio.io.gif import GifOptions


def test_export_a_run_as_gif_through_the_dialog(make_window, qtbot, tmp_path, monkeypatch):
    w = make_window()
    with qtbot.waitSignal(w.runEnded, timeout=20000):
        w.start_run()
    w.settings.set_json("export/last", {"folder": str(tmp_path)})
    chosen = {}

    def accept(dialog: ExportDialog) -> int:
        dialog.count.setValue(12)
        dialog.fps.setValue(10)
        dialog.update_estimate_now()  # the dialog itself waits for typing to pause
        chosen["estimate"] = dialog.estimate_label.text()
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(ExportDialog, "exec", accept)
    with qtbot.waitSignal(w.exportEnded, timeout=20000) as ended:
        w.menu_actions.export_gif.trigger()
    assert ended.args == ["finished", ""]
    assert chosen["estimate"].startswith("12 frames")
    path = tmp_path / "ideal-ddpm50-seed0.gif"  # named after the run
    with Image.open(path) as gif:
        assert gif.format == "GIF" and 2 <= gif.n_frames <= 12
        panes_width = 3 * w.forward.image.shape[1] * 8  # scale 8 (256 // 32), three panes
        assert gif.size[0] >= panes_width
    assert "Wrote" in w.status.message.text()
    assert not list(tmp_path.glob("*.tmp*"))


def test_export_forward_process_and_contact_sheet(make_window, qtbot, tmp_path):
    w = make_window()
    source = w.export_source()
    assert source.kind == "forward"
    gif = ExportRequest(path=tmp_path / "noising.gif", panes=(0,), frame_count=8,
                        options=GifOptions(fps=20, scale=2, direction="noise", label=False))
    with qtbot.waitSignal(w.exportEnded, timeout=20000):
        assert w.start_export(source, gif)
    with Image.open(gif.path) as im:
        assert im.n_frames >= 2 and im.size[0] == w.forward.image.shape[1] * 2
    sheet = ExportRequest(path=tmp_path / "sheet.png", kind="sheet", frame_count=6, columns=3)
    with qtbot.waitSignal(w.exportEnded, timeout=20000):
        w.start_export(source, sheet)
    with Image.open(sheet.path) as im:
        assert im.format == "PNG" and im.size[0] > im.size[1]


def test_an_export_that_cannot_be_written_reports_it(make_window, qtbot, tmp_path, warnings):
    w = make_window()
    req = ExportRequest(path=tmp_path / "no-such-folder" / "x.gif", frame_count=4)
    with qtbot.waitSignal(w.exportEnded, timeout=20000) as ended:
        w.start_export(w.export_source(), req)
    assert ended.args[0] == "failed" and warnings[-1][0] == "Export failed"


def test_controls_and_window_are_remembered(make_window, tmp_path):
    path = tmp_path / "remember.ini"
    first = make_window(settings_path=path)
    first.controls.seed.setValue(1234)
    first.controls.method.setCurrentIndex(first.controls.method.findData("ddim"))
    first.controls.eta.setValue(0.5)
    first.plot.toggles["log_snr"].setChecked(True)
    first.close()
    second = make_window(settings_path=path, configure=False)
    c = second.controls
    assert c.seed.value() == 1234 and c.method.currentData() == "ddim" and c.eta.value() == 0.5
    assert c.size.value() == 32 and c.T.value() == 50 and c.source() == "noise"
    assert second.plot.toggles["log_snr"].isChecked()
