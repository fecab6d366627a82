"""The inference task behind `infer.py`: frames in, faces with seven probabilities out.

One loop for every source: read a frame, find and classify faces with the shared `Predictor`
(detection every N frames and smoothing for live video), write records, draw, show. A file that
cannot be read is reported by name and counted; the rest is still processed, and the exit code
is the number of failures.
"""

import logging
import os
import sys
from pathlib import Path

import cv2
import hydra
from omegaconf import DictConfig, OmegaConf

from fer.errors import BadValue
from fer.faces.image_io import to_grey_uint8
from fer.inference.explain import SaliencyWriter, resolve_method
from fer.inference.frames import Frame, open_frames
from fer.inference.options import RecognizerOptions
from fer.inference.outputs import AnnotatedImages, CsvWriter, JsonlWriter, VideoOut, format_record, records
from fer.inference.overlay import draw
from fer.inference.recognizer import Recognizer
from fer.utils.console import tidy_console
from fer.utils.progress import RunProgress

log = logging.getLogger(__name__)
QUIT_KEYS = (ord("q"), 27)  # q, Esc


def window_available() -> bool:
    """Whether cv2.imshow can open a window: not with opencv-python-headless (the pinned build), nor on
    Linux without a display (a Qt build would abort the process there rather than raise)."""
    gui = next(
        (
            line.split(":", 1)[1].strip()
            for line in cv2.getBuildInformation().splitlines()
            if line.strip().startswith("GUI:")
        ),
        "NONE",
    )
    no_screen = sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )
    return gui != "NONE" and not no_screen


def run(cfg: DictConfig, capture_factory=cv2.VideoCapture) -> int:
    tidy_console(verbose=bool(cfg.get("verbose")))
    display = cfg.display and window_available()
    if cfg.display and not display:
        log.warning(
            "display=true, but this OpenCV has no window support (opencv-python-headless) or there is "
            "no screen: nothing is shown. Image results are printed; for video and cameras pass "
            "output.video=<file.mp4> or output.jsonl=<file>, or install opencv-python for a window."
        )
    detector = hydra.utils.instantiate(cfg.detector) if cfg.get("detector") else None
    recognizer = Recognizer.from_options(RecognizerOptions.from_config(cfg, detector=detector))
    if recognizer.classifier.runtime != "onnxruntime":  # torch weights (torch is loaded by now); ONNX took `threads`
        import torch

        torch.set_num_threads(cfg.threads)
    explain = resolve_method(cfg.get("explain", False), recognizer.predictor)
    if explain and not cfg.output.get("dir"):
        raise BadValue(
            f"explain={cfg.explain}: heatmaps are written beside the annotated images: pass output.dir=<folder>"
        )
    frames = open_frames(cfg.source, capture_factory, realtime=recognizer.realtime is True)
    if explain and frames.kind != "images":
        log.warning("explain=%s: saliency is made for still images; %s frames are not explained", explain, frames.kind)
    saliency = SaliencyWriter(recognizer.predictor, explain, cfg.output.dir) if explain else None
    writers = _open_writers(cfg.output)
    progress = RunProgress(frames.kind, frames.total, enabled=cfg.get("progress", True), description=str(cfg.source))
    try:
        with progress:
            for frame, faces, stats in recognizer.frames(frames):
                progress.advance(faces=len(faces), failed=frame.image is None)
                if frame.image is None:
                    log.error("skipped %s", frame.error)
                    continue
                rows = records(frame, faces)
                if saliency is not None and faces and not frame.video:
                    grey = to_grey_uint8(frame.image, frame.source)
                    for row, path in zip(rows, saliency.write(frame.source, grey, faces)):
                        row["saliency"] = str(path)
                for writer in writers["records"]:
                    writer.write(rows)
                for summary_files in writers["people"]:  # before drawing: thumbnails are cut from the clean frame
                    summary_files.add(rows, frame.image)
                if cfg.print_faces and not frame.video:  # a line per face of a still image; video would flood
                    print("\n".join(format_record(row) for row in rows), flush=True)
                if _show_and_save(frame, faces, stats, writers, display):
                    break
    finally:
        for group in writers.values():
            for writer in group:
                writer.close()
        if display:
            cv2.destroyAllWindows()
    log.info("%s", progress.summary())
    return progress.failures


def in_run_folder(output: DictConfig) -> DictConfig:
    """In a multirun (`python infer.py -m source=a.mp4,b.mp4 ...`) a relative output path lands in the job's own
    run folder, so that each video's records, summary and timeline stay apart; a single run writes where it is
    told (its run folder is the working directory)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return output
    folder = Path(HydraConfig.get().runtime.output_dir)
    return OmegaConf.create(
        {
            key: str(folder / value) if isinstance(value, str) and not Path(value).is_absolute() else value
            for key, value in output.items()
        }
    )


def _open_writers(output: DictConfig) -> dict[str, list]:
    output = in_run_folder(output)
    writers = {"records": [], "images": [], "people": []}
    if output.get("summary") or output.get("timeline") or output.get("report"):
        from fer.inference.timeline import SummaryFiles  # written by close() in the run's finally, early stops too

        writers["people"].append(SummaryFiles(output.get("summary"), output.get("timeline"), output.get("report")))
    if output.get("jsonl"):
        writers["records"].append(JsonlWriter(output.jsonl))
    if output.get("csv"):
        writers["records"].append(CsvWriter(output.csv))
    if output.get("dir"):
        writers["images"].append(AnnotatedImages(output.dir))
    if output.get("video"):
        writers["images"].append(VideoOut(output.video))
    return writers


def _show_and_save(frame: Frame, faces, stats, writers, display: bool) -> bool:
    """Draw if anyone looks; True when the user asked to quit."""
    if not (display or writers["images"]):
        return False
    annotated = draw(
        frame.image, faces, stats, in_place=True
    )  # the frame's records are written: nothing reads it after
    for writer in writers["images"]:
        writer.write(frame, annotated)
    if display:
        cv2.imshow("fer", annotated)
        return (cv2.waitKey(1) & 0xFF) in QUIT_KEYS
    return False
