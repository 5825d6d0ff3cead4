"""The desktop window: the only package that imports Qt.

Qt only adapts here: the maths lives in :mod:`diffusion_studio.core`, and the app's own non-Qt helpers
(:mod:`.streaming`, :mod:`.frame_store`, :mod:`.forward_view`) can be used and tested without a display.
Start it with ``diffusion-studio`` or :func:`diffusion_studio.app.main.run_app`.
"""
