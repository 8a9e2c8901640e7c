from dataclasses import dataclass, field

import pytest

import configs
from synth.config import SynthConfig, load as load_synth


@dataclass(frozen=True)
class Inner:
    size: int = 3
    ratio: float = 0.5


@dataclass(frozen=True)
class Outer:
    name: str = "x"
    inner: Inner = Inner()
    pair: tuple[int, int] = (1, 2)
    weights: dict[str, float] = field(default_factory=dict)


def write(tmp_path, text):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return p


def test_load_fills_defaults_and_converts(tmp_path):
    cfg = configs.load(write(tmp_path, "inner: {ratio: 2}\npair: [3, 4]\nweights: {a: 1}\n"), Outer)
    assert cfg == Outer(inner=Inner(size=3, ratio=2.0), pair=(3, 4), weights={"a": 1.0})
    assert isinstance(cfg.inner.ratio, float)


@pytest.mark.parametrize("text, message", [
    ("inner: {sise: 4}\n", "unknown key 'inner.sise' (did you mean 'inner.size'?)"),
    ("nmae: y\n", "unknown key 'nmae' (did you mean 'name'?)"),
    ("inner: {size: four}\n", "key 'inner.size' must be an integer"),
    ("inner: {size: true}\n", "key 'inner.size' must be an integer"),
    ("pair: [1, 2, 3]\n", "key 'pair' must have 2 items"),
    ("name: [1]\n", "key 'name' must be a string"),
    ("inner: 5\n", "inner. must be a mapping"),
    ("a: [\n", "not valid YAML"),
])
def test_bad_config_fails_with_one_line_naming_file_and_key(tmp_path, text, message):
    p = write(tmp_path, text)
    with pytest.raises(configs.ConfigError) as err:
        configs.load(p, Outer)
    msg = str(err.value)
    assert "\n" not in msg and str(p) in msg and message in msg


def test_missing_file(tmp_path):
    with pytest.raises(configs.ConfigError, match="config file not found"):
        configs.load(tmp_path / "nope.yaml", Outer)


def test_shipped_synth_config_matches_dataclass_defaults():
    assert load_synth() == SynthConfig()


def test_synth_config_validates_values(tmp_path):
    with pytest.raises(configs.ConfigError, match="skew_deg must be within"):
        load_synth(write(tmp_path, "page: {skew_deg: 90}\n"))


def test_charset_file():
    cs = configs.read_charset()
    assert cs[0] == " " and "#" in cs and "€" in cs and "“" in cs and len(set(cs)) == len(cs)
    assert all(c in cs for c in "AZaz09$%&()")


def test_charset_rejects_duplicates_and_multichar_lines(tmp_path):
    p = tmp_path / "cs.txt"
    p.write_text("a\nb\na\n")
    with pytest.raises(configs.ConfigError, match="listed twice"):
        configs.read_charset(p)
    p.write_text("ab\n")
    with pytest.raises(configs.ConfigError, match="one character"):
        configs.read_charset(p)


def test_every_training_config_in_the_repo_loads():
    # a key a refactor dropped or renamed would make a preset fail at `ocr-train` time, long after the
    # change (the recipes, shipped*.yaml, are checked step by step in tests/test_training.py)
    from detection.train import load_config as load_detector
    from recognition.train import load_config as load_recognizer

    recognizer = sorted(p for p in configs.ROOT.glob("recognizer/*.yaml") if not p.name.startswith("shipped"))
    detector = sorted(p for p in configs.ROOT.glob("detector/*.yaml") if not p.name.startswith("shipped"))
    assert len(recognizer) >= 2 and detector
    for p in recognizer:
        cfg = load_recognizer(p)
        assert cfg.model.width > 0 and cfg.model.hidden > 0 and cfg.optim.steps > 0, p.name
    for p in detector:
        assert load_detector(p).optim.steps > 0, p.name


def test_a_pipeline_config_file_is_laid_over_the_shipped_settings(tmp_path):
    # a file that names one setting keeps every other shipped one (the beam and the language model above
    # all), not the dataclasses' bare defaults (beam width 1, no language model)
    from dataclasses import replace

    from pipeline.config import load

    shipped = load()
    assert shipped.recognizer.beam_width > 1 and shipped.recognizer.lm_weight > 0
    one = write(tmp_path, "crop: {pad_y: 0.3}\nrecognizer: {lm_weight: 0.5}\n")
    assert load(one) == replace(shipped, crop=replace(shipped.crop, pad_y=0.3),
                                recognizer=replace(shipped.recognizer, lm_weight=0.5))
    with pytest.raises(configs.ConfigError) as err:
        load(write(tmp_path, "crop: {pad_z: 0.3}\n"))
    assert "unknown key 'crop.pad_z'" in str(err.value) and str(tmp_path / "c.yaml") in str(err.value)
    with pytest.raises(configs.ConfigError, match="top level must be a mapping"):
        load(write(tmp_path, "- 1\n"))
