"""What rayrot answers for one image.

``DetectionResult`` is the record the engine hands to the output package and to the user
(``rayrot.detect(path)``); ``TileRecord`` is one of its tiles. Both are plain Python:
conversion to Arrow rows happens in :mod:`rayrot.output`, to pandas in :meth:`tiles_frame`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

__all__ = ["DetectionResult", "TileRecord"]


@dataclass(frozen=True)
class TileRecord:
    """One tile the model scored (``kind`` "orientation") or the fine-skew estimator measured
    (``kind`` "skew"); the fields a kind does not have are None. The columns of
    ``tiles.parquet`` (``rayrot.output.TILES_SCHEMA``) in the same order."""

    path: str  # the input image
    kind: str  # "orientation" or "skew"
    level: int  # pyramid level the tile was read from
    x: int  # left edge, pixels of that level (of its scoring scale for orientation tiles)
    y: int  # top edge, same pixels
    w: int  # width, same pixels
    h: int  # height, same pixels
    x0: int  # left edge, level-0 pixels, origin top left
    y0: int  # top edge, level-0 pixels
    w0: int  # width, level-0 pixels
    h0: int  # height, level-0 pixels
    is_global: bool  # the whole-image view (the image shrunk into one tile)
    is_context: bool | None = None  # a context crop (a square larger than a tile, shrunk into one)
    center_weight: float | None = None  # vote weight from the distance to the centre, 0..1
    p_0: float | None = None  # model probability of class 0 deg
    p_90: float | None = None
    p_180: float | None = None
    p_270: float | None = None
    predicted: int | None = None  # the tile's top class, clockwise degrees 0/90/180/270
    confidence: float | None = None  # the tile's top probability, 0..1
    abstained: bool | None = None  # below the confidence floor: no vote
    skew_deg: float | None = None  # the tile's own skew, clockwise degrees
    skew_confidence: float | None = None  # 0..1


TILE_COLUMNS = tuple(f.name for f in fields(TileRecord))


@dataclass
class DetectionResult:
    """Orientation of one input image.

    Attributes
    ----------
    path : str
        The input file.
    width, height : int
        Level-0 size in pixels (after EXIF orientation).
    level : int
        Pyramid level the tiles were read from (0 = full resolution).
    scale : float
        Pixels of pyramid level ``level`` per pixel of the scale tiles were scored at (plan
        pixels); level-0 pixels per plan pixel are ``scale`` times that level's downsample.
    angle : int or None
        Clockwise rotation in degrees, one of 0/90/180/270, that makes the input upright;
        None when undetermined.
    confidence : float
        0..1, the winner's share of the vote mass.
    probabilities : tuple of 4 floats
        Vote mass per class (0, 90, 180, 270), normalised to sum to 1.
    skew_deg : float
        Clockwise fine rotation in degrees that straightens the content after ``angle``;
        0.0 when no line structure was found.
    skew_confidence : float
        0..1.
    tiles : tuple of TileRecord
        The scored tiles, then the tiles the skew estimator measured; as a pandas DataFrame
        with :meth:`tiles_frame`.
    tiles_scored, tiles_skipped, tiles_abstained : int
        Tiles the model scored; tiles dropped as background, over the cap or left unscored after
        the early stop; scored tiles below the confidence floor.
    seconds : dict
        Wall-clock seconds per stage ("open", "plan", "score", "vote", "skew", "write").
    mpp_x, mpp_y : float or None
        Micrometres per level-0 pixel of the input across and down, as its header records
        them; None when it records none.
    model_name, model_version : str
    error : str or None
        One line saying why this input failed; every other field is then empty.
    """

    path: str
    width: int = 0
    height: int = 0
    level: int = 0
    scale: float = 1.0
    angle: int | None = None
    confidence: float = 0.0
    probabilities: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    skew_deg: float = 0.0
    skew_confidence: float = 0.0
    tiles: tuple[TileRecord, ...] = ()
    tiles_scored: int = 0
    tiles_skipped: int = 0
    tiles_abstained: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    model_name: str = ""
    model_version: str = ""
    mpp_x: float | None = None
    mpp_y: float | None = None
    error: str | None = None
    outputs: dict[str, str] = field(default_factory=dict)  # kind -> path written

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def undetermined(self) -> bool:
        return self.error is None and self.angle is None

    @property
    def total_rotation_deg(self) -> float:
        """Clockwise degrees that make the input upright and straight (``angle + skew_deg``)."""
        return float((self.angle or 0) + self.skew_deg)

    def tiles_frame(self):
        """:attr:`tiles` as a pandas DataFrame, one row per tile, columns as in
        ``tiles.parquet`` (None becomes NaN in float columns)."""
        import pandas as pd

        return pd.DataFrame([asdict(t) for t in self.tiles], columns=list(TILE_COLUMNS))

    def plot(self, source, ax=None, thumbnail_px: int = 768):
        """Draw the image's thumbnail with each tile's vote coloured on it (matplotlib); returns
        the axes. ``source``: the thumbnail ((h, w, 3) uint8), or the open reader
        (``rayrot.open_slide(path, cfg.source)``)."""
        from .output.overlay import plot_result

        return plot_result(self, source, ax=ax, thumbnail_px=thumbnail_px)

    def __repr__(self) -> str:
        if self.error:
            return f"DetectionResult({self.path!r}, error={self.error!r})"
        angle = "undetermined" if self.angle is None else f"{self.angle}"
        return (f"DetectionResult({self.path!r}, angle={angle}, confidence={self.confidence:.3f}, "
                f"skew_deg={self.skew_deg:.2f}, tiles={self.tiles_scored})")
