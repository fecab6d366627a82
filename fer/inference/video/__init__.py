"""The video loops: which boxes each frame classifies, and smoothing of each face's probabilities.

Two loops, one per kind of source:

- `ExactLoop` (`exact`; video files, by default): every frame waits for its own detection, so a file
  gives the same records on every run and every machine.
- `LiveLoop` (`live`; cameras and streams, and video files with `realtime=true`): no frame waits for a
  detection; the detector and the window searches (`search`) run on threads of their own (`workers`).

Faces are matched from frame to frame by box overlap (IoU, `fer.faces.detect.iou`); a matched face's
probabilities are smoothed over frames (`smoothing`), so labels do not flicker from one frame to the next.
"""

from fer.inference.video.exact import ExactLoop
from fer.inference.video.live import LiveLoop
from fer.inference.video.options import check_live_options

__all__ = ["ExactLoop", "LiveLoop", "check_live_options"]
