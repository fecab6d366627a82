"""Real-time inference (`python infer.py source=webcam`): not built yet.

The inference issue fills this entry point (detector + exported model, webcam/video/images).
Until then it says so instead of pretending to work.
"""

import sys

if __name__ == "__main__":
    sys.exit("infer.py is not implemented yet: real-time inference is the next milestone. "
             "Trained models are saved as <run dir>/model.pt (see README, 'Model files').")
