"""jobs/: Ray Train training, fine-tuning and ONNX export, each for a few steps on tiny data."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import dev_images
from rayrot.model import load_model, predict_proba
from rayrot.model.preprocess import letterbox, rotate_by_class

torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "data" / "train_tiny"


def _job(name: str):
    spec = importlib.util.spec_from_file_location(f"_job_{name}", REPO / "jobs" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _tiny_images() -> list[Path]:
    return sorted(TINY.glob("*/*.jpg"))


@pytest.fixture(scope="module")
def base_model(tmp_path_factory) -> Path:
    """A tiny model trained for a few steps (fine-tuning starts from trained weights)."""
    from test_model_training import tiny_cfg

    from rayrot.training.loop import train

    out = tmp_path_factory.mktemp("base")
    return Path(train(tiny_cfg(), "cpu", out)["weights"])


def _finetune_set(**extra) -> list[str]:
    over = {"max_epochs": 3, "freeze_epochs": 1, "views_per_image": 8, "batch_size": 16,
            "num_workers": 0, "max_decode_px": 320, "patience": 5, "val_fraction": 0.3,
            "lr_head": 0.003, "lr_all": 0.003, "p_whole": 1.0, "photometric_aug": False}
    over.update(extra)
    return [f"{k}={v}" for k, v in over.items()]


def test_finetune_on_rotated_subfolders(tmp_path, base_model):
    """0/ 90/ 180/ 270/ sub-folders: images already turned by that much."""
    data = tmp_path / "data"
    for k, angle in enumerate((0, 90, 180, 270)):
        (data / str(angle)).mkdir(parents=True)
        for p in _tiny_images():
            up = np.asarray(Image.open(p).convert("RGB"))
            Image.fromarray(rotate_by_class(up, k)).save(data / str(angle) / p.name, quality=90)
    from rayrot.training.finetune import collect_items

    items, layout = collect_items(data)
    assert layout == "folders" and len(items) == 24
    assert {lab for p, lab in items if "/90/" in p} == {1}  # in 90/: needs 90 deg clockwise
    out = tmp_path / "out"
    args = ["--data", str(data), "--base", str(base_model), "--out", str(out), "--device", "cpu"]
    for s in _finetune_set(views_per_image=2):
        args += ["--set", s]
    assert _job("finetune").main(args) == 0
    weights = out / "orient_cnn_tiny-ft.safetensors"
    model, card = load_model(weights)  # what `rayrot/run.py --model PATH` does
    assert card.name.endswith("-ft") and "fine-tuned" in card.data_sources[-1]
    assert card.recipe["finetune"]["max_epochs"] == 3 and card.metrics["finetune_validation"]["val_files"] >= 1
    tiles = np.stack([letterbox(np.asarray(Image.open(p).convert("RGB")), 224, card.pad_value) for p in _tiny_images()])
    assert predict_proba(model, card, tiles, rotation_tta=True).shape == (6, 4)


def test_finetune_loss_falls_upright_folder(tmp_path, base_model):
    from rayrot.training.finetune import collect_items, finetune, load_finetune_config

    items, layout = collect_items(TINY)
    assert layout == "upright" and all(lab == 0 for _, lab in items)
    import yaml

    cfg = load_finetune_config(None, {k: yaml.safe_load(v) for k, v in
                                      (s.split("=") for s in _finetune_set())})
    m = finetune(items, str(base_model), tmp_path / "out", cfg, "cpu")
    assert m["train_loss"][-1] < m["train_loss"][0] - 0.1, m["train_loss"]
    assert min(m["val_loss"]) < m["val_loss_before"], m
    model, card = load_model(m["weights"])
    assert card.metrics["finetune_validation"]["val_loss_before"] == m["val_loss_before"]
    # a couple of validation files cannot calibrate: the base's temperature is kept
    _, base_card = load_model(base_model)
    assert m["val_files"] < cfg.min_val_files_for_temperature
    assert card.temperature == base_card.temperature


def test_finetune_csv_layout(tmp_path):
    from rayrot.errors import ConfigError
    from rayrot.training.finetune import collect_items

    imgs = _tiny_images()
    rows = [["path", "label"]] + [[str(p.relative_to(TINY)), [0, 90, 180, 270][i % 4]]
                                  for i, p in enumerate(imgs)]
    path = tmp_path / "labels.csv"
    # paths are relative to the CSV's folder, or absolute
    rows_abs = [rows[0]] + [[str(TINY / r[0]), r[1]] for r in rows[1:]]
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows(rows_abs)
    items, layout = collect_items(csv_path=path)
    assert layout == "csv" and [lab for _, lab in items] == [i % 4 for i in range(len(imgs))]
    with open(path, "a") as fh:
        fh.write(f"{imgs[0]},45\n")
    with pytest.raises(ConfigError, match="not 0/90/180/270"):
        collect_items(csv_path=path)


def test_export_onnx_agrees_with_torch(tmp_path, base_model):
    ort = pytest.importorskip("onnxruntime")
    from rayrot.model import WEIGHTS_DIR

    spec = "orient_lcnet_x1" if (WEIGHTS_DIR / "orient_lcnet_x1.safetensors").exists() else str(base_model)
    out = tmp_path / "m.onnx"
    _job("export_onnx").main(["--model", spec, "--out", str(out)])
    model, card = load_model(spec)
    files = [p for c in ("photos", "documents", "maps") for p in dev_images(c)[:2]]
    tiles = np.stack([letterbox(np.asarray(Image.open(f).convert("RGB")), 224, card.pad_value) for f in files])
    from rayrot.model.preprocess import to_model_input

    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = sess.run(["proba"], {"input": to_model_input(tiles, card.mean, card.std)})[0]
    want = predict_proba(model, card, tiles, rotation_tta=False)
    assert got.shape == (len(files), 4)
    assert np.abs(got - want).max() < 1e-4
    # dynamic batch axis
    one = sess.run(["proba"], {"input": to_model_input(tiles[:1], card.mean, card.std)})[0]
    np.testing.assert_allclose(one, want[:1], atol=1e-4)
    assert out.with_suffix(".json").exists()


def test_train_job_with_ray_train(tmp_path, ray_session):
    from test_model_training import tiny_cfg

    job = _job("train")
    cfg = tiny_cfg(**{"ray.num_workers": 1, "ray.cpus_per_worker": 1, "optim.steps": 12,
                      "optim.rotation_views": 1})
    metrics = job.run(cfg, tmp_path / "out")
    assert metrics["steps"] == 12
    curve = metrics["loss_curve"]
    assert np.mean(curve[-3:]) < np.mean(curve[:3]), curve
    model, card = load_model(tmp_path / "out" / "orient_cnn_tiny.safetensors")
    assert card.recipe["steps"] == 12
