"""`fer serve`: the expression recognizer as an HTTP service, with a web page for the webcam.

    fer serve                       # http://127.0.0.1:8000/ (python -m fer.serve works too)

Torch-free: it runs on the light install (`pip install -e .`). `fer.serve.app.create_app` builds the
application; docs/serve.md describes the endpoints, the stream's messages, the options and the limits.
"""
