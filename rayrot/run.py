"""The entry point for ``ray job submit --working-dir . -- python rayrot/run.py ...``.

The same command line as ``python -m rayrot`` and the ``rayrot`` console script
(:mod:`rayrot.cli`); rayrot must be installed where the job runs.
"""

import sys

from rayrot.cli import main

if __name__ == "__main__":
    sys.exit(main())
