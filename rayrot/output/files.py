"""Output files and folders: the writable-folder check, and writing under a temporary name then renaming."""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pyarrow as pa

from ..errors import WriteError

__all__ = ["check_output_dir", "output_lock", "remove_temporaries"]

LOGGER = logging.getLogger(__name__)

# Names rayrot gives what it writes before the rename (and what it moves aside during one).
_TEMPORARY = re.compile(r"^\..+\.(tmp|old)-[0-9a-f]{8}$|^\..+\.tmp-\d+\.png$"
                        r"|^\.rayrot-write-test-[0-9a-f]{8}$")
_LOCK = ".rayrot/lock"

def check_output_dir(out_dir: str | os.PathLike) -> Path:
    """Create ``out_dir`` if needed and check that files can be created in it.

    Call it before the expensive work starts.

    Returns
    -------
    out_dir : Path

    Raises
    ------
    WriteError
        The folder cannot be created or written to; the message names it.
    """
    out = Path(out_dir)
    _ensure_dir(out)
    probe = out / f".rayrot-write-test-{uuid.uuid4().hex[:8]}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise WriteError(f"output folder {out} is not writable: {exc.strerror or exc}") from exc
    return out


def _ensure_dir(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(f"cannot create output folder {folder}: {exc.strerror or exc}") from exc
    if not folder.is_dir():
        raise WriteError(f"output folder {folder} is not a directory")


def _tmp_sibling(path: Path) -> Path:
    """A hidden temporary name next to ``path``: ``<dir>/.<name>.tmp-<8 hex>``."""
    return path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"


def _remove(path: Path) -> None:
    """Delete a file or folder if it exists; never raises."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    except OSError:
        LOGGER.warning("could not remove temporary %s", path)


def _replace(tmp: Path, path: Path) -> None:
    """Rename ``tmp`` to ``path``; a folder already at ``path`` (or a file, when ``tmp`` is a
    folder) is moved aside first."""
    if (path.is_dir() and not path.is_symlink()) or (tmp.is_dir() and path.exists()):
        old = path.parent / f".{path.name}.old-{uuid.uuid4().hex[:8]}"
        os.replace(path, old)
        os.replace(tmp, path)
        _remove(old)
    else:
        os.replace(tmp, path)


@contextmanager
def _atomic(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling of ``path``; rename it to ``path`` on success, delete it on error.

    OSError (and libvips' or Arrow's IO errors) become :class:`WriteError` naming ``path``.
    """
    path = Path(path)
    _ensure_dir(path.parent)
    tmp = _tmp_sibling(path)
    try:
        yield tmp
        _replace(tmp, path)
    except BaseException as exc:
        _remove(tmp)
        if isinstance(exc, (OSError, pa.ArrowException)) and not isinstance(exc, WriteError):
            reason = getattr(exc, "strerror", None) or exc
            raise WriteError(f"cannot write {path}: {reason}") from exc
        raise


@contextmanager
def output_lock(out_dir: str | os.PathLike) -> Iterator[Path]:
    """Hold ``out_dir``'s lock for one run: a second run into the same folder is refused
    (its temporaries are this run's), and the lock goes with the process however it ends.

    Raises
    ------
    WriteError
        Another process holds the lock.
    """
    lock = Path(out_dir) / _LOCK
    _ensure_dir(lock.parent)
    with open(lock, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            raise WriteError(f"output folder {out_dir} is in use by another rayrot run") from exc
        try:
            yield lock
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def remove_temporaries(out_dir: str | os.PathLike) -> int:
    """Delete the temporaries a killed run left anywhere in ``out_dir`` (``.<name>.tmp-*``,
    ``.<name>.old-*``); finished ``.zarr`` stores are not searched. Returns how many."""
    removed = 0
    for folder, dirs, files in os.walk(out_dir):
        for name in [*dirs, *files]:
            if _TEMPORARY.match(name):
                _remove(Path(folder) / name)
                removed += 1
        dirs[:] = [d for d in dirs if not _TEMPORARY.match(d) and not d.endswith(".zarr")]
    if removed:
        LOGGER.info("%s: removed %d temporaries of an earlier run", out_dir, removed)
    return removed
