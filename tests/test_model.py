"""rayrot.model: registry, shapes, rotation-consistent TTA, safe weights I/O."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import dev_images
from rayrot.errors import ModelError
from rayrot.model import (ModelCard, create_model, default_card, list_models, load_model,
                          predict_proba, save_model)
from rayrot.model.preprocess import ANGLES, letterbox, rotate_by_class

torch.set_num_threads(1)



def _real_tiles(n: int = 2) -> np.ndarray:
    """A few real images (a photo and a page), letterboxed to 224."""
    from PIL import Image

    files = dev_images("photos")[:1] + dev_images("documents")[:1]
    return np.stack([letterbox(np.asarray(Image.open(f).convert("RGB")), 224, 128) for f in files[:n]])


@pytest.fixture(scope="module")
def small():
    torch.manual_seed(0)
    m = create_model("orient_cnn_small").eval()
    # Give BatchNorm non-trivial statistics so fused and unfused paths can differ if wrong.
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.1, 0.1)
                mod.running_var.uniform_(0.5, 1.5)
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.2, 0.2)
    return m


def test_registry_lists_and_creates():
    names = list_models()
    assert "orient_cnn_small" in names and list_models("orient_cnn_s*") == ["orient_cnn_small"]
    with pytest.raises(ModelError, match="unknown model"):
        create_model("nope")


def test_small_model_budget_and_shapes(small):
    n = sum(p.numel() for p in small.parameters())
    assert n <= 5_000_000
    x = torch.randn(2, 3, 224, 224)
    feats = small.forward_features(x)
    assert feats.shape[-2:] == (7, 7)
    assert small.forward_head(feats).shape == (2, 4)
    # global pooling: other input sizes work
    assert small(torch.randn(1, 3, 160, 288)).shape == (1, 4)


def test_fp16_forward_is_finite(small):
    m = create_model("orient_cnn_small").eval().half()
    with torch.inference_mode():
        out = m(torch.randn(2, 3, 224, 224).half() * 3)
    assert torch.isfinite(out).all()


def test_predict_proba_rotation_tta_is_exactly_consistent(small):
    card = default_card("orient_cnn_small")
    tiles = _real_tiles()
    p = predict_proba(small, card, tiles, rotation_tta=True)
    assert p.shape == (2, 4) and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-5)
    for r in (1, 2, 3):
        turned = np.stack([rotate_by_class(t, r) for t in tiles])
        q = predict_proba(small, card, turned, rotation_tta=True)
        for k in range(4):
            # turning the input by r more shifts its label by r
            np.testing.assert_allclose(q[:, (k + r) % 4], p[:, k], atol=1e-6)
    # without TTA the model alone is not rotation consistent (random weights)
    p1 = predict_proba(small, card, tiles, rotation_tta=False)
    q1 = predict_proba(small, card, np.stack([rotate_by_class(t, 1) for t in tiles]), rotation_tta=False)
    assert not np.allclose(q1[:, [1, 2, 3, 0]], p1, atol=1e-4)


def test_predict_proba_applies_temperature(small):
    tiles = _real_tiles()
    c1 = default_card("orient_cnn_small")
    p1 = predict_proba(small, c1, tiles, rotation_tta=False)
    p3 = predict_proba(small, c1.replace(temperature=3.0), tiles, rotation_tta=False)
    logits = np.log(p1)
    expect = np.exp(logits / 3.0)
    expect /= expect.sum(1, keepdims=True)
    np.testing.assert_allclose(p3, expect, atol=1e-5)


def test_predict_proba_rejects_bad_batch(small):
    with pytest.raises(ValueError, match="uint8"):
        predict_proba(small, default_card("orient_cnn_small"), np.zeros((1, 224, 224, 3), np.float32))


def test_save_load_roundtrip_and_fuse(small, tmp_path):
    card = default_card("orient_cnn_small").replace(version="9.9.9", temperature=1.7,
                                                   data_sources=("test",))
    path = tmp_path / "m.safetensors"
    saved = save_model(small, card, path)
    assert path.exists() and path.with_suffix(".json").exists()
    assert not list(tmp_path.glob("*.tmp"))
    assert len(saved.sha256) == 64 and saved.n_params > 0
    loaded, card2 = load_model(path)
    assert card2 == saved and card2.temperature == 1.7
    tiles = _real_tiles()
    a = predict_proba(small, card, tiles, rotation_tta=False)
    b = predict_proba(loaded, card2, tiles, rotation_tta=False)
    np.testing.assert_allclose(a, b, atol=1e-6)
    fused, _ = load_model(path, fuse=True)
    c = predict_proba(fused, card2, tiles, rotation_tta=False)
    np.testing.assert_allclose(a, c, atol=1e-4)
    # the file really is safetensors (no pickle): header is JSON after an 8-byte length
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    assert "stem.conv.weight" in json.loads(raw[8:8 + n])


def test_load_errors_name_the_path(small, tmp_path):
    with pytest.raises(ModelError, match="not found"):
        load_model(tmp_path / "missing.safetensors")
    with pytest.raises(ModelError, match="neither a registered name"):
        load_model(tmp_path / "weights.pt")
    card = default_card("orient_cnn_small")
    path = tmp_path / "m.safetensors"
    save_model(small, card, path)
    # tampered weights: sha256 mismatch
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=str(path)):
        load_model(path)
    # malformed weights file, card without sha
    path.write_bytes(b"not a safetensors file")
    cj = json.loads(path.with_suffix(".json").read_text())
    cj["sha256"] = ""
    path.with_suffix(".json").write_text(json.dumps(cj))
    with pytest.raises(ModelError, match="cannot be read"):
        load_model(path)
    # weights of another architecture
    save_model(create_model("orient_cnn_tiny"), card.replace(arch="orient_cnn_tiny"), path)
    cj = json.loads(path.with_suffix(".json").read_text())
    cj["arch"] = "orient_cnn_small"
    cj["sha256"] = ""
    path.with_suffix(".json").write_text(json.dumps(cj))
    with pytest.raises(ModelError, match="do not fit architecture"):
        load_model(path)
    # broken card
    path.with_suffix(".json").write_text("{")
    with pytest.raises(ModelError, match="model card"):
        load_model(path)


def test_card_json_roundtrip():
    card = default_card("orient_cnn_small").replace(metrics={"a": 1}, recipe={"lr": 0.1})
    again = ModelCard.from_dict(json.loads(card.to_json()))
    assert again == card and again.classes == ANGLES
    with pytest.raises(ModelError, match="unknown key"):
        ModelCard.from_dict({**json.loads(card.to_json()), "extra": 1})


def test_shipped_weights_load_and_are_rotation_aware():
    """The shipped model gets a real upright photo and document right under all four turns."""
    model, card = load_model("orient_lcnet_x1")
    assert card.sha256 and card.temperature > 0 and card.data_sources
    tiles = _real_tiles()
    for k in range(4):
        turned = np.stack([rotate_by_class(t, k) for t in tiles])
        p = predict_proba(model, card, turned, rotation_tta=True)
        assert (p.argmax(1) == k).all(), (k, p)


def test_normalisation_is_to_model_input_bit_for_bit():
    from rayrot.model import _normalize
    from rayrot.model.preprocess import to_model_input

    x = np.random.default_rng(0).integers(0, 256, (3, 17, 23, 3), dtype=np.uint8)
    card = default_card("orient_cnn_small")
    want = to_model_input(x, card.mean, card.std)
    got = _normalize(torch.from_numpy(x), card.mean, card.std).numpy()
    assert got.shape == want.shape and np.array_equal(got, want)


def test_tiles_are_padded_with_the_cards_grey(tmp_path):
    """The pipeline pads the whole-image view with the grey the weights were trained with."""
    from PIL import Image

    from rayrot.config import load_config
    from rayrot.engine.job import prepare_image, tile_batches
    from rayrot.scorer import TileScorer

    page = Image.open(dev_images("documents")[0]).convert("RGB")
    path = tmp_path / "wide.png"
    page.resize((page.width * 2, page.height // 2)).save(path)  # letterboxed: bands above and below
    cfg = load_config()
    scorer = TileScorer(cfg, device="cpu")
    assert scorer.card.pad_value == 128  # the shipped card says so
    scorer.card = scorer.card.replace(pad_value=7)
    [batch] = tile_batches(str(path), prepare_image(str(path), cfg).plan, 10 ** 6, 10 ** 6)
    whole = scorer.read_batch(batch)[batch["is_global"]][0]
    assert (whole[0] == 7).all() and (whole[-1] == 7).all() and (whole[112] != 7).any()


def test_shipped_onnx_graph_gives_the_weights_probabilities():
    """The graph shipped beside the weights (what the CPU scorer runs with onnxruntime) is those
    weights: the same probabilities on real images, to float rounding, TTA included."""
    from rayrot.model import load_onnx_net, weights_path

    model, card = load_model("orient_lcnet_x1", fuse=True)
    net, why = load_onnx_net(weights_path("orient_lcnet_x1"), card, threads=1)
    assert net is not None, why
    tiles = _real_tiles()
    for tta in (False, True):
        want = predict_proba(model, card, tiles, rotation_tta=tta)
        got = net.predict_proba(tiles, card, rotation_tta=tta)
        assert got.dtype == np.float32 and np.abs(got - want).max() < 1e-4
        assert (got.argmax(1) == want.argmax(1)).all()


def test_the_onnxruntime_scorer_never_imports_torch():
    """A scoring actor on a CPU runs the graph without torch (0.2 GB and a second less each),
    and gets the shipped model's answers on real images."""
    import subprocess
    import sys

    from conftest import shipped_images

    doc = shipped_images("documents")[0]
    script = f"""
import sys
import numpy as np
from rayrot.config import load_config
from rayrot.engine.local import analyze_image
from rayrot.scorer import TileScorer
cfg = load_config(overrides=["skew.enabled=false"])
scorer = TileScorer(cfg, device="cpu")
res = analyze_image({str(doc)!r}, cfg, scorer)
print(scorer.backend, res.angle, "torch" in sys.modules)
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["onnxruntime", "0", "False"]


def test_a_graph_of_other_weights_is_never_run(small, tmp_path):
    """save_model writes the graph beside the weights; weights saved again without it leave a
    stale graph, which the scorer refuses (it scores with torch), as it does when told to."""
    pytest.importorskip("onnx")
    from rayrot.config import load_config
    from rayrot.model import load_onnx_net
    from rayrot.scorer import TileScorer

    card = default_card("orient_cnn_small")
    path = tmp_path / "m.safetensors"
    saved = save_model(small, card, path)
    assert path.with_suffix(".onnx").exists() and not list(tmp_path.glob(".*.tmp"))
    cfg = load_config(overrides=[f"model.name={path}"])
    scorer = TileScorer(cfg, device="cpu")
    assert scorer.backend == "onnxruntime"
    torch_cfg = load_config(overrides=[f"model.name={path}", "model.cpu_backend=torch"])
    assert TileScorer(torch_cfg, device="cpu").backend == "torch"
    tiles = _real_tiles()
    np.testing.assert_allclose(scorer.score_pixels(tiles),
                               TileScorer(torch_cfg, device="cpu").score_pixels(tiles), atol=1e-4)

    other = create_model("orient_cnn_small").eval()
    resaved = save_model(other, card, path, onnx=False)
    assert resaved.sha256 != saved.sha256
    net, why = load_onnx_net(path, resaved, threads=1)
    assert net is None and "other weights" in why
    assert TileScorer(cfg, device="cpu").backend == "torch"
