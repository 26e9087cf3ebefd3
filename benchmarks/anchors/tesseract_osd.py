"""Tesseract orientation and script detection (``--psm 0``) as an orientation anchor.

Convention, checked empirically (tesseract 5.3.0, Debian bookworm): on the upright page
``doc_013_octave_octave_p1101.jpg`` and its turns ``np.rot90(page, k)`` (counter-clockwise by
90k), tesseract printed ``Rotate: 0 / 90 / 180 / 270`` for k = 0 / 1 / 2 / 3 with orientation
confidences 9.2 / 5.1 / 9.4 / 5.0. So ``Rotate`` is already the *clockwise* correction, i.e.
rayrot's ``angle``; ``Orientation in degrees`` is the counter-clockwise equivalent (360 - Rotate).
This also matches the comment in tesseract's ``TessBaseAPI::GetOsdText`` ("clockwise rotation
needed to make the page upright").

Confidence: tesseract's "Orientation confidence" is an unbounded margin between the best and
the second-best orientation (typically 0..30; OCRmyPDF rotates pages only above 14). It is
mapped to 0..1 by ``c / (c + 1)``, so "confidence >= 0.9" means a raw margin >= 9. The raw
value is kept in :attr:`Answer.raw`.

No answer: when tesseract finds too few characters it prints no ``Rotate:`` line (and exits
non-zero); the image then gets ``angle=None``, which the benchmark counts as wrong.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

from . import Answer

__all__ = ["TesseractOSD", "confidence_from_margin"]

_ROTATE = re.compile(r"^Rotate:\s*(\d+)\s*$", re.M)
_CONF = re.compile(r"^Orientation confidence:\s*([-\d.]+)\s*$", re.M)


def confidence_from_margin(margin: float) -> float:
    """Map tesseract's orientation confidence (a margin >= 0) to 0..1: ``m / (m + 1)``."""
    m = max(0.0, float(margin))
    return m / (m + 1.0)


class TesseractOSD:
    """``tesseract IMAGE - --psm 0``, one process an image, single-threaded (OMP_THREAD_LIMIT=1).

    Parameters
    ----------
    threads : int
        Passed as ``OMP_THREAD_LIMIT`` to tesseract.
    timeout_s : float
        Per image; a timeout counts as no answer.
    """

    def __init__(self, threads: int = 1, timeout_s: float = 120.0):
        exe = shutil.which("tesseract")
        if exe is None:
            raise RuntimeError("tesseract not found: apt-get install -y tesseract-ocr tesseract-ocr-osd")
        self.exe = exe
        self.timeout_s = timeout_s
        self.env = dict(os.environ, OMP_THREAD_LIMIT=str(threads))
        langs = subprocess.run([exe, "--list-langs"], capture_output=True, text=True, env=self.env)
        if "osd" not in (langs.stdout + langs.stderr).split():
            raise RuntimeError("tesseract has no 'osd' traineddata: apt-get install -y tesseract-ocr-osd")
        ver = subprocess.run([exe, "--version"], capture_output=True, text=True, env=self.env)
        self.version = (ver.stdout or ver.stderr).splitlines()[0].strip()

    def __call__(self, path: str) -> Answer:
        try:
            out = subprocess.run([self.exe, str(path), "-", "--psm", "0"], capture_output=True,
                                 text=True, env=self.env, timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            return Answer(None, None, "timeout")
        rot, conf = _ROTATE.search(out.stdout), _CONF.search(out.stdout)
        if rot is None:
            why = [ln.strip() for ln in out.stderr.splitlines() if ln.strip()
                   and not ln.startswith(("Estimating resolution", "Warning. Invalid resolution"))]
            return Answer(None, None, "no answer: " + (" / ".join(why) or f"exit {out.returncode}"))
        margin = float(conf.group(1)) if conf else 0.0
        angle = int(rot.group(1)) % 360
        return Answer(angle, confidence_from_margin(margin), f"Rotate: {angle} conf {margin:g}")
