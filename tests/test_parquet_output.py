"""The Parquet outputs: images.parquet and tiles.parquet, their schemas, and atomic writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from rayrot import output as writers
from rayrot.errors import WriteError

from rayrot.model.preprocess import ANGLES
from rayrot.result import DetectionResult

from test_writers import _files, _result


# ----------------------------------------------------------------------------- Parquet


def _tile_columns(n: int, path="a.png", **extra):
    rng = np.random.default_rng(n)
    probs = rng.dirichlet(np.ones(4), n).astype(np.float32)
    cols = {
        "path": path, "level": 0,
        "x": np.arange(n) * 224, "y": np.zeros(n, np.int64), "w": np.full(n, 224),
        "h": np.full(n, 224), "x0": np.arange(n) * 448, "y0": np.zeros(n, np.int64),
        "w0": np.full(n, 448), "h0": np.full(n, 448), "is_global": np.arange(n) == 0,
        "center_weight": np.linspace(1, 0.2, n), "probs": probs,
        "predicted": np.array(ANGLES)[probs.argmax(1)], "confidence": probs.max(1),
        "abstained": probs.max(1) < 0.4,
    }
    cols.update(extra)
    return cols


def test_images_parquet_round_trip(tmp_path):
    ok = _result("a.png", angle=90, skew=-2.5, skew_confidence=0.8, tiles_scored=12,
                 tiles_skipped=3, tiles_abstained=1, width=800, height=600, level=1, scale=2.0)
    undetermined = _result("b.png", angle=None, confidence=0.4)
    failed = DetectionResult(path="c.svs", error="c.svs: not a slide OpenSlide can read")
    path = writers.write_images_parquet([ok, undetermined, failed], tmp_path / "images.parquet")
    table = pq.read_table(path)
    assert table.schema.equals(writers.IMAGES_SCHEMA, check_metadata=True)
    rows = table.to_pylist()
    assert [r["angle"] for r in rows] == [90, None, None]
    assert rows[0]["skew_deg"] == -2.5 and rows[0]["width"] == 800 and rows[0]["scale"] == 2.0
    assert rows[0]["prob_0"] == pytest.approx(0.9) and rows[0]["prob_270"] == pytest.approx(0.02)
    assert rows[0]["seconds_score"] == pytest.approx(0.1) and rows[0]["seconds_vote"] is None
    assert rows[2]["error"].startswith("c.svs") and rows[0]["error"] is None
    assert writers.IMAGES_SCHEMA.field("skew_deg").metadata[b"unit"] == b"deg"
    assert _files(tmp_path) == ["images.parquet"]


def test_tiles_table_columns_and_nulls(tmp_path):
    skew = np.array([1.5, np.nan, -0.25, np.nan])
    a = writers.tiles_table(_tile_columns(4, skew_deg=skew, skew_confidence=np.where(
        np.isnan(skew), np.nan, 0.7)))
    b = writers.tiles_table(_tile_columns(3, path=Path("b.tif"), level=2))  # no skew columns
    assert a.schema.equals(writers.TILES_SCHEMA)
    assert a.column("skew_deg").to_pylist() == [1.5, None, -0.25, None]
    assert b.column("skew_confidence").null_count == 3
    assert b.column("path").to_pylist() == ["b.tif"] * 3
    assert b.column("level").to_pylist() == [2] * 3
    probs = np.stack([a.column(f"p_{k}").to_numpy() for k in ANGLES], 1)
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-6)
    path = writers.write_tiles_parquet([a, None, b], tmp_path / "tiles.parquet")
    back = pq.read_table(path)
    assert back.num_rows == 7 and back.schema.equals(writers.TILES_SCHEMA, check_metadata=True)
    assert back.schema.field("x0").metadata[b"unit"] == b"px"
    empty = pq.read_table(writers.write_tiles_parquet([], tmp_path / "empty.parquet"))
    assert empty.num_rows == 0 and empty.schema.names == writers.TILES_SCHEMA.names


def test_skew_tiles_share_the_table_with_scored_tiles(tmp_path):
    """Tiles the skew estimator measured are rows of kind 'skew': their own skew columns set,
    the model's columns null; both kinds go into one tiles.parquet."""
    scored = writers.tiles_table(_tile_columns(3))
    geometry = {k: v for k, v in _tile_columns(2).items()
                if k in ("path", "level", "x", "y", "w", "h", "x0", "y0", "w0", "h0", "is_global")}
    skew = writers.tiles_table({**geometry, "skew_deg": np.array([-3.02, np.nan]),
                                "skew_confidence": np.array([0.9, np.nan])}, kind="skew")
    back = pq.read_table(writers.write_tiles_parquet([scored, skew], tmp_path / "tiles.parquet"))
    assert back.column("kind").to_pylist() == ["orientation"] * 3 + ["skew"] * 2
    rows = back.to_pylist()[3:]
    assert rows[0]["skew_deg"] == pytest.approx(-3.02) and rows[1]["skew_deg"] is None
    assert all(r["p_0"] is None and r["predicted"] is None and r["abstained"] is None for r in rows)
    with pytest.raises(ValueError, match="missing column.*skew_deg"):
        writers.tiles_table(geometry, kind="skew")
    with pytest.raises(ValueError, match="kind"):
        writers.tiles_table(back.to_pylist(), kind="orientation")


def test_tiles_table_from_rows_matches_columns():
    cols = _tile_columns(3)
    table = writers.tiles_table(cols)
    rows = table.to_pylist()
    assert writers.tiles_table(rows).equals(table)
    assert writers.tiles_table([]).num_rows == 0
    # an image with no tile scored (the pipeline passes just an empty path column)
    empty = writers.tiles_table({"path": np.array([], dtype=object)})
    assert empty.num_rows == 0 and empty.schema.equals(writers.TILES_SCHEMA)


@pytest.mark.parametrize("change, message", [
    ({"colour": [1, 2, 3]}, "unknown column"),
    ({"x0": None}, "missing column"),
    ({"predicted": np.array([0, 1, 2])}, "clockwise degrees"),
    ({"y": np.zeros(5)}, "different lengths"),
])
def test_tiles_table_rejects_bad_columns(change, message):
    cols = _tile_columns(3)
    cols.update(change)
    cols = {k: v for k, v in cols.items() if v is not None}
    with pytest.raises(ValueError, match=message):
        writers.tiles_table(cols)


def test_parquet_into_unusable_folder_raises_write_error(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(WriteError, match=str(blocker)):
        writers.write_images_parquet([_result("a.png")], blocker / "out" / "images.parquet")
    with pytest.raises(WriteError, match="a_file"):
        writers.check_output_dir(blocker)
    assert writers.check_output_dir(tmp_path / "new" / "dir").is_dir()
    assert _files(tmp_path) == ["a_file", "new"]


def test_parquet_failing_midway_leaves_old_file_and_no_partial(tmp_path, monkeypatch):
    target = tmp_path / "images.parquet"
    writers.write_images_parquet([_result("old.png")], target)
    before = target.read_bytes()

    def half_then_fail(table, where, **kw):
        Path(where).write_bytes(b"PAR1 half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pq, "write_table", half_then_fail)
    with pytest.raises(WriteError, match="No space left"):
        writers.write_images_parquet([_result("new.png")], target)
    assert _files(tmp_path) == ["images.parquet"] and target.read_bytes() == before
