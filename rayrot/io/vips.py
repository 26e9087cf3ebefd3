"""The libvips backend of :class:`~rayrot.io.slide.Slide`: which loaders may open a file, how
its levels are found, and how its pixels become 8-bit sRGB (for scoring) or keep their own
depth (for the written outputs).

Only raster loaders named in ``source.loaders`` may open an input: the file's loader is
looked up from its bytes (not its name) and refused when not allowed, and libvips itself is
told to block every other loader (:func:`block_other_loaders`), so no loader reached from
inside another (an SVG's embedded images, for one) runs either.
"""

from __future__ import annotations

import contextvars
import itertools
import time
from contextlib import contextmanager
from dataclasses import dataclass

from ..config import SourceConfig
from ..errors import SlideReadError

__all__ = ["VipsSource", "PreviewLevel", "decode_deadline", "watched", "open_vips", "block_other_loaders", "normalise", "full_depth",
           "to_numpy", "one_line"]

# Scales at which libvips' JPEG loader decodes directly (DCT scaling).
_JPEG_SHRINKS = (2, 4, 8)
# Loaders that read any region without decoding the rest of the image (tiles or strips).
_RANDOM_ACCESS_LOADERS = ("tiffload", "jp2kload")
# Loaders whose several pages are the frames of an animation.
_ANIMATION_LOADERS = ("gifload", "webpload", "heifload")
# Smallest side, in pixels, a JPEG shrink level keeps (below it the level is useless).
_MIN_SHRUNK_SIDE_PX = 64


@dataclass(frozen=True)
class VipsSource:
    """What the libvips backend found in one file's headers (plain data)."""

    loader: str  # libvips loader nickname, e.g. "pngload"
    pages: int  # pages (TIFF) or frames (GIF, WebP) that are not pyramid levels
    same_size_pages: bool  # every such page has the size of the first
    animated: bool  # the pages are an animation's frames
    random_access: bool  # a region of level 0 reads without decoding the whole image
    float_divisor: float  # float samples are divided by this to lie in 0..1 (1.0 otherwise)
    float_offset: float  # ... after this is subtracted (a float image's negative minimum)


_WATCHED = itertools.count(1)
# time.monotonic() past which a decode in this thread is stopped (None: no limit)
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("decode_deadline",
                                                                         default=None)


@contextmanager
def decode_deadline(deadline: float | None):
    """Within the block, a decode this thread runs (:func:`watched`) is stopped by libvips
    once ``time.monotonic()`` passes ``deadline``: a long decode of one image (a huge PNG's
    streamed preview) cannot outlast its time limit."""
    token = _DEADLINE.set(deadline)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def watched(image):
    """``image``, told to stop computing (libvips' kill flag, checked as it computes) once the
    current :func:`decode_deadline` passes; ``image`` itself when there is none."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return image
    # The handler lives only as long as this Python object, but libvips' operation cache may
    # hand the same image to a later identical call: a copy with a unique offset is never
    # handed out again, so its handler is never called once it is gone.
    image = image.copy(xoffset=next(_WATCHED) % (1 << 30))

    def on_eval(img, progress):
        if time.monotonic() > deadline:
            img.set_kill(True)

    image.set_progress(True)
    image.signal_connect("eval", on_eval)
    return image


def block_other_loaders(loaders: tuple[str, ...]) -> None:
    """Block every libvips loader except ``loaders``, in this process.

    libvips keeps one operation table per process, so the block cannot be scoped to one
    call: it is set here, where the reader opens files, and only for loaders rayrot never
    uses to read an input. Nothing else in the process needs SVG, PDF or text loaders.
    """
    global _ALLOWED
    if loaders == _ALLOWED:
        return
    import pyvips

    pyvips.operation_block_set("VipsForeignLoad", True)
    for name in loaders:
        gtype = pyvips.type_find("VipsOperation", name)
        if gtype:  # a loader this libvips was built without is simply absent
            # operation_block_set takes class names, not nicknames
            pyvips.operation_block_set(pyvips.type_name(gtype), False)
    _ALLOWED = loaders


# the loaders libvips allows in this process (None: libvips' own default, nothing blocked)
_ALLOWED: tuple[str, ...] | None = None


def _find_loader(path: str, cfg: SourceConfig) -> str:
    """The loader libvips picks for ``path`` from its bytes; refused unless allowed."""
    import pyvips

    # libvips' own sniffing of the file's bytes (pyvips 3.2 has no wrapper for it); a blocked
    # loader is never found.
    found = pyvips.vips_lib.vips_foreign_find_load(path.encode())
    if found == pyvips.ffi.NULL:
        pyvips.vips_lib.vips_error_clear()
        raise SlideReadError(f"{path}: not an image libvips or OpenSlide can read (allowed "
                             f"raster loaders: source.loaders)")
    nickname = pyvips.nickname_find(pyvips.type_from_name(pyvips.ffi.string(found).decode()))
    if nickname not in cfg.loaders:
        raise SlideReadError(f"{path}: its content is read by libvips' {nickname}, which is not "
                             f"one of source.loaders (raster images only)")
    return nickname


def open_vips(path: str, cfg: SourceConfig):
    """The level handles of one file: ``(handles, raw, info, is_pyramid)``.

    ``handles`` are lazy, normalised (3-band uchar sRGB) pyvips images, finest first; the
    last may be a :class:`PreviewLevel` (of a big image without random access), made when
    first read. ``raw`` is level 0 as loaded, EXIF
    orientation applied, at the file's own depth and bands.
    """
    import pyvips

    block_other_loaders(tuple(cfg.loaders))
    loader = _find_loader(path, cfg)
    try:
        # revalidate: a file rewritten since libvips last opened it must not come from its cache.
        first = pyvips.Image.new_from_file(path, access="random", fail_on=cfg.fail_on,
                                           revalidate=True)
    except pyvips.Error as exc:
        raise SlideReadError(f"{path}: not an image libvips can read: {one_line(exc)}") from exc
    fields = first.get_fields()
    pages = first.get("n-pages") if "n-pages" in fields else 1
    subifds = first.get("n-subifds") if "n-subifds" in fields else 0
    handles = [first]
    doc_pages = [first]
    # A pyramid is either a run of pages, each smaller than the one before
    # (libvips' tiffsave pyramid=True), or sub-IFDs under page 0 (OME-TIFF style).
    if loader == "tiffload" and subifds:
        for i in range(subifds):
            handles.append(_load(path, cfg, subifd=i))
    elif loader == "tiffload" and pages > 1:
        rest = [_load(path, cfg, page=i) for i in range(1, pages)]
        for img in rest:
            prev = handles[-1]
            if img.width >= prev.width or img.height >= prev.height:
                break  # pyramid levels end here
            handles.append(img)
        if len(handles) == 1:  # a multi-page document, not a pyramid
            doc_pages += rest
    is_pyramid = len(handles) > 1
    n_doc = 1 if is_pyramid or subifds else pages
    animated = loader in _ANIMATION_LOADERS and pages > 1
    same_size = animated or all((p.width, p.height) == (first.width, first.height)
                                for p in doc_pages)
    if loader == "jpegload":
        # JPEG decodes at 1/2, 1/4 and 1/8 scale almost for free (DCT scaling): offer those
        # as coarser levels, so a big photo is scored without decoding its full resolution.
        for shrink in _JPEG_SHRINKS:
            if min(first.width, first.height) // shrink < _MIN_SHRUNK_SIDE_PX:
                break
            handles.append(_load(path, cfg, shrink=shrink, revalidate=True))
    if not is_pyramid and "orientation" in fields:
        try:
            handles = [h.autorot() for h in handles]
        except pyvips.Error as exc:
            raise SlideReadError(f"{path}: cannot apply EXIF orientation: {one_line(exc)}") from exc
    raw = handles[0]
    divisor, offset = _float_range(raw, path)
    info = VipsSource(loader, n_doc, same_size, animated, loader in _RANDOM_ACCESS_LOADERS,
                      divisor, offset)
    handles = [normalise(h, info) for h in handles]
    last = handles[-1]
    if (not info.random_access and not is_pyramid
            and last.width * last.height > cfg.ordinary_max_pixels):
        handles.append(PreviewLevel(path, cfg, raw.width, raw.height, info))
    return handles, raw, info, is_pyramid


def _load(path: str, cfg: SourceConfig, **options):
    import pyvips

    try:
        return pyvips.Image.new_from_file(path, access="random", fail_on=cfg.fail_on, **options)
    except pyvips.Error as exc:
        raise SlideReadError(f"{path}: cannot read its header ({options}): {one_line(exc)}") from exc


def preview_size(width: int, height: int, long_px: int) -> tuple[int, int]:
    """Size of the preview level of a ``width`` x ``height`` image, long side ``long_px``."""
    scale = min(1.0, long_px / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


class PreviewLevel:
    """The preview level of a big image without random access, made when first read: one
    streaming shrink-on-load read of the file (memory bounded by the preview, no temporary
    file), decoded once and kept in memory."""

    def __init__(self, path: str, cfg: SourceConfig, width: int, height: int, info: VipsSource):
        self.path, self._cfg, self._info = path, cfg, info
        self.size = preview_size(width, height, cfg.untiled_preview_px)

    def make(self):
        import pyvips

        tw, th = self.size
        try:
            thumb = pyvips.Image.thumbnail(self.path, max(tw, th), height=max(tw, th),
                                           size="down", fail_on=self._cfg.fail_on)
            if (thumb.width, thumb.height) != (tw, th):
                thumb = thumb.thumbnail_image(tw, height=th, size="force")
            return watched(normalise(thumb, self._info)).copy_memory()
        except pyvips.Error as exc:
            raise SlideReadError(f"{self.path}: cannot decode a {tw}x{th} preview: "
                                 f"{one_line(exc)}") from exc


def _float_range(img, path: str) -> tuple[float, float]:
    """``(divisor, offset)`` that bring a float image's samples into 0..1 by their real range:
    0..1 data as it is, 0..255 and 0..65535 data by that range, anything else by its own
    minimum and maximum. ``(1.0, 0.0)`` for integer formats."""
    if img.format not in ("float", "double") or img.interpretation in _COLOUR_SPACES:
        return 1.0, 0.0
    import os

    import pyvips

    st = os.stat(path)
    key = (path, st.st_mtime_ns, st.st_size)
    if key in _FLOAT_RANGES:  # each chunk writer opens the file again: one pass is enough
        return _FLOAT_RANGES[key]

    try:
        bands = img[:-1] if img.hasalpha() else img
        lo, hi = float(bands.min()), float(bands.max())
    except pyvips.Error as exc:
        raise SlideReadError(f"{path}: cannot read its float samples: {one_line(exc)}") from exc
    offset = min(lo, 0.0)
    span = hi - offset
    found = next(((top, offset) for top in (1.0, 255.0, 65535.0) if span <= top * (1 + 1e-6)),
                 (span or 1.0, offset))
    if len(_FLOAT_RANGES) > 64:
        _FLOAT_RANGES.clear()
    _FLOAT_RANGES[key] = found
    return found


# (path, mtime, size) -> _float_range's answer, in this process
_FLOAT_RANGES: dict[tuple[str, int, int], tuple[float, float]] = {}


# Float interpretations that are colour spaces libvips converts itself.
_COLOUR_SPACES = ("xyz", "lab", "lch", "cmc", "labs", "yxy", "hsv")


def _to_unit_depth(img, info: VipsSource, top: float, fmt: str):
    """Float samples scaled by their real range to 0..``top`` and cast to ``fmt``."""
    if img.format in ("float", "double"):
        if img.interpretation in _COLOUR_SPACES:
            return img.colourspace("srgb" if fmt == "uchar" else "rgb16")
        scaled = (img - info.float_offset) * (top / info.float_divisor)
        return scaled.cast(fmt)
    return img


def normalise(img, info: VipsSource | None = None):
    """Any band count, format or interpretation -> 3-band uchar sRGB, alpha on white."""
    info = info or VipsSource("", 1, True, False, True, 1.0, 0.0)
    img = _to_unit_depth(img, info, 255.0, "uchar")
    if img.hasalpha():
        # Transparent pixels become white, as on paper.
        top = 65535 if img.format == "ushort" else 255
        img = img.flatten(background=[top] * (img.bands - 1), max_alpha=top)
    if img.interpretation == "cmyk" or (img.format == "ushort" and
                                        img.interpretation in ("rgb16", "grey16")):
        img = img.colourspace("srgb")
    if img.format == "ushort":
        img = (img >> 8).cast("uchar")
    elif img.format != "uchar":
        img = img.cast("uchar")
    if img.bands < 3:
        img = img[0].bandjoin([img[0], img[0]])
    elif img.bands > 3:
        img = img[0:3]
    return img.copy(interpretation="srgb")


def full_depth(img, info: VipsSource, alpha: bool):
    """The written outputs' pixels: 3-band sRGB (4 with ``alpha`` when the input has one) at
    the input's own depth, uchar for 8-bit inputs, ushort for 16-bit ones and for float ones
    (scaled by their real range, never saturated)."""
    if img.interpretation == "cmyk":  # libvips' colour management gives 8-bit sRGB
        img = img.colourspace("srgb")
    wide = img.format in ("ushort", "short", "uint", "int", "float", "double") \
        or img.interpretation in ("rgb16", "grey16")
    fmt, top = ("ushort", 65535) if wide else ("uchar", 255)
    img = _to_unit_depth(img, info, float(top), fmt)
    if img.format != fmt:
        img = img.cast(fmt)
    has_alpha = img.hasalpha()
    if has_alpha and not alpha:
        img = img.flatten(background=[top] * (img.bands - 1), max_alpha=top).cast(fmt)
        has_alpha = False
    colour = img[:-1] if has_alpha else img
    if colour.bands < 3:
        colour = colour[0].bandjoin([colour[0], colour[0]])
    elif colour.bands > 3:
        colour = colour[0:3]
    out = colour.bandjoin(img[-1]) if has_alpha else colour
    return out.copy(interpretation="rgb16" if fmt == "ushort" else "srgb")


def to_numpy(img):
    """A pyvips image's pixels, ``(h, w, bands)`` in its own dtype."""
    import numpy as np

    dtype = {"uchar": np.uint8, "ushort": np.uint16}[img.format]
    buf = watched(img).write_to_memory()
    return np.frombuffer(buf, dtype).reshape(img.height, img.width, img.bands).copy()


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().replace("\n", " ")
    return " ".join(text.split())[:300] or type(exc).__name__
