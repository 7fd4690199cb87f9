"""``python -m vlmlab.training MODEL COMMAND``: see ``vlmlab.training.commands``."""

import sys

from .commands import main

if __name__ == "__main__":
    sys.exit(main())
