"""Settings written once: the detectors by name against conf/detector/, the recognizer's options against
conf/infer.yaml, the Recognizer's keywords and fer serve's options."""

import dataclasses

import pytest
from omegaconf import OmegaConf

from fer.faces.detect import DETECTORS, detector_named
from tests.conftest import ROOT

DETECTOR_CONFIGS = {path.stem: path for path in sorted((ROOT / "conf" / "detector").glob("*.yaml"))}


def test_every_named_detector_has_its_config_and_no_other():
    assert sorted(DETECTOR_CONFIGS) == sorted(DETECTORS)
    assert all(named.about and "\n" not in named.about for named in DETECTORS.values())


@pytest.mark.parametrize("name", sorted(DETECTOR_CONFIGS))
def test_a_detector_config_builds_what_its_name_builds(name):
    """infer.py's detector=<name> (the config group) and fer.Recognizer(detector=<name>) are the same detector."""
    config = OmegaConf.to_container(OmegaConf.load(DETECTOR_CONFIGS[name]))
    if name == "none":
        assert config == {"detector": None} and detector_named(name) is None
        return
    factory = DETECTORS[name].make
    assert config.pop("_target_") == f"{factory.__module__}.{factory.__qualname__}"
    defaults = {f.name: f.default for f in dataclasses.fields(factory)}
    assert {key: defaults[key] for key in config} == {key: tuple(v) if isinstance(v, list) else v
                                                      for key, v in config.items()}


def test_an_unknown_detector_name_lists_the_names():
    from fer.errors import BadValue

    with pytest.raises(BadValue, match="detector='cnn': choose one of haar, yunet, none"):
        detector_named("cnn")
