"""Training checkpoints that a later sitting resumes from: safetensors and JSON, never pickle.

A checkpoint is a folder ``<out>/checkpoint/`` holding

- ``model.safetensors``: the trained network's state dict;
- ``ema.safetensors``: the moving average's state dict (when the run keeps one);
- ``optim.safetensors``: AdamW's per-parameter tensors, keyed ``<param index>.<name>``;
- ``state.json``: the step, samples, wall seconds trained so far, the number of sittings,
  the optimiser's scalar state, and the config the run was started with.

It is written into a temporary folder and swapped in with renames, so a run killed while
saving keeps the previous checkpoint whole.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from safetensors.torch import load_file, save_file

__all__ = ["TrainState", "save_checkpoint", "load_checkpoint", "CHECKPOINT_DIR"]

CHECKPOINT_DIR = "checkpoint"


@dataclass(frozen=True)
class TrainState:
    """Counters of a run, carried across sittings."""

    step: int  # optimiser steps taken
    samples: int  # training samples seen (after rotation views)
    tiles: int  # tiles made by the data stream
    seconds: float  # wall seconds of training (setup excluded), all sittings together
    sittings: int  # how many times the run was started (1 for the first)
    config: dict[str, Any]  # the TrainConfig of the first sitting, as a dict


def _contiguous(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in sd.items()}


def save_checkpoint(out_dir: str | Path, state: TrainState, model: nn.Module,
                    optimizer: torch.optim.Optimizer, ema: nn.Module | None = None) -> Path:
    """Write the checkpoint of ``out_dir`` (replacing the previous one whole)."""
    out_dir = Path(out_dir)
    final = out_dir / CHECKPOINT_DIR
    tmp = out_dir / f"{CHECKPOINT_DIR}.tmp{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file(_contiguous(model.state_dict()), str(tmp / "model.safetensors"))
    if ema is not None:
        save_file(_contiguous(ema.state_dict()), str(tmp / "ema.safetensors"))
    tensors, scalars = {}, {}
    osd = optimizer.state_dict()
    for pid, pstate in osd["state"].items():
        for name, value in pstate.items():
            if torch.is_tensor(value):
                tensors[f"{pid}.{name}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{pid}.{name}"] = value
    if tensors:
        save_file(tensors, str(tmp / "optim.safetensors"))
    meta = {"step": state.step, "samples": state.samples, "tiles": state.tiles,
            "seconds": state.seconds, "sittings": state.sittings, "config": state.config,
            "optim_scalars": scalars, "param_groups": osd["param_groups"]}
    (tmp / "state.json").write_text(json.dumps(meta, indent=1))
    old = out_dir / f"{CHECKPOINT_DIR}.old{os.getpid()}"
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(out_dir: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer,
                    ema: nn.Module | None = None) -> TrainState:
    """Load ``<out_dir>/checkpoint`` into ``model``, ``optimizer`` (and ``ema``); returns the
    counters with ``sittings`` already counting the one that resumes."""
    folder = Path(out_dir) / CHECKPOINT_DIR
    if not (folder / "state.json").exists():
        raise FileNotFoundError(f"no checkpoint to resume in {folder}")
    meta = json.loads((folder / "state.json").read_text())
    model.load_state_dict(load_file(str(folder / "model.safetensors")))
    if ema is not None and (folder / "ema.safetensors").exists():
        ema.load_state_dict(load_file(str(folder / "ema.safetensors")))
    state: dict[int, dict[str, Any]] = {}
    if (folder / "optim.safetensors").exists():
        for key, value in load_file(str(folder / "optim.safetensors")).items():
            pid, name = key.split(".", 1)
            state.setdefault(int(pid), {})[name] = value
    for key, value in meta["optim_scalars"].items():
        pid, name = key.split(".", 1)
        state.setdefault(int(pid), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    return TrainState(step=meta["step"], samples=meta["samples"], tiles=meta["tiles"],
                      seconds=meta["seconds"], sittings=meta["sittings"] + 1,
                      config=meta["config"])
