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
    assert {key: defaults[key] for key in config} == {
        key: tuple(v) if isinstance(v, list) else v for key, v in config.items()
    }


def test_an_unknown_detector_name_lists_the_names():
    from fer.errors import BadValue

    with pytest.raises(BadValue, match="detector='cnn': choose one of haar, yunet, none"):
        detector_named("cnn")


def test_infer_reads_the_recognizer_defaults_from_the_options_object():
    """conf/infer.yaml writes none of the recognizer's settings: they come from RecognizerOptions (the detector
    from its config group, whose default is the same name), and an override reaches them as any key."""
    from fer.inference.options import RecognizerOptions
    from tests.conftest import compose_config

    written = OmegaConf.load(ROOT / "conf" / "infer.yaml")
    assert not {f.name for f in dataclasses.fields(RecognizerOptions)} & set(written), "written twice"
    detector = next(
        d["detector"] for d in OmegaConf.to_container(written.defaults) if isinstance(d, dict) and "detector" in d
    )
    assert detector == RecognizerOptions().detector
    composed = RecognizerOptions.from_config(compose_config("infer", []), detector=detector)
    assert composed == RecognizerOptions()
    changed = compose_config("infer", ["tta_flip=false", "smoothing=0.3", "weights=model.onnx"])
    assert RecognizerOptions.from_config(changed, detector=detector) == RecognizerOptions(
        tta_flip=False, smoothing=0.3, weights="model.onnx"
    )


def test_the_recognizer_takes_the_options_as_keywords():
    import inspect

    from fer.inference.options import RecognizerOptions
    from fer.inference.recognizer import Recognizer

    parameters = list(inspect.signature(Recognizer).parameters.values())
    assert [(p.name, p.default) for p in parameters] == [
        (f.name, f.default) for f in dataclasses.fields(RecognizerOptions)
    ]
    assert all(f.metadata["help"] in Recognizer.__doc__ for f in dataclasses.fields(RecognizerOptions))


def test_serve_takes_the_recognizer_defaults_but_the_ones_it_names():
    from fer.inference.options import RecognizerOptions
    from fer.serve.options import SERVE_DEFAULTS, ServeOptions

    serve, recognizer = ServeOptions(), RecognizerOptions()
    for name in ("weights", "profile", "profile_force", "baseline", "people", "detector", "tta_flip"):
        assert getattr(serve, name) == getattr(recognizer, name), name
    assert serve.stream_detect_every == SERVE_DEFAULTS["detect_every"]
    options = serve.recognizer_options()
    assert dataclasses.replace(options, **{name: getattr(recognizer, name) for name in SERVE_DEFAULTS}) == recognizer
    assert (options.threads, options.detect_every) == (SERVE_DEFAULTS["threads"], SERVE_DEFAULTS["detect_every"])


INPUT_KEYS = ("image_size", "channels", "mean", "std")


@pytest.mark.parametrize(
    "overrides, side",
    [
        ([], 48),
        (["model=resnet18"], 112),
        (["model=mobileface"], 100),
        (["model=mobileface", "model.variant=v2"], 112),
        (["model=resnet18", "input=grey48"], 48),
        (["input.image_size=64"], 64),
    ],
)
def test_the_model_and_the_data_read_one_input(overrides, side):
    import fer.models.resolvers  # noqa: F401  (conf/input/mobileface.yaml's ${mobileface:...})
    from tests.conftest import compose_config

    cfg = compose_config("train", overrides)
    given = tuple(cfg.input[key] for key in INPUT_KEYS)
    assert given[0] == side
    assert (cfg.model.image_size, cfg.model.arch.in_chans, cfg.model.mean, cfg.model.std) == given
    assert tuple(cfg.data[key] for key in INPUT_KEYS) == given


@pytest.mark.parametrize("name", ["audit", "evaluate"])
def test_the_audit_and_evaluation_configs_hold_no_model(name):
    """They read faces as they are (the predictor sizes them as the weights file says): no stand-in model."""
    from tests.conftest import compose_config

    cfg = compose_config(name, [])
    assert "model" not in cfg and tuple(cfg.data[key] for key in INPUT_KEYS) == tuple(cfg.input[k] for k in INPUT_KEYS)
