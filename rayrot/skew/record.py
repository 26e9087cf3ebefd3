"""SkewEstimate: one tile's or one image's skew, with its confidence."""

from __future__ import annotations

from dataclasses import dataclass, field


__all__ = ["SkewEstimate"]


@dataclass(frozen=True)
class SkewEstimate:
    """Fine skew of one tile or one image.

    Attributes
    ----------
    angle_deg : float
        Clockwise rotation in degrees that straightens the content, in [-45, 45]; 0.0 when no line
        structure was found.
    confidence : float
        0..1; near 0 for content without line structure (photos, tissue, blank paper).
    n_tiles : int
        Tiles that support the answer (for a single tile: 1, or 0 when it has no structure).
    spread_deg : float
        Weighted mean absolute deviation of the supporting tiles from the answer, in degrees
        (0.0 for a single tile).
    tiles : tuple of (SkewEstimate or None)
        From :func:`estimate_skew` only: one entry per input tile, in input order, with that
        tile's own estimate near the chosen direction (None: not measured, beyond
        ``max_tiles``; angle 0 and confidence 0: no line structure). Empty otherwise.
    """

    angle_deg: float
    confidence: float
    n_tiles: int
    spread_deg: float = 0.0
    tiles: tuple["SkewEstimate | None", ...] = field(default=(), repr=False, compare=False)


_NONE = SkewEstimate(0.0, 0.0, 0, 0.0)
