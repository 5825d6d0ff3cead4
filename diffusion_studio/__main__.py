"""``python -m diffusion_studio`` runs the same command line as ``diffusion-studio``."""

from diffusion_studio.cli import main

raise SystemExit(main())
