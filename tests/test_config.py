import pytest

from rayrot.config import load_config
from rayrot.errors import ConfigError


def test_defaults_load_and_presets_overlay():
    base = load_config()
    assert base.tiling.tile_px == 224
    slides = load_config("slides")
    assert slides.tiling.max_tiles == 64 and slides.skew.enabled is False
    # Keys a preset does not name keep their defaults.
    assert slides.scorer == base.scorer


def test_set_overrides_parse_yaml_values():
    cfg = load_config(overrides=["tiling.max_tiles=7", "output.formats=[parquet, image]",
                                 "ray.address=null"])
    assert cfg.tiling.max_tiles == 7
    assert cfg.output.formats == ("parquet", "image")
    assert cfg.ray.address is None


@pytest.mark.parametrize("override, words", [
    ("tiling.bogus=1", "unknown key 'tiling.bogus'"),
    ("tiling.overlap_px=224", "overlap_px"),
    ("tiling.max_tiles=abc", "must be an integer"),
    ("vote.confidence_floor=1.5", "confidence_floor"),
    ("output.formats=[gif]", "unknown format"),
    ("skew.refine_factor=1", "skew.refine_factor"),
    ("output.zarr_block_levels=5", "zarr_block_levels"),
    ("output.zarr_codec=gzip", "zarr_codec"),
    ("scorer.num_gpus_per_actor=0", "num_gpus_per_actor"),
    ("tiling", "section.key=value"),
])
def test_bad_values_name_the_key(override, words):
    with pytest.raises(ConfigError, match=words.replace("[", r"\[")):
        load_config(overrides=[override])


def test_bad_file_is_named(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("tiling:\n  tile_px: [1, 2\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_config(bad)
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("tilling:\n  tile_px: 3\n")
    with pytest.raises(ConfigError, match="unknown.yaml: unknown key 'tilling'"):
        load_config(unknown)


def test_replace_keeps_validation():
    cfg = load_config()
    assert cfg.replace(vote={"min_tiles": 3}).vote.min_tiles == 3
    with pytest.raises(ConfigError):
        cfg.replace(vote={"min_tiles": "x"})
