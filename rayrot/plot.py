"""The picture of a decision: the thumbnail with each tile's vote drawn on it (matplotlib)."""

from __future__ import annotations

import os
from pathlib import Path


from .config import load_config
from .errors import WriteError
from .result import DetectionResult
from .source import open_slide

__all__ = ["plot_result", "save_overlay", "CLASS_COLOURS"]

# One colour per class (0, 90, 180, 270); abstaining tiles are drawn grey.
CLASS_COLOURS = ("#2ca02c", "#1f77b4", "#d62728", "#ff7f0e")


def plot_result(result: DetectionResult, ax=None, thumbnail_px: int = 768):
    """Draw ``result`` on a thumbnail of its image; returns the matplotlib axes.

    Each scored tile is outlined in its predicted class's colour, filled more strongly the
    more confident it was; the title gives the decision.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch, Rectangle

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 7))
    slide = open_slide(result.path, load_config().source)
    thumb = slide.thumbnail(thumbnail_px)
    f = thumb.shape[1] / slide.width
    ax.imshow(thumb)
    if result.tiles is not None and result.tiles.num_rows:
        t = result.tiles.to_pydict()
        for i in range(result.tiles.num_rows):
            if t["is_global"][i] or t["kind"][i] != "orientation":
                continue
            colour = "#7f7f7f" if t["abstained"][i] else CLASS_COLOURS[t["predicted"][i] // 90]
            alpha = 0.1 + 0.4 * float(t["confidence"][i])
            ax.add_patch(Rectangle((t["x0"][i] * f, t["y0"][i] * f), t["w0"][i] * f, t["h0"][i] * f,
                                   facecolor=colour, alpha=alpha, edgecolor=colour, linewidth=1.2))
    angle = "undetermined" if result.angle is None else f"rotate {result.angle}° clockwise"
    skew = f", skew {result.skew_deg:+.2f}°" if result.skew_deg else ""
    ax.set_title(f"{Path(result.path).name}: {angle} (confidence {result.confidence:.2f}){skew}",
                 fontsize=10)
    ax.legend(handles=[Patch(color=c, label=f"{a}°") for c, a in zip(CLASS_COLOURS, (0, 90, 180, 270))],
              loc="lower right", fontsize=8, framealpha=0.8)
    ax.set_axis_off()
    return ax


def save_overlay(result: DetectionResult, path: str | os.PathLike, thumbnail_px: int = 768) -> None:
    """Save :func:`plot_result`'s picture as a PNG (temporary name, then renamed)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}.png")
    fig, ax = plt.subplots(figsize=(7, 7))
    try:
        plot_result(result, ax=ax, thumbnail_px=thumbnail_px)
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
        os.replace(tmp, path)
    except OSError as exc:
        raise WriteError(f"{path}: cannot write overlay: {exc.strerror or exc}") from exc
    finally:
        plt.close(fig)
        if tmp.exists():
            tmp.unlink()
