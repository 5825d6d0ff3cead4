"""Qt-free session layer: runs, comparisons, frame streams and stores shared by the CLI and the window."""
