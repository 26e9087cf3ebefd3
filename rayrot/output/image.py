"""Corrected ordinary images: <name>.corrected.<ext>, .angle.txt and .meta.json."""

from __future__ import annotations

import json
import logging
import os
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np

from .files import _atomic, output_child
from ..io import rotate as vips_ops
from .geometry import _check_angle, _output_size
from .tables import ANGLES
from .zarr.store import _open_source

__all__ = ["corrected_suffix", "corrected_pixels", "write_corrected_image"]

LOGGER = logging.getLogger(__name__)



_SUFFIXES = {".jpg": "jpg", ".jpeg": "jpg", ".png": "png", ".tif": "tif", ".tiff": "tif"}


def corrected_suffix(path: str | os.PathLike) -> str:
    """Output extension for ``path``: jpg for .jpg/.jpeg, tif for .tif/.tiff, png otherwise.

    >>> corrected_suffix("scan.JPEG"), corrected_suffix("a.webp")
    ('jpg', 'png')
    """
    return _SUFFIXES.get(Path(path).suffix.lower(), "png")


def _format_deg(value: float) -> str:
    """Degrees as a short decimal: 90 -> "90", 87.4 -> "87.4", -3.25 -> "-3.25"."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _as_slide(slide_or_path: Any, source_cfg: Any):
    if isinstance(slide_or_path, (str, os.PathLike)):
        if source_cfg is None:
            from ..config import load_config

            source_cfg = load_config().source
        return _open_source(str(slide_or_path), source_cfg)
    return slide_or_path


def corrected_pixels(slide: Any, result: Any, out_cfg: Any) -> np.ndarray:
    """The corrected image in memory, as :func:`write_corrected_image` would write it.

    Parameters
    ----------
    slide : Slide
        The opened input (a file's, or one held in memory).
    result : DetectionResult
        Its answer: turned clockwise by ``angle + skew_deg`` (an undetermined angle: no
        quarter turn).
    out_cfg : OutputConfig
        Uses ``fill`` and ``skew_crop``.

    Returns
    -------
    pixels : (H', W', 3) uint8 ndarray
        4 bands (RGBA) when ``out_cfg.fill`` is transparent and there is a skew to straighten.
    """
    angle = _check_angle(result.angle)
    skew = float(result.skew_deg or 0.0)
    image = vips_ops.whole_image(slide)
    if out_cfg.fill == "transparent" and skew != 0:
        image = vips_ops.add_alpha(image)
    out_size = _output_size(slide.width, slide.height, angle, skew, bool(out_cfg.skew_crop))
    return vips_ops.to_array(vips_ops.turn_image(image, angle, skew, out_size, out_cfg.fill))


def write_corrected_image(slide_or_path: Any, result: Any, out_dir: str | os.PathLike,
                          out_cfg: Any, *, name: str | None = None,
                          source_cfg: Any = None) -> dict[str, str]:
    """Write ``<name>.corrected.<ext>``, ``<name>.angle.txt`` and ``<name>.meta.json``.

    The image is rotated clockwise by ``result.angle + result.skew_deg``: pixel-exact for a pure 90-degree multiple, bicubic with the configured
    fill for a fine skew. JPEG is re-encoded at ``out_cfg.jpeg_quality``; PNG and TIFF are
    lossless, keep the alpha of RGBA inputs and the input's depth (16-bit in, 16-bit out; float
    in, 16-bit out scaled by the float's real range), and a multi-page TIFF keeps every page.
    An animation, pages of several sizes, or an input that would decode more than
    ``source.max_decoded_pixels`` whole raise :class:`~rayrot.errors.WriteError`. The three
    files appear together or not at all.

    An undetermined image (``result.angle`` None) is written without a quarter turn (its skew
    is still straightened); ``.angle.txt`` then says ``undetermined`` and ``.meta.json`` has
    ``"angle": null, "undetermined": true``.

    Parameters
    ----------
    slide_or_path : Slide or str
        The opened input, or its path (then opened with ``source_cfg``, default config if None).
    result : DetectionResult
        Must not be a failed result.
    out_dir : str or PathLike
    out_cfg : OutputConfig
        Uses ``image_max_pixels``, ``jpeg_quality``, ``fill`` and ``skew_crop``.
    name : str, optional
        Stem of the three outputs; default the input's file stem.
    source_cfg : SourceConfig, optional

    Returns
    -------
    written : dict
        ``{"image": path, "angle": path, "meta": path}``; empty when the input has more than
        ``out_cfg.image_max_pixels`` pixels (nothing is written).
    """
    start = time.perf_counter()
    if getattr(result, "error", None):
        raise ValueError(f"write_corrected_image: {result.path} failed ({result.error}); "
                         "nothing to correct")
    slide = _as_slide(slide_or_path, source_cfg)
    if slide.width * slide.height > out_cfg.image_max_pixels:
        LOGGER.info("%s: %dx%d is over output.image_max_pixels=%d, no corrected image written",
                    slide.path, slide.width, slide.height, out_cfg.image_max_pixels)
        return {}
    angle = _check_angle(result.angle)
    skew = float(result.skew_deg or 0.0)
    ext = corrected_suffix(slide.path)
    fill = out_cfg.fill
    if fill == "transparent" and ext == "jpg" and skew != 0:
        LOGGER.info("%s: JPEG has no alpha; fill 'transparent' written as white", slide.path)
        fill = "white"
    # Every page of a multi-page TIFF is turned; an animation, pages of several sizes or an
    # image too big to decode whole are refused rather than written in part.
    slide.check_correctable(pages_ok=ext == "tif")
    out_size = _output_size(slide.width, slide.height, angle, skew, bool(out_cfg.skew_crop))
    corrected = []
    for page in range(slide.pages):
        # the run's reader gives the pixels at the input's own depth, with its alpha
        image = slide.output_image(alpha=ext != "jpg", page=page)
        if fill == "transparent" and skew != 0:
            image = vips_ops.add_alpha(image)
        corrected.append(vips_ops.turn_image(image, angle, skew, out_size, fill))

    stem = name or Path(slide.path).stem
    paths = {"image": output_child(out_dir, f"{stem}.corrected.{ext}"),
             "angle": output_child(out_dir, f"{stem}.angle.txt"),
             "meta": output_child(out_dir, f"{stem}.meta.json")}
    with ExitStack() as stack:
        tmps = {k: stack.enter_context(_atomic(p)) for k, p in paths.items()}
        vips_ops.save_image(corrected, tmps["image"], ext, out_cfg.jpeg_quality, paths["image"])
        undetermined = result.angle is None
        tmps["angle"].write_text(("undetermined" if undetermined else _format_deg(angle + skew)) + "\n")
        meta = _image_meta(slide, result, angle, skew, corrected[0], f"{stem}.corrected.{ext}",
                           time.perf_counter() - start)
        tmps["meta"].write_text(json.dumps(meta, indent=2) + "\n")
    LOGGER.info("wrote %s (rotated %s deg clockwise)", paths["image"], _format_deg(angle + skew))
    return {k: str(p) for k, p in paths.items()}


def _image_meta(slide, result, angle: int, skew: float, corrected, image_name: str,
                write_s: float) -> dict[str, Any]:
    seconds = dict(result.seconds or {})
    probs = tuple(result.probabilities or (0.0,) * 4)
    method = " ".join(s for s in ("rayrot", result.model_name, result.model_version) if s)
    return {
        "input": str(slide.path),
        "input_size": [int(slide.width), int(slide.height)],
        "output": image_name,
        "output_size": list(vips_ops.image_size(corrected)),
        "bits_per_sample": vips_ops.bits_per_sample(corrected),
        "pages": int(slide.pages),
        "angle": result.angle,
        "undetermined": result.angle is None,
        "skew_deg": skew,
        "rotation_deg": angle + skew,
        "confidence": float(result.confidence),
        "skew_confidence": float(result.skew_confidence),
        "mpp_x": getattr(result, "mpp_x", None),
        "mpp_y": getattr(result, "mpp_y", None),
        "probabilities": {str(a): float(p) for a, p in zip(ANGLES, probs)},
        "method": method,
        "model_name": result.model_name,
        "model_version": result.model_version,
        "milliseconds": round(1000 * (sum(seconds.values()) + write_s), 1),
        "seconds": {**seconds, "write_image": round(write_s, 4)},
    }
