"""``python -m rayrot.training.synth``: save previews (:mod:`rayrot.training.synth.cli`)."""

from .cli import _main

_main()
