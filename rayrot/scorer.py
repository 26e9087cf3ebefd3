"""Score tiles with the orientation model: a plain callable class (Ray Data style).

``TileScorer(cfg)`` loads the model once; calling it on a batch of tile *coordinates*
reads those tiles itself (each process opens the image through
:func:`rayrot.io.open_slide`: pixels never travel between processes) and returns
their class probabilities::

    scorer = TileScorer(cfg)
    out = scorer({"path": paths, "level": ..., "scale": ..., "x": ..., "y": ..., "w": ..., "h": ...,
                  "is_global": ...})
    out["probs"]        # (B, 4) float32, classes (0, 90, 180, 270)

The pipeline wraps it in a Ray actor; tests and notebooks call it directly.
"""

from __future__ import annotations

import logging
import os

import numpy as np
from PIL import Image

from .config import RunConfig
from .model.preprocess import letterbox, pad_to_square, resize_square
from .io import Slide, open_slide

__all__ = ["TileScorer", "default_device", "read_tile"]

LOGGER = logging.getLogger(__name__)



def read_tile(slide: Slide, level: int, scale: float, x: int, y: int, w: int, h: int,
              is_global: bool, tile_px: int, pad_value: int, rotate_deg: float = 0.0,
              is_context: bool = False, view_read_px: int = 448) -> np.ndarray:
    """Pixels of one planned tile as the model sees them.

    Parameters
    ----------
    pad_value : int
        Grey that pads edge tiles and the letterboxed whole-image view (the card's).
    rotate_deg : float
        Clockwise turn (the image's skew) applied before scoring; the tile is then cut from a
        larger region around the same center, so no corner is left empty.
    is_context : bool
        A context crop: its square, of any size, is resized to the tile.
    view_read_px : int
        The whole-image view is letterboxed from a thumbnail this long
        (``tiling.global_view_read_px``).

    Returns
    -------
    tile : (tile_px, tile_px, 3) uint8 ndarray
        A grid tile at plan scale (edge tiles padded, not stretched), a context crop resized,
        or for the whole-image view the thumbnail letterboxed into the square.
    """
    if is_global:
        thumb = slide.thumbnail(view_read_px)
        if rotate_deg:
            thumb = np.asarray(Image.fromarray(thumb).rotate(
                -rotate_deg, Image.BILINEAR, expand=True, fillcolor=(pad_value,) * 3))
        return letterbox(thumb, tile_px, pad_value)
    if rotate_deg:
        side = max(w, h) if is_context else tile_px
        turned = _read_rotated(slide, level, scale, x + w / 2, y + h / 2, side, rotate_deg,
                               pad_value)
        return turned if side == tile_px else resize_square(turned, tile_px)
    rgb = slide.read_scaled(level, scale, x, y, w, h)
    if is_context or w > tile_px or h > tile_px:  # (or a plan made for another tile size)
        return resize_square(rgb, tile_px)
    return pad_to_square(rgb, tile_px, pad_value)


def _read_rotated(slide: Slide, level: int, scale: float, cx: float, cy: float, tile_px: int,
                  rotate_deg: float, pad_value: int) -> np.ndarray:
    """A ``tile_px`` square centred at plan-space ``(cx, cy)`` of the image turned clockwise by
    ``rotate_deg``; what lies outside the image is padded grey."""
    lv = slide.levels[level]
    pw, ph = lv.width / scale, lv.height / scale
    half = tile_px * (abs(np.cos(np.radians(rotate_deg))) + abs(np.sin(np.radians(rotate_deg)))) / 2
    x0, y0 = max(0, int(cx - half)), max(0, int(cy - half))
    x1, y1 = min(int(pw), int(np.ceil(cx + half))), min(int(ph), int(np.ceil(cy + half)))
    canvas = np.full((int(2 * half) + 2, int(2 * half) + 2, 3), pad_value, np.uint8)
    if x1 > x0 and y1 > y0:
        ox, oy = x0 - int(cx - half), y0 - int(cy - half)
        region = slide.read_scaled(level, scale, x0, y0, x1 - x0, y1 - y0)
        canvas[oy:oy + region.shape[0], ox:ox + region.shape[1]] = region
    # PIL turns counter-clockwise for a positive angle.
    turned = Image.fromarray(canvas).rotate(-rotate_deg, Image.BILINEAR, fillcolor=(pad_value,) * 3)
    c = canvas.shape[0] // 2
    return np.asarray(turned)[c - tile_px // 2:c - tile_px // 2 + tile_px,
                              c - tile_px // 2:c - tile_px // 2 + tile_px]


def default_device() -> str:
    """"cuda" when torch sees a GPU, else "cpu". Without the NVIDIA driver there is no CUDA
    device, which is known without importing torch (the onnxruntime scorer never needs it)."""
    if not os.path.exists("/proc/driver/nvidia/version"):
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _load_graph(cfg: RunConfig):
    """The model's ONNX graph in an onnxruntime session, its card and ""; or None, the card
    (None when unread) and why the graph cannot be used."""
    from .errors import ModelError
    from .model.files import read_card, weights_path
    from .model.onnx_backend import load_onnx_net

    try:
        weights = weights_path(cfg.model.name)
        card = read_card(weights.with_suffix(".json"))
    except ModelError as exc:
        return None, None, str(exc)
    net, why = load_onnx_net(weights, card, cfg.scorer.cpu_threads)
    return net, card, why


class TileScorer:
    """Holds the model; scores batches of tiles given by their coordinates.

    Parameters
    ----------
    cfg : RunConfig
        Uses ``cfg.model`` (which weights, rotation TTA, the CPU backend), ``cfg.scorer``
        (FP16, CPU threads), ``cfg.source`` (how to open images) and ``cfg.tiling.tile_px``.
    device : str, optional
        ``"cuda"`` when torch sees a GPU, else ``"cpu"``.

    On a CPU it runs the ONNX graph beside the weights with onnxruntime (``backend`` is then
    "onnxruntime", and torch is never imported); on a GPU, with ``model.cpu_backend: torch``
    or for weights without a graph of their own, torch runs the weights (``backend``
    "torch"). It leaves the process's settings alone (torch's thread count among them): the
    worker that holds it sets those (:mod:`rayrot.engine.scheduler`).
    """

    def __init__(self, cfg: RunConfig, device: str | None = None):
        self.cfg = cfg
        self.device = default_device() if device is None else device
        self.tile_px = cfg.tiling.tile_px
        self.backend, self.fp16 = "torch", False
        why = f"model.cpu_backend is {cfg.model.cpu_backend}"
        if self.device == "cpu" and cfg.model.cpu_backend == "onnxruntime":
            net, self.card, why = _load_graph(cfg)
            if net is not None:
                self.module, self.backend = net, "onnxruntime"
        if self.backend == "torch":
            LOGGER.info("TileScorer: scoring with torch: %s", why)
            self._load_torch()
        LOGGER.info("TileScorer: %s v%s on %s with %s%s", self.card.name, self.card.version,
                    self.device, self.backend, " (fp16)" if self.fp16 else "")

    def _load_torch(self) -> None:
        from .model import load_model

        self.fp16 = self.device.startswith("cuda") and self.cfg.scorer.fp16_on_cuda
        # BatchNorm folded into the convolutions: same outputs, faster (inference only).
        self.module, self.card = load_model(self.cfg.model.name, device=self.device, fuse=True)
        if self.fp16:
            self.module.half()

    def score_pixels(self, tiles: np.ndarray, rotation_tta: bool | None = None) -> np.ndarray:
        """``(B, S, S, 3)`` uint8 tiles -> ``(B, 4)`` float32 probabilities.

        ``rotation_tta``: average over the four turns; None = ``model.rotation_tta``.
        """
        if rotation_tta is None:
            rotation_tta = self.cfg.model.rotation_tta
        if tiles.shape[1] != self.card.input_px:
            tiles = np.stack([resize_square(t, self.card.input_px) for t in tiles])
        if self.backend == "onnxruntime":
            return self.module.predict_proba(tiles, self.card, rotation_tta)
        from .model import predict_proba

        return predict_proba(self.module, self.card, tiles, rotation_tta=rotation_tta,
                             device=self.device, fp16=self.fp16)

    def read_batch(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        """Read the tiles of a batch: ``(B, tile_px, tile_px, 3)`` uint8."""
        out = np.empty((len(batch["x"]), self.tile_px, self.tile_px, 3), np.uint8)
        for i in range(len(out)):
            slide = open_slide(str(batch["path"][i]), self.cfg.source)
            out[i] = read_tile(slide, int(batch["level"][i]), float(batch["scale"][i]),
                               int(batch["x"][i]), int(batch["y"][i]), int(batch["w"][i]),
                               int(batch["h"][i]), bool(batch["is_global"][i]), self.tile_px,
                               self.card.pad_value,
                               float(batch["rotate_deg"][i]) if "rotate_deg" in batch else 0.0,
                               bool(batch["is_context"][i]) if "is_context" in batch else False,
                               self.cfg.tiling.global_view_read_px)
        return out

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Score one batch; returns the batch's columns plus ``probs`` (B, 4) float32.

        An optional ``rotation_tta`` bool column (one value for the whole batch) overrides
        ``model.rotation_tta`` for it.
        """
        if not len(batch["x"]):
            return {**batch, "probs": np.zeros((0, 4), np.float32)}
        tta = bool(batch["rotation_tta"][0]) if "rotation_tta" in batch else None
        probs = self.score_pixels(self.read_batch(batch), rotation_tta=tta)
        return {**batch, "probs": probs}

    @property
    def model_name(self) -> str:
        return self.card.name

    @property
    def model_version(self) -> str:
        return self.card.version
