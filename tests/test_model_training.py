"""rayrot.training: the on-the-fly samples, the config, and the plain training loop."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from rayrot.errors import ConfigError
from rayrot.model import load_model, predict_proba
from rayrot.model.preprocess import rotate_by_class
from rayrot.training.config import load_train_config
from rayrot.training.dataset import (CATEGORIES, SourceSet, TrainStream, ValSet, load_image,
                                     make_view, target_for)

torch.set_num_threads(1)

TINY = Path(__file__).resolve().parent / "data" / "train_tiny"
from conftest import DEV  # noqa: E402


def tiny_cfg(**extra):
    """configs/train.yaml shrunk to seconds on one CPU core, on the six tiny real images."""
    over = {
        "run.model": "orient_cnn_tiny", "run.num_workers": 0, "run.log_every": 1,
        "data.sources_dirs": [str(TINY)], "data.synth": False, "data.val_samples": 16,
        "data.pool_size": 3, "data.max_decode_px": 320, "data.val_fraction": 0.34,
        "optim.steps": 24, "optim.batch_size": 16, "optim.time_budget_s": 0,
        "optim.warmup_steps": 2, "optim.ema_decay": 0.0, "optim.lr": 0.01,
        # whole images, no photometric noise: a task 24 steps can learn
        "aug.p_letterbox": 1.0, "aug.p_color": 0.0, "aug.p_jpeg": 0.0, "aug.p_noise": 0.0,
        "aug.p_blur": 0.0, "aug.p_gamma": 0.0, "aug.p_gray": 0.0, "aug.p_skew": 0.0,
        "aug.p_mirror": 0.0,
        # from scratch, no teacher, nothing frozen, no checkpoints, no render caches
        "run.init_weights": None, "run.checkpoint_every_s": 0, "optim.freeze_prefixes": [],
        "optim.distill_weight": 0.0, "optim.wise_alpha": 1.0, "data.render_cache": {},
    }
    over.update(extra)
    return load_train_config(None, over)


def test_config_rejects_unknown_and_bad_keys():
    with pytest.raises(ConfigError, match="unknown key"):
        load_train_config(None, {"optim.nope": 1})
    with pytest.raises(ConfigError, match="optim.steps"):
        load_train_config(None, {"optim.steps": "many"})
    cfg = load_train_config()
    assert cfg.run.model == "orient_lcnet_x1" and sum(cfg.data.mix.values()) > 0


def test_a_recipe_that_extends_another_changes_only_what_it_names(tmp_path):
    from rayrot.training.config import TRAIN_CONFIG_PATH

    base = load_train_config()
    stage2 = load_train_config(TRAIN_CONFIG_PATH.parent / "train_stage2.yaml")
    assert stage2.run.version != base.run.version and stage2.run.init_weights != base.run.init_weights
    assert stage2.aug == base.aug and stage2.optim.lr == base.optim.lr
    assert set(stage2.data.mix) == set(base.data.mix) and stage2.data.mix != base.data.mix
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    with pytest.raises(ConfigError, match="loops back"):
        load_train_config(tmp_path / "a.yaml")
    (tmp_path / "c.yaml").write_text(f"extends: {TRAIN_CONFIG_PATH}\noptim:\n  nope: 1\n")
    with pytest.raises(ConfigError, match="unknown key"):
        load_train_config(tmp_path / "c.yaml")


def test_views_carry_the_label():
    """A view turned by k is the k=0 view turned by k (same random draws)."""
    cfg = tiny_cfg()
    aug = dataclasses.replace(cfg.aug, p_letterbox=0.3, p_partial=0.0)
    img = load_image(next((TINY / "photos").glob("*.jpg")), 320)
    for seed in range(6):
        v0 = make_view(np.random.default_rng(seed), img, 0, "photos", aug, 224, 128)
        assert v0.shape == (224, 224, 3) and v0.dtype == np.uint8
        for k in (1, 2, 3):
            vk = make_view(np.random.default_rng(seed), img, k, "photos", aug, 224, 128)
            np.testing.assert_array_equal(vk, rotate_by_class(v0, k))


def test_partial_tiles_are_padded_top_left():
    aug = dataclasses.replace(tiny_cfg().aug, p_letterbox=0.0, p_partial=1.0)
    img = load_image(next((TINY / "maps").glob("*.jpg")), 320)
    padded = 0
    for seed in range(10):
        v = make_view(np.random.default_rng(seed), img, seed % 4, "maps", aug, 224, 128)
        grey = (v == 128).all(2)
        assert grey[-1, -1]  # the bottom-right corner is always padding
        padded += grey.mean() > 0.05
    assert padded == 10


def test_targets():
    np.testing.assert_array_equal(target_for("photos", 3), [0, 0, 0, 1])
    np.testing.assert_allclose(target_for("textures", 2), [0.25] * 4)


def test_stream_and_val_set_are_seeded_and_labelled():
    cfg = tiny_cfg()
    sources = SourceSet.scan(cfg.data.sources_dirs, cfg.data.val_fraction)
    assert sum(len(v) for v in sources.train.values()) + sum(len(v) for v in sources.val.values()) == 6
    stream = TrainStream(cfg.data, cfg.aug, sources, seed=1)
    it = iter(stream)
    samples = [next(it) for _ in range(12)]
    for tile, target, cat in samples:
        assert tile.shape == (224, 224, 3) and target.sum() == pytest.approx(1)
        assert CATEGORIES[cat] in ("photos", "maps", "art")
    again = [next(iter(TrainStream(cfg.data, cfg.aug, sources, seed=1))) for _ in range(1)]
    np.testing.assert_array_equal(again[0][0], samples[0][0])
    val = ValSet(cfg.data, cfg.aug, sources)
    if len(val):
        a, b = val[0], val[0]
        np.testing.assert_array_equal(a[0], b[0])


def test_dev_set_is_refused(tmp_path):
    # a folder of that name is refused wherever it is: the check is on the path
    fake = tmp_path / "shared" / "data" / "dev"
    (fake / "photos").mkdir(parents=True)
    with pytest.raises(ValueError, match="dev set"):
        SourceSet.scan(DEV if DEV.exists() else fake, 0.1)


def test_train_loop_loss_falls_and_output_loads(tmp_path):
    from rayrot.training.loop import train

    metrics = train(tiny_cfg(), "cpu", tmp_path)
    curve = metrics["loss_curve"]
    assert metrics["steps"] == 24
    assert np.mean(curve[-5:]) < np.mean(curve[:5]) - 0.1, curve
    model, card = load_model(Path(metrics["weights"]))
    assert card.arch == "orient_cnn_tiny" and card.sha256 == metrics["sha256"]
    assert card.recipe["config"]["optim"]["steps"] == 24 and card.data_sources
    assert (tmp_path / "train.log").read_text().count("step") >= 5
    img = load_image(next((TINY / "photos").glob("*.jpg")), 320)
    from rayrot.model.preprocess import letterbox

    p = predict_proba(model, card, letterbox(img, 224, card.pad_value)[None], rotation_tta=True)
    assert p.shape == (1, 4) and np.isfinite(p).all()


def test_rotation_views_match_numpy_turns():
    """A device-side turn of a normalised batch equals normalising the np.rot90-turned tiles,
    and the targets roll with it."""
    from rayrot.training.loop import normalize_batch, rotation_views

    img = load_image(next((TINY / "maps").glob("*.jpg")), 320)
    tiles = np.stack([make_view(np.random.default_rng(s), img, s % 4, "maps", tiny_cfg().aug, 64, 128)
                      for s in range(3)])
    targets = torch.tensor(np.stack([target_for("maps", s % 4) for s in range(3)]))
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    x, y = rotation_views(normalize_batch(torch.from_numpy(tiles), mean, std), targets, 4)
    assert x.shape == (12, 3, 64, 64) and y.shape == (12, 4)
    for r in range(4):
        turned = np.stack([rotate_by_class(t, r) for t in tiles])
        torch.testing.assert_close(x[3 * r:3 * r + 3], normalize_batch(torch.from_numpy(turned), mean, std))
        labels = [(s % 4 + r) % 4 for s in range(3)]
        assert y[3 * r:3 * r + 3].argmax(1).tolist() == labels
