"""Inputs on object storage: a local copy of an fsspec URL (``s3://``, ``gs://``, ``https://``) for the readers.

libvips and OpenSlide read local files (OpenSlide only local files), so a URL is copied once
per process into a local cache (fsspec's ``simplecache``, keyed by the URL) and read from
there; every process that opens the URL, on whichever node, fetches its own copy. Credentials
and endpoints come from the environment, as fsspec's backends read them.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile

from ..errors import SlideReadError

__all__ = ["is_remote", "local_copy"]


def is_remote(path: str) -> bool:
    """True for an fsspec URL of a remote filesystem; ``file://`` and plain paths are local.

    >>> is_remote("s3://bucket/slide.svs"), is_remote("/data/slide.svs")
    (True, False)
    """
    return "://" in path and not path.startswith("file://")


@functools.lru_cache(maxsize=1)
def _cache_dir() -> str:
    folder = tempfile.mkdtemp(prefix="rayrot-inputs-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def local_copy(url: str) -> str:
    """The path of a local copy of ``url``, fetched on first use in this process.

    Raises
    ------
    SlideReadError
        The URL cannot be fetched (no such object, no access, no filesystem for the scheme);
        the message names the URL.
    """
    import fsspec

    try:
        return fsspec.open_local(f"simplecache::{url}",
                                 simplecache={"cache_storage": _cache_dir()})
    except FileNotFoundError as exc:
        raise SlideReadError(f"{url}: no such file") from exc
    except Exception as exc:  # botocore, gcsfs, aiohttp ... each have their own errors
        reason = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise SlideReadError(f"{url}: cannot fetch: {reason}") from exc
