"""The picture of a decision: a thumbnail with each tile's vote drawn on it (matplotlib).

The image is never opened here: the caller passes its thumbnail, or the open reader
(:class:`~rayrot.io.Slide`) the run used, whose thumbnail is taken.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .files import _atomic

__all__ = ["plot_result", "save_overlay", "CLASS_COLOURS"]

# One colour per class (0, 90, 180, 270); abstaining tiles are drawn grey.
CLASS_COLOURS = ("#2ca02c", "#1f77b4", "#d62728", "#ff7f0e")


def _thumbnail(source: Any, thumbnail_px: int) -> np.ndarray:
    """``source`` as an (h, w, 3) uint8 array: a thumbnail itself, or a reader's thumbnail."""
    if isinstance(source, np.ndarray):
        return source
    if hasattr(source, "thumbnail"):
        return source.thumbnail(thumbnail_px)
    raise TypeError(f"plot needs the image's thumbnail (an array) or its open reader, "
                    f"got {type(source).__name__}")


def plot_result(result: Any, source: Any, ax=None, thumbnail_px: int = 768):
    """Draw ``result`` (a :class:`~rayrot.result.DetectionResult`) on a thumbnail of its image;
    returns the matplotlib axes.

    Parameters
    ----------
    source : (h, w, 3) uint8 ndarray, or a Slide
        The whole image shrunk (any size), or the open reader of the image.
    ax : matplotlib axes, optional
        Drawn on a new pyplot figure when None.

    Each scored tile is outlined in its predicted class's colour, filled more strongly the
    more confident it was; the title gives the decision.
    """
    from matplotlib.patches import Patch, Rectangle

    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(7, 7))
    thumb = _thumbnail(source, thumbnail_px)
    f = thumb.shape[1] / max(result.width, 1)  # thumbnail pixels per level-0 pixel
    ax.imshow(thumb)
    for t in result.tiles:
        if t.is_global or t.kind != "orientation":
            continue
        colour = "#7f7f7f" if t.abstained else CLASS_COLOURS[t.predicted // 90]
        alpha = 0.1 + 0.4 * float(t.confidence)
        ax.add_patch(Rectangle((t.x0 * f, t.y0 * f), t.w0 * f, t.h0 * f,
                               facecolor=colour, alpha=alpha, edgecolor=colour, linewidth=1.2))
    angle = "undetermined" if result.angle is None else f"rotate {result.angle}° clockwise"
    skew = f", skew {result.skew_deg:+.2f}°" if result.skew_deg else ""
    ax.set_title(f"{Path(result.path).name}: {angle} (confidence {result.confidence:.2f}){skew}",
                 fontsize=10)
    ax.legend(handles=[Patch(color=c, label=f"{a}°") for c, a in zip(CLASS_COLOURS, (0, 90, 180, 270))],
              loc="lower right", fontsize=8, framealpha=0.8)
    ax.set_axis_off()
    return ax


def save_overlay(result: Any, source: Any, path: str | os.PathLike, *, thumbnail_px: int,
                 figure_in: float, dpi: int) -> None:
    """Save :func:`plot_result`'s picture as a PNG (temporary name, then renamed), its
    thumbnail ``thumbnail_px`` long, the figure ``figure_in`` inches square at ``dpi``
    (``output.overlay_*`` in the config).

    Draws on a bare :class:`matplotlib.figure.Figure` (Agg canvas): pyplot's global state and
    backend are left as they are.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(figure_in, figure_in))
    plot_result(result, source, ax=fig.add_subplot(), thumbnail_px=thumbnail_px)
    with _atomic(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png")
