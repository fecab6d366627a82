"""`python -m fer.serve [key=value ...]` (and `fer serve`): parse the options, load the model, run uvicorn.

A wrong option, a missing weights file or an unprotected public address is one line on stderr and exit
code 2, before the port opens. SIGTERM or Ctrl-C stop it cleanly (exit 0).
"""

import logging
import signal
import sys

from fer.errors import UserError, report_and_exit
from fer.serve.options import ServeOptions, parse_options, usage

# On SIGTERM or Ctrl-C, open connections get this long to end (uvicorn closes streams with code 1012 and
# cancels what is left), then the service joins its own threads for at most fer.serve.service.STOP_WAIT_S:
# a stop takes at most the sum of the two
GRACEFUL_SHUTDOWN_S = 5
STARTUP_FAILED = 3  # uvicorn's own exit code when the server could not start


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if any(arg in ("-h", "--help", "help") for arg in args):
        print(usage())
        return 0
    try:
        options = parse_options(args)
        app = build(options)
    except UserError as err:
        report_and_exit(err, code=2, prefix="error")
    return serve(app, options)


def build(options: ServeOptions):
    import cv2

    from fer.serve.app import create_app  # after the options are checked: --help and errors stay fast

    # the workers and the streams' live loops are the parallelism: one OpenCV thread each, rather than
    # every detection spreading over every core at once
    cv2.setNumThreads(1)
    logging.basicConfig(
        level=options.log_level.upper() if options.log_level != "trace" else "DEBUG",
        format="%(levelname)s: %(name)s: %(message)s",
    )
    return create_app(options)


def serve(app, options: ServeOptions) -> int:
    import uvicorn

    from fer.serve.auth import RedactToken

    scheme = "https" if options.ssl_certfile else "http"
    host = f"[{options.host}]" if ":" in options.host else options.host
    described = app.state.service.describe()
    where = f"open {scheme}://{host}:{options.port}/" if options.port else "the address follows"
    print(
        f"fer serve: model {described['version']} ({described['runtime']}), detector={options.detector}, "
        f"{options.workers} worker(s), token {'required' if options.token else 'off'}; {where}",
        flush=True,
    )
    # uvicorn stops gracefully on SIGTERM and SIGINT, then raises the signal again for the handler in place
    # before it started: a stop asked for is a clean exit (0), not a death by signal or a traceback
    signal.signal(signal.SIGTERM, _stop)
    config = uvicorn.Config(
        app,
        host=options.host,
        port=options.port,
        log_level=options.log_level,
        ssl_certfile=options.ssl_certfile,
        ssl_keyfile=options.ssl_keyfile,
        ws_max_size=options.max_body_bytes + 1024,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        server_header=False,
    )
    for name in ("uvicorn.access", "uvicorn.error"):  # configured by Config: the token never reaches the log
        logging.getLogger(name).addFilter(RedactToken())
    server = uvicorn.Server(config)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    return 0 if server.started else STARTUP_FAILED  # e.g. the port is taken: uvicorn has logged why


def _stop(signum, frame) -> None:
    raise SystemExit(0)


if __name__ == "__main__":
    sys.exit(main())
