"""`fer serve`'s options: `key=value` arguments, as infer.py takes them, checked before anything starts.

    fer serve port=8080 workers=4 token=s3cret

Each argument is merged on its own into the typed defaults (OmegaConf), so a wrong one is named in a
one-line error (`BadValue`, exit 2) instead of a traceback. Text options (host, token, paths) are taken
as written: a token such as 0123 stays a string, not a number.
"""

import ipaddress
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Optional

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from fer.errors import BadValue, MissingInput
from fer.faces.detect import DETECTORS, HaarFaceDetector
from fer.inference.options import BASELINES, RecognizerOptions, help_line
from fer.inference.runtime import NAME_A_SHIPPED_MODEL, weights_path

TOKEN_ENV = "FER_SERVE_TOKEN"
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
LOOPBACK_NAMES = ("localhost",)


# Where a server departs from the recognizer's defaults (RecognizerOptions, which infer.py runs with): one
# classifier thread a worker (parallelism comes from the workers), and a stream's full scan every 10 frames
# (it runs many streams, and the scans, the costliest step, are what finds new faces; window searches follow
# known ones). Its Haar settings (min_face, scale_step) are its own too, below.
SERVE_DEFAULTS = {"threads": 1, "detect_every": 10}


def _option(default, help: str):
    """A field with its help line (`fer serve --help` prints it); lists get a fresh copy each time."""
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"help": help})
    return field(default=default, metadata={"help": help})


def _recognizer_option(name: str, help: str | None = None):
    """A recognizer setting fer serve takes: its default from RecognizerOptions (or SERVE_DEFAULTS), its help
    line from there unless serve says more."""
    return _option(SERVE_DEFAULTS.get(name, getattr(RecognizerOptions, name)), help or help_line(name))


@dataclass
class ServeOptions:
    host: str = _option("127.0.0.1", "loopback only; any other address needs a token")
    port: int = _option(8000, "0: any free port")
    weights: Optional[str] = _recognizer_option("weights")
    profile: Optional[str] = _recognizer_option(
        "profile", "a calibration profile (fer calibrate) for every request and stream; a stream may set its own"
    )
    profile_force: bool = _recognizer_option("profile_force")
    baseline: str = _recognizer_option(
        "baseline",
        "streams: auto builds each tracked face's own reference from its "
        "frames, no labels (docs/calibration.md); off: not",
    )
    people: str = _recognizer_option(
        "people",
        "auto: each stream's faces get person ids of its own (p1, p2, ...); "
        "a people file (fer enroll) also names enrolled people and applies "
        "their profiles; off",
    )
    detector: str = _recognizer_option("detector", " | ".join(DETECTORS) + " (every image is already a face crop)")
    min_face: float = _option(
        0.15, f"haar: smallest face, a fraction of the frame's shorter side (infer.py: {HaarFaceDetector.min_size})"
    )
    scale_step: float = _option(
        1.2, f"haar: step between the face sizes it tries (infer.py: {HaarFaceDetector.scale_factor}); larger is faster"
    )
    tta_flip: bool = _recognizer_option(
        "tta_flip", "average each face with its mirror image (streams: on alternate frames)"
    )
    token: Optional[str] = _option(None, f"bearer token clients must send; null: ${TOKEN_ENV} if set")
    workers: int = _option(2, "threads that run the model, each with its own detector and classifier")
    queue: int = _option(32, "requests that may wait for a worker; more get 503 with Retry-After: 1")
    max_body_mb: float = _option(10.0, "largest upload or stream frame, in MB")
    max_pixels: int = _option(40_000_000, "largest image (width x height), read from its header before decoding")
    stream_max_fps: float = _option(30.0, "frames a second a stream connection may send; more are dropped")
    stream_detect_every: int = _recognizer_option(
        "detect_every",
        "a stream's full-frame face scan every N frames; "
        "window searches follow each face in between "
        f"(infer.py: {RecognizerOptions.detect_every})",
    )
    max_streams: int = _option(16, "open stream connections; more are closed with code 1013 (try again later)")
    read_timeout_s: float = _option(10.0, "seconds a client has to send a request's body (then 408)")
    cors_origins: list[str] = _option([], "web origins (https://app.example) whose pages may call the API; [] = none")
    ssl_certfile: Optional[str] = _option(None, "TLS certificate (PEM); with ssl_keyfile, serves https and wss")
    ssl_keyfile: Optional[str] = _option(None, "TLS private key (PEM)")
    log_level: str = _option("info", " | ".join(LOG_LEVELS))

    @property
    def max_body_bytes(self) -> int:
        return int(self.max_body_mb * 1024 * 1024)

    def recognizer_options(self) -> RecognizerOptions:
        """A worker's recognizer: these options where serve takes them, the recognizer's defaults elsewhere (the
        service applies the profile and a stream's baseline itself: one check, shared by every worker)."""
        return RecognizerOptions(
            weights=self.weights,
            detector=self.detector,
            tta_flip=self.tta_flip,
            threads=SERVE_DEFAULTS["threads"],
            detect_every=self.stream_detect_every,
            people=self.people,
        )


TEXT = {
    "host",
    "weights",
    "profile",
    "baseline",
    "people",
    "detector",
    "token",
    "ssl_certfile",
    "ssl_keyfile",
    "log_level",
}
NULLABLE = {"weights", "profile", "token", "ssl_certfile", "ssl_keyfile"}


def parse_options(args: list[str], environ: dict | None = None) -> ServeOptions:
    """`key=value` arguments -> checked options; `BadValue` naming the option for anything wrong."""
    environ = os.environ if environ is None else environ
    config = OmegaConf.structured(ServeOptions)
    for arg in args:
        key, sep, value = arg.partition("=")
        key = key.strip().lstrip("+")
        if not sep or not key:
            raise BadValue(f"fer serve: {arg!r} is not key=value (e.g. port=8080); fer serve --help lists the options")
        if key not in config:
            raise BadValue(f"fer serve: unknown option {key!r}; options: {', '.join(option_names())}")
        try:
            if key in TEXT:  # as written, not read as YAML (a token 0123 is not the number 83)
                config[key] = None if key in NULLABLE and value.lower() in ("", "null", "none") else value
            else:
                config = OmegaConf.merge(config, OmegaConf.from_dotlist([f"{key}={value}"]))
        except OmegaConfBaseException as err:
            expected = _type_name(key)
            raise BadValue(f"fer serve: {key}={value}: expected {expected}") from err
    options = OmegaConf.to_object(config)
    if not options.token and environ.get(TOKEN_ENV):
        options.token = environ[TOKEN_ENV]
    check_options(options)
    return options


def check_options(options: ServeOptions) -> None:
    """Values that parse but cannot work, and an unprotected non-loopback address."""
    if options.detector not in DETECTORS:
        raise BadValue(f"fer serve: detector={options.detector}: choose one of {', '.join(DETECTORS)}")
    if options.baseline not in BASELINES:
        raise BadValue(f"fer serve: baseline={options.baseline}: choose off or auto")
    if options.log_level not in LOG_LEVELS:
        raise BadValue(f"fer serve: log_level={options.log_level}: choose one of {', '.join(LOG_LEVELS)}")
    if not 0 <= options.port <= 65535:
        raise BadValue(f"fer serve: port={options.port}: choose a port from 1 to 65535 (0: any free port)")
    for name, low in (("workers", 1), ("queue", 0), ("max_streams", 1), ("stream_detect_every", 1)):
        if getattr(options, name) < low:
            raise BadValue(f"fer serve: {name}={getattr(options, name)}: must be at least {low}")
    for name in ("max_body_mb", "max_pixels", "stream_max_fps", "read_timeout_s"):
        if not getattr(options, name) > 0:
            raise BadValue(f"fer serve: {name}={getattr(options, name)}: must be greater than 0")
    if not 0 < options.min_face <= 1:
        raise BadValue(f"fer serve: min_face={options.min_face}: a fraction of the frame's shorter side, in (0, 1]")
    if not options.scale_step > 1:
        raise BadValue(
            f"fer serve: scale_step={options.scale_step}: must be greater than 1 (1.1 finds more sizes, 1.3 is faster)"
        )
    if bool(options.ssl_certfile) != bool(options.ssl_keyfile):
        raise BadValue("fer serve: TLS needs both ssl_certfile=<cert.pem> and ssl_keyfile=<key.pem>, or neither")
    for name in ("ssl_certfile", "ssl_keyfile"):
        path = getattr(options, name)
        if path and not Path(path).expanduser().is_file():
            raise MissingInput(f"fer serve: {name}={path}: no such file")
    if options.weights and not weights_path(options.weights).is_file():  # a file, or a shipped model's name
        raise MissingInput(f"fer serve: weights={options.weights}: no such file ({NAME_A_SHIPPED_MODEL})")
    if options.profile and not Path(options.profile).expanduser().is_file():
        raise MissingInput(f"fer serve: profile={options.profile}: no such file; make one with fer calibrate")
    if not options.token and not is_loopback(options.host):
        raise BadValue(
            f"fer serve: host={options.host} lets other machines connect: set token=<secret> (or the "
            f"{TOKEN_ENV} environment variable) so that only clients that know it are served, or "
            "keep the default host=127.0.0.1"
        )


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and localhost: addresses only this machine reaches."""
    host = host.strip().strip("[]")
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def option_names() -> list[str]:
    return [f.name for f in fields(ServeOptions)]


def _type_name(key: str) -> str:
    kind = {f.name: f.type for f in fields(ServeOptions)}[key]
    names = {int: "a whole number", float: "a number", bool: "true or false", list[str]: "a list such as [a,b]"}
    return names.get(kind, "a value")


def usage() -> str:
    """`fer serve --help`: every option with its default and what it does (from the fields' help)."""
    defaults = ServeOptions()
    lines = [
        "usage: fer serve [key=value ...]   (also: python -m fer.serve [key=value ...])",
        "",
        "The expression recognizer as an HTTP service: a web page with the webcam at /, POST /v1/predict",
        "for images, WebSocket /v1/stream for video frames (docs/serve.md).",
        "",
        "options (default):",
    ]
    for f in fields(ServeOptions):
        value = getattr(defaults, f.name)
        shown = "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        lines.append(f"  {f.name}={shown}".ljust(30) + f" {f.metadata.get('help', '')}".rstrip())
    return "\n".join(lines)
