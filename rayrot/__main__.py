"""``python -m rayrot``: the command line of :mod:`rayrot.cli`."""

import sys

from .cli import main

sys.exit(main())
