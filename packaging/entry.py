"""Entry point of the PyInstaller bundle: the same CLI as `companion` (no arguments: the window)."""

import multiprocessing
import sys

from companion.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a DataLoader worker re-executes the bundle
    sys.exit(main())
