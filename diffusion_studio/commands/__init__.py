"""The sub-commands of ``diffusion-studio``: each module has ``add_arguments(parser)`` and ``run(args)``."""
