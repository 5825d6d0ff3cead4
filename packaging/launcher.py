"""Entry point of the PyInstaller bundle: the same ``diffusion-studio`` command as the pip install.

Without arguments (or with an image) it opens the window; ``sample``, ``noise``, ``models``, ``train`` and
``--version`` work as sub-commands, so one executable serves both the menu entry and the terminal.
"""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a frozen child process (torch DataLoader workers) must not re-run main()
    from diffusion_studio.cli import main

    sys.exit(main())
