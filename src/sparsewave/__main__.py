"""``python -m sparsewave``: the same command line as the ``sparsewave`` script."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
