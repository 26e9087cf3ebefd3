"""Inference: uint8 tiles -> calibrated class probabilities, with optional rotation TTA."""

from __future__ import annotations


import numpy as np
import torch
import torch.nn as nn

from .preprocess import ANGLES, tile_batch
from .card import ModelCard

__all__ = ["logits_to_proba", "predict_proba"]




def logits_to_proba(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """``softmax(logits / temperature)`` in float32."""
    return torch.softmax(logits.float() / float(temperature), dim=-1)


@torch.inference_mode()
def predict_proba(module: nn.Module, card: ModelCard, batch_uint8: np.ndarray,
                  rotation_tta: bool = True, device: str | torch.device = "cpu",
                  fp16: bool = False) -> np.ndarray:
    """Class probabilities for a batch of tiles.

    Parameters
    ----------
    module : nn.Module
        In eval mode, on ``device``.
    card : ModelCard
        Gives mean, std and temperature.
    batch_uint8 : (B, H, W, 3) uint8 ndarray
        RGB tiles, usually 224x224 (``card.input_px``).
    rotation_tta : bool
        Also score the tiles turned counter-clockwise by 90, 180 and 270 degrees and average
        the aligned probabilities, which makes the result exactly consistent under rotation:
        ``predict_proba(rot90(x, 1))[:, (k + 1) % 4] == predict_proba(x)[:, k]``.
    device : str or torch.device
    fp16 : bool
        Run the network in float16 (CUDA only; ignored on the CPU).

    Returns
    -------
    proba : (B, 4) float32 ndarray
        Probability of each class of :data:`rayrot.preprocess.ANGLES` (clockwise degrees
        that make the tile upright); rows sum to 1.
    """
    batch_uint8 = tile_batch(batch_uint8)
    device = torch.device(device)
    n = len(batch_uint8)
    if n == 0:
        return np.zeros((0, len(ANGLES)), np.float32)
    x = _normalize(torch.from_numpy(np.ascontiguousarray(batch_uint8)).to(device), card.mean, card.std)
    param_dtype = next(module.parameters()).dtype
    autocast = device.type == "cuda" and fp16 and param_dtype == torch.float32

    def run(view: torch.Tensor) -> torch.Tensor:
        view = view.contiguous(memory_format=torch.channels_last)
        if autocast:
            with torch.autocast("cuda", dtype=torch.float16):
                return logits_to_proba(module(view), card.temperature)
        return logits_to_proba(module(view.to(param_dtype)), card.temperature)

    if not rotation_tta:
        return run(x).cpu().numpy().astype(np.float32)
    # x turned counter-clockwise by r (as np.rot90) has label k + r: p_aligned[k] = q_r[(k + r) % 4].
    # One pass per turn: a 4x larger batch runs no faster per tile on a CPU and holds four
    # times the activations.
    q = sum(torch.roll(run(torch.rot90(x, r, dims=(2, 3))), shifts=-r, dims=1) for r in range(4)) / 4
    return q.cpu().numpy().astype(np.float32)


def _normalize(batch: torch.Tensor, mean, std) -> torch.Tensor:
    """``(B, H, W, 3)`` uint8 -> ``(B, 3, H, W)`` float32: the arithmetic of
    :func:`rayrot.preprocess.to_model_input` (bit for bit), done by torch on the batch's device."""
    x = batch.permute(0, 3, 1, 2).to(torch.float32) / 255.0
    m = torch.tensor(mean, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
    return (x - m) / s
