"""Output files and folders, local or on object storage: the writable-folder check, and whole outputs only.

An output folder is a local path or an fsspec URL (``s3://bucket/prefix``, ``gs://...``;
``file://`` is a local path). Credentials and endpoints come from the environment, as
fsspec's backends read them (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID`` ... for s3fs).

A local output is written under a hidden temporary name beside it and renamed when complete.
Object stores have no rename: a file is written locally under a temporary name and then
uploaded with one PUT, which the store makes visible only once it is whole, so a reader
never sees half a file there either.
"""

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
from ..io.remote import is_remote

__all__ = ["check_output_dir", "is_url", "output_child", "output_lock", "remove_temporaries"]

LOGGER = logging.getLogger(__name__)

# Names rayrot gives what it writes before the rename (and what it moves aside during one).
_TEMPORARY = re.compile(r"^\..+\.(tmp|old)-[0-9a-f]{8}$|^\..+\.tmp-\d+\.png$"
                        r"|^\.rayrot-write-test-[0-9a-f]{8}$")
_LOCK = ".rayrot/lock"

def is_url(path: str | os.PathLike) -> bool:
    """True for an fsspec URL of a remote filesystem (``s3://b/k``), False for a local path
    (``file://`` URLs included): :func:`rayrot.io.remote.is_remote`, for paths too."""
    return is_remote(str(path))


def _local(path: str | os.PathLike) -> Path:
    text = str(path)
    return Path(text[len("file://"):]) if text.startswith("file://") else Path(text)


def output_child(out_dir: str | Path, name: str) -> str | Path:
    """``out_dir / name`` for a local folder, ``out_dir + "/" + name`` for a URL."""
    if is_url(out_dir):
        return f"{str(out_dir).rstrip('/')}/{name}"
    return _local(out_dir) / name


def _remote_fs(url: str):
    """``(filesystem, path)`` of an fsspec URL."""
    import fsspec

    return fsspec.core.url_to_fs(url)


def check_output_dir(out_dir: str | os.PathLike) -> str | Path:
    """Create ``out_dir`` if needed and check that files can be created in it.

    Call it before the expensive work starts.

    Returns
    -------
    out_dir : Path, or the URL as a str (no trailing slash) for object storage

    Raises
    ------
    WriteError
        The folder cannot be created or written to; the message names it.
    """
    if is_url(out_dir):
        url = str(out_dir).rstrip("/")
        try:
            fs, root = _remote_fs(url)
            fs.makedirs(root, exist_ok=True)
            probe = f"{root}/.rayrot-write-test-{uuid.uuid4().hex[:8]}"
            fs.pipe_file(probe, b"")
            fs.rm_file(probe)
        except ImportError as exc:
            raise WriteError(f"output {url}: no filesystem for this URL ({exc})") from exc
        except Exception as exc:  # botocore, gcsfs ... each have their own errors
            raise WriteError(f"output folder {url} is not writable: {_one_line(exc)}") from exc
        return url
    out = _local(out_dir)
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


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__


@contextmanager
def _atomic(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling of ``path``; rename it to ``path`` on success, delete it on error.

    For a URL the temporary file is local and is uploaded to ``path`` in one PUT on success
    (an object appears only once whole). OSError (and libvips' or Arrow's IO errors) become
    :class:`WriteError` naming ``path``.
    """
    if is_url(path):
        with _uploaded(str(path)) as tmp:
            yield tmp
        return
    path = _local(path)
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
def _uploaded(url: str) -> Iterator[Path]:
    """A local temporary file, uploaded to ``url`` when the block succeeds."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="rayrot-upload-"))
    tmp = folder / url.rstrip("/").rsplit("/", 1)[-1]
    try:
        yield tmp
        fs, key = _remote_fs(url)
        fs.put_file(str(tmp), key)
    except BaseException as exc:
        if isinstance(exc, WriteError):
            raise
        if isinstance(exc, (OSError, pa.ArrowException)) or type(exc).__module__.split(".")[0] in (
                "botocore", "aiobotocore", "s3fs", "gcsfs", "fsspec"):
            raise WriteError(f"cannot write {url}: {_one_line(exc)}") from exc
        raise
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _remove_tree(url: str) -> None:
    """Delete everything under an object-store prefix; never raises."""
    try:
        fs, key = _remote_fs(url)
        if fs.exists(key):
            fs.rm(key, recursive=True)
    except Exception as exc:
        LOGGER.warning("could not remove %s: %s", url, _one_line(exc))


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
