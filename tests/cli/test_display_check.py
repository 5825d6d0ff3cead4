"""The no-display check that runs before Qt (Qt would abort with exit code 134)."""

from __future__ import annotations

from diffusion_studio.commands.display import display_problem


def test_no_display_on_linux_is_named_with_the_xvfb_hint() -> None:
    problem = display_problem({}, "linux")
    assert problem is not None and "DISPLAY is not set" in problem and "xvfb-run diffusion-studio" in problem


def test_a_display_or_a_chosen_platform_is_left_to_qt() -> None:
    assert display_problem({"DISPLAY": ":0"}, "linux") is None
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux") is None
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None
    assert display_problem({}, "win32") is None and display_problem({}, "darwin") is None


def test_forcing_xcb_without_a_display_is_named() -> None:
    assert "DISPLAY is not set" in (display_problem({"QT_QPA_PLATFORM": "xcb"}, "linux") or "")
