"""Exceptions raised by rayrot.

Every message names the file it is about; failures on one tile also give the
tile's coordinates and level::

    RayrotError                  base class; catch this to catch them all
    ├── ConfigError              a bad YAML file, unknown key or bad value
    ├── SlideReadError           an input cannot be opened or a region cannot be decoded
    │   └── TimeLimitError       an image ran over scorer.image_time_limit_s
    ├── ModelError               weights missing, malformed or of another architecture
    └── WriteError               an output cannot be written (folder unwritable, disk full)

Errors from the layers below (``pyvips.Error``, ``openslide`` errors, ``OSError``)
are re-raised as these with ``raise ... from exc`` so their detail is kept.
"""

from __future__ import annotations


class RayrotError(Exception):
    """Base class of every error rayrot raises on purpose."""


class ConfigError(RayrotError, ValueError):
    """Raised when a configuration file, key or value is invalid."""


class SlideReadError(RayrotError):
    """Raised when an input image cannot be opened or one of its regions cannot be read."""


class TimeLimitError(SlideReadError):
    """Raised when one image takes longer than its time limit; the batch goes on."""


class ModelError(RayrotError):
    """Raised when model weights cannot be found or loaded."""


class WriteError(RayrotError):
    """Raised when an output file or folder cannot be written."""


def root_cause(exc: BaseException) -> BaseException:
    """The error behind ``exc``: a Ray task's or actor's error unwrapped to the one its code
    raised, and a non-rayrot error to the rayrot error or ``OSError`` it was raised from."""
    seen = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = getattr(exc, "cause", None)  # RayTaskError / RayActorError
        if isinstance(inner, BaseException):
            exc = inner
            continue
        if not isinstance(exc, RayrotError) and isinstance(exc.__cause__, (RayrotError, OSError)):
            exc = exc.__cause__
            continue
        break
    return exc
