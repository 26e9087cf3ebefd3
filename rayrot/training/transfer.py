"""Keeping what a pretrained network knows while it is trained further: distillation from the
frozen initial network, frozen early layers, and weight-space averaging with the init (WiSE-FT).
"""

from __future__ import annotations

import copy

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["distill_loss", "interpolate_weights", "freeze", "frozen_bn_eval"]


def distill_loss(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """Hinton's soft-target term: ``T^2 * KL(softmax(teacher/T) || softmax(student/T))``, mean
    over the batch (the ``T^2`` keeps its gradient scale independent of ``T``)."""
    t = float(temperature)
    log_p = F.log_softmax(student.float() / t, 1)
    q = F.softmax(teacher.float() / t, 1)
    return (q * (torch.log(q.clamp_min(1e-12)) - log_p)).sum(1).mean() * t * t


@torch.no_grad()
def interpolate_weights(start: nn.Module, trained: nn.Module, alpha: float) -> nn.Module:
    """A copy of ``trained`` whose floating-point weights and BatchNorm statistics are
    ``start + alpha * (trained - start)`` (WiSE-FT); integer buffers come from ``trained``."""
    out = copy.deepcopy(trained).float().cpu().eval()
    s_state = start.state_dict()
    state = {}
    for key, value in out.state_dict().items():
        if value.is_floating_point():
            state[key] = s_state[key].float() + alpha * (value - s_state[key].float())
        else:
            state[key] = value
    out.load_state_dict(state)
    return out


def freeze(model: nn.Module, prefixes: tuple[str, ...]) -> int:
    """Stop training the parameters named with one of ``prefixes``; their BatchNorms keep their
    running statistics (set back to eval mode after each ``model.train()``). Returns the count."""
    if not prefixes:
        return 0
    n = 0
    for name, p in model.named_parameters():
        if name.startswith(prefixes):
            p.requires_grad_(False)
            n += p.numel()
    return n


def frozen_bn_eval(model: nn.Module, prefixes: tuple[str, ...]) -> None:
    for name, m in model.named_modules():
        if prefixes and name.startswith(tuple(p.rstrip(".") for p in prefixes)) and isinstance(
                m, nn.modules.batchnorm._BatchNorm):
            m.eval()
