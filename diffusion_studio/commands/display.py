"""Can the window open here? Checked before Qt starts, because Qt aborts (exit 134) when it finds no display.

Linux only: no ``DISPLAY``/``WAYLAND_DISPLAY`` and no ``QT_QPA_PLATFORM`` means there is no screen; with an X
``DISPLAY``, the X server is asked for a connection through libxcb (what Qt's xcb plugin uses), and the
libxcb-cursor library that Qt 6.5+ needs is looked for.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

XVFB_HINT = "run it under a virtual screen (xvfb-run diffusion-studio), or use the sub-commands, which need none"


def display_problem(environ: dict[str, str] | None = None, platform: str | None = None) -> str | None:
    """One sentence saying why the window cannot open here, or None when it can (as far as can be told)."""
    env = os.environ if environ is None else environ
    if not (platform or sys.platform).startswith("linux"):
        return None
    qpa = env.get("QT_QPA_PLATFORM", "")
    if qpa and not qpa.startswith("xcb"):
        return None  # offscreen, wayland, vnc...: the user chose; Qt reports its own problems
    if env.get("WAYLAND_DISPLAY") and not qpa:
        return None
    display = env.get("DISPLAY", "")
    if not display:
        return f"there is no display to open the window on (DISPLAY is not set); {XVFB_HINT}."
    if environ is not None:
        return None  # a test's environment: do not probe the real X server
    return _xcb_problem(display)


def _xcb_problem(display: str) -> str | None:
    xcb_name = ctypes.util.find_library("xcb")
    if xcb_name is None:
        return None  # cannot tell; let Qt try
    if ctypes.util.find_library("xcb-cursor") is None:
        return (
            "Qt's X11 (xcb) platform plugin needs the libxcb-cursor library, which is not installed "
            "(on Debian/Ubuntu: sudo apt install libxcb-cursor0); the sub-commands need no display."
        )
    try:
        xcb = ctypes.CDLL(xcb_name)
        xcb.xcb_connect.restype = ctypes.c_void_p
        xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
        xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
        xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
        conn = xcb.xcb_connect(display.encode(), None)
        failed = xcb.xcb_connection_has_error(conn)
        xcb.xcb_disconnect(conn)
    except (OSError, AttributeError):
        return None
    if failed:
        return f"cannot connect to the display '{display}' (no X server answers there); {XVFB_HINT}."
    return None
