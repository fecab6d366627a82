"""The `fer serve` page in a real browser: headless Chromium's fake camera plays a clip of a drawn face,
the page streams it to a real `python -m fer.serve` process, and shows the expression, the seven bars,
the frame rate and the round trip; an image chosen in the page's file input goes to /v1/predict.

Needs Chromium and chromedriver (Debian: `apt-get install chromium chromium-driver`; .ci/run installs
them) and selenium; skips with the reason otherwise. The faces are drawn (fer.data.synthetic_faces), so the
test needs no data set and its screenshot may be shown anywhere; the shipped model reads them as real faces'
expressions (happy 0.99, surprise 0.98). Nothing is
downloaded (chromedriver is given by path, so Selenium Manager never runs); all traffic is loopback.

`FER_SCREENSHOT=docs/serve.png pytest tests/test_serve_browser.py` also writes the page's screenshot
there (the README's picture).
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer.data.synthetic_faces import draw_face, sample_identity
from fer.labels import LABELS
from tests.conftest import ROOT

pytestmark = [pytest.mark.slow]

CHROMIUM = next(filter(None, (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome"))), None)
CHROMEDRIVER = shutil.which("chromedriver")
# a happy face for the camera, a surprised one for the file input: the two answers cannot be mistaken
# for each other
CAMERA_FACE, FILE_FACE = "happy", "surprise"
IDENTITY = 2  # a drawn person whose two expressions the shipped model reads with >= 0.98
FACE_SIDE = 300  # pixels, in the middle of the 640x480 frame
START_TIMEOUT_S, STREAM_TIMEOUT_S = 90, 60


def face_frame(expression: str) -> np.ndarray:
    """A 640x480 BGR frame with a drawn face showing `expression` in the middle."""
    face = draw_face(sample_identity(IDENTITY), LABELS.index(expression), seed=0, size=FACE_SIDE)
    frame = np.full((480, 640, 3), 90, np.uint8)
    top, left = (480 - FACE_SIDE) // 2, (640 - FACE_SIDE) // 2
    frame[top : top + FACE_SIDE, left : left + FACE_SIDE] = face
    return frame


def write_y4m(path: Path, frames: list[np.ndarray], fps: int = 30) -> Path:
    """A raw 4:2:0 YUV4MPEG2 clip, the format Chromium's fake camera plays (and loops)."""
    height, width = frames[0].shape[:2]
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            # I420: the Y plane, then U and V at half resolution each
            out.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes())
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`python -m fer.serve` on a free loopback port, as a user starts it; terminated after the tests."""
    log = tmp_path_factory.mktemp("serve") / "server.log"
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "PYTHONUNBUFFERED": "1",
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "fer.serve", f"port={port}", "host=127.0.0.1"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"fer serve exited {process.returncode} while starting:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                    if json.load(response) == {"status": "ok"}:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"fer serve did not answer /healthz within {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield url, log
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def chromium(clip: Path):
    """Headless Chromium whose fake camera plays (and loops) `clip`."""
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("needs Chromium and chromedriver on PATH (Debian/Ubuntu: apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install selenium)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={clip}",
        "--window-size=1100,800",
        "--disable-extensions",
        "--no-first-run",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # chromedriver given by path: Selenium Manager (which may download drivers) never runs
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Chromium whose camera plays a clip of a happy face."""
    clip = write_y4m(tmp_path_factory.mktemp("camera") / "happy.y4m", [face_frame(CAMERA_FACE)] * 3)
    driver = chromium(clip)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver, script: str, timeout: float, what: str):
    """Poll a JavaScript expression until it is truthy; fail naming `what` and the page's state."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script("return " + script)
        if value:
            return value
        time.sleep(0.2)
    state = driver.execute_script("return [document.getElementById('status').textContent, window.ferState]")
    pytest.fail(f"{what} not within {timeout:.0f} s; #status and window.ferState: {state}")


def text(driver, element_id: str) -> str:
    return driver.find_element("id", element_id).text.strip()


def page_errors(driver) -> list[str]:
    """The page's console errors (a missing favicon is the browser's own request, not the page's)."""
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE" and "favicon.ico" not in entry["message"]
    ]


def test_page_streams_the_camera_and_reads_an_image(server, browser, tmp_path):
    url, _ = server
    browser.get(url + "/")

    # the camera's frames go over the WebSocket and come back with the face (the stream's live loop shows
    # a face once a full-frame scan has found it: the first frames have none)
    wait_for(
        browser,
        "window.ferState && window.ferState.frames >= 10 && window.ferState.lastFaces.length > 0",
        STREAM_TIMEOUT_S,
        "10 answered frames, the last with a face",
    )
    state = browser.execute_script("return window.ferState")
    assert text(browser, "status") == "streaming"
    assert text(browser, "label") == "happy", state["lastFaces"]
    (face,) = state["lastFaces"]
    x, y, w, h = face["box"]  # around the face, which fills the middle 300x300 of the frame
    assert 160 <= x + w / 2 <= 480 and 80 <= y + h / 2 <= 400 and 80 <= w <= 320, face["box"]
    assert face["label"] == "happy" and face["score"] > 0.8, face
    assert face["person"] == "p1", face  # the stream's first person

    # the person's strip of the last minute, with their current label
    people = wait_for(
        browser,
        "Array.from(document.querySelectorAll('#people > .person')).map("
        "row => [row.dataset.person, row.dataset.label])",
        10,
        "the person's strip",
    )
    assert people == [["p1", "happy"]], people

    # the seven bars: the model's labels, probabilities summing to 1, happy the longest
    with urllib.request.urlopen(url + "/v1/model", timeout=10) as response:
        labels = json.load(response)["labels"]
    bars = {
        bar.get_attribute("data-label"): float(bar.get_attribute("data-p"))
        for bar in browser.find_elements("css selector", "#bars > *")
    }
    assert list(bars) == labels and len(labels) == 7
    assert sum(bars.values()) == pytest.approx(1.0, abs=0.01), bars
    assert max(bars, key=bars.get) == "happy", bars

    fps, rtt = float(text(browser, "fps")), float(text(browser, "rtt"))
    assert fps > 0 and rtt > 0, (fps, rtt)
    assert state["fps"] > 0 and state["rttMs"] > 0, state

    # the README's picture: the video with its box and label, the bars
    shot = tmp_path / "serve.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    if os.environ.get("FER_SCREENSHOT"):
        target = Path(os.environ["FER_SCREENSHOT"])
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target)

    # an image through the page's file input: /v1/predict's answer listed and drawn under it
    photo = tmp_path / "surprised.jpg"
    assert cv2.imwrite(str(photo), face_frame(FILE_FACE))
    browser.find_element("id", "file").send_keys(str(photo))
    still = wait_for(browser, "window.ferState.still", 30, "the image's answer")
    assert [f["label"] for f in still["faces"]] == ["surprise"], still
    assert (still["width"], still["height"]) == (640, 480)
    items = wait_for(
        browser,
        "Array.from(document.querySelectorAll('#still-faces li')).map(li => li.textContent)",
        10,
        "the image's faces listed",
    )
    assert len(items) == 1 and items[0].startswith("surprise "), items  # one photo: no person id
    assert browser.execute_script("return document.getElementById('still').width") == 640

    # the live stream kept going (the video's answers own #label) and the page logged no error
    frames = browser.execute_script("return window.ferState.frames")
    wait_for(
        browser,
        f"window.ferState.frames > {frames} && document.getElementById('label').textContent === 'happy'",
        20,
        "more answered frames, #label still the video's happy face, after the image",
    )
    errors = page_errors(browser)
    assert not errors, errors


def test_calibrate_to_me_walks_through_the_expressions_fits_applies_and_offers_the_profile(server, tmp_path):
    """The page's guided calibration, sped up (?calibrate_ms=150: one second of the guide), with a camera that
    shows the drawn person's seven expressions in turn: the photos go to POST /v1/profile, the profile comes
    back, the stream applies it at once, the before/after table and the download link appear; clearing it
    goes back to the service's model."""
    url, _ = server
    clip = write_y4m(tmp_path / "expressions.y4m", [face_frame(label) for label in LABELS for _ in range(10)], fps=10)
    driver = chromium(clip)
    try:
        driver.get(url + "/?calibrate_ms=150")
        wait_for(driver, "window.ferState && window.ferState.frames >= 5", STREAM_TIMEOUT_S, "5 answered frames")
        driver.find_element("id", "calibrate").click()
        wait_for(
            driver,
            "document.getElementById('calibrate-prompt').textContent.startsWith('Show: neutral')",
            10,
            "the guide's first expression, neutral",
        )
        description = wait_for(driver, "window.ferState.profile", 120, "the profile applied to the stream")
        assert description.startswith("method "), description
        calibration = driver.execute_script("return window.ferState.calibration")
        assert sum(calibration["counts"]) >= 7 * 3, calibration  # most captured frames had the face
        assert set(calibration["fit"]["shown_probability"]) == set(LABELS), calibration
        rows = driver.execute_script("return Array.from(document.querySelectorAll('#calibrate-compare tr')).length")
        assert rows == 7
        link = driver.find_element("id", "profile-download")
        assert link.is_displayed() and link.get_attribute("href").startswith("blob:")
        frames = driver.execute_script("return window.ferState.frames")
        wait_for(driver, f"window.ferState.frames > {frames} + 5", 30, "more frames with the profile")
        driver.execute_script("document.getElementById('calibration').scrollIntoView()")
        shot = tmp_path / "calibrated.png"
        assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
        if os.environ.get("FER_CALIBRATION_SCREENSHOT"):
            shutil.copyfile(shot, os.environ["FER_CALIBRATION_SCREENSHOT"])
        driver.find_element("id", "profile-clear").click()
        wait_for(
            driver,
            "window.ferState.profile === null && document.getElementById('profile-name').textContent === 'none'",
            10,
            "the profile cleared",
        )
        errors = page_errors(driver)
        assert not errors, errors
    finally:
        driver.quit()
