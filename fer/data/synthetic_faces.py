"""Procedural cartoon faces (FERG-DB-like) showing the seven basic expressions.

Every expression is written as the FACS action units (AUs) that define it, and
the drawing code only looks at AU strengths; so the classes differ exactly where
real expressions differ (brows, lids, nose, mouth) and nowhere else.  All output
is a pure function of integer seeds: no files, no global random state.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

EXPRESSIONS = ("anger", "disgust", "fear", "happy", "neutral", "sad", "surprise")

# AU recipe per expression at full intensity, as (AU number, weight) pairs.
# 41 stands for drooping upper lids (AU41/43 "lid droop").
_AU_RECIPES = (
    ((4, 1.0), (7, 0.9), (23, 1.0)),  # anger
    ((9, 1.0), (10, 1.0), (4, 0.45), (7, 0.5)),  # disgust
    ((1, 1.0), (2, 0.8), (4, 0.7), (5, 1.0), (20, 1.0), (25, 1.0)),  # fear
    ((6, 1.0), (12, 1.0)),  # happy
    (),  # neutral
    ((1, 1.0), (4, 0.3), (15, 1.0), (41, 0.7)),  # sad
    ((1, 1.0), (2, 1.0), (5, 1.0), (26, 1.0)),  # surprise
)
_ALL_AUS = (1, 2, 4, 5, 6, 7, 9, 10, 12, 15, 20, 23, 25, 26, 41)

# BGR palettes: human skin tones plus a few cartoon ones, as in animated datasets.
_SKIN = (
    (200, 215, 240),
    (165, 190, 228),
    (135, 165, 210),
    (105, 140, 190),
    (80, 110, 160),
    (55, 80, 120),
    (170, 215, 175),
    (225, 195, 165),
)
_HAIR = (
    (30, 30, 35),
    (30, 50, 80),
    (40, 80, 130),
    (90, 180, 215),
    (40, 70, 175),
    (175, 175, 175),
    (130, 60, 120),
    (140, 90, 40),
)
_IRIS = ((60, 40, 20), (120, 80, 30), (40, 90, 60), (140, 110, 60), (20, 20, 20))
HAIR_STYLES = ("bald", "short", "long", "bangs")
_WHITE, _MOUTH, _TONGUE = (240, 240, 240), (45, 35, 90), (110, 110, 210)


def _constant(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


# Sample grids for curves, built once (np.linspace per call would cost ~10% of a face).
_HEAD_THETA = _constant(np.linspace(0, 2 * np.pi, 48, endpoint=False))
_CAP_THETA = _constant(np.linspace(np.pi - 0.05, 2 * np.pi + 0.05, 24))
_U7, _U13, _U15, _U17 = (_constant(np.linspace(-1, 1, n)) for n in (7, 13, 15, 17))
_ARC13 = _constant(np.sqrt(1 - _U13**2))
_T9 = _constant(np.linspace(0, 1, 9)[:, None])


@dataclass(frozen=True)
class Identity:
    """One cartoon character.  Lengths are in head units (head half-height = 1)."""

    skin: tuple[int, int, int]
    hair: tuple[int, int, int]
    hair_style: int  # index into HAIR_STYLES
    iris: tuple[int, int, int]
    shirt: tuple[int, int, int]
    head_aspect: float  # head half-width / half-height
    jaw: float  # how much the lower face narrows towards the chin
    eye_y: float
    eye_spacing: float  # eye centre distance from the midline
    eye_size: float
    brow_gap: float  # brow height above the top of the eye
    brow_thickness: float
    nose_size: float
    nose_style: int  # 0 button, 1 side line, 2 nostrils
    mouth_y: float
    mouth_width: float  # half-width of the relaxed mouth
    ears: bool
    glasses: bool
    blush: bool


def _jitter(rng: np.random.Generator, color, amount: int) -> tuple[int, int, int]:
    return tuple(int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in color)


def sample_identity(seed: int) -> Identity:
    """Draw a character's fixed parameters; deterministic for a (non-negative) seed."""
    rng = np.random.default_rng([seed, 0x1D])  # salted: independent of draw_face(seed)
    u = lambda lo, hi: float(rng.uniform(lo, hi))  # noqa: E731
    return Identity(
        skin=_jitter(rng, _SKIN[rng.integers(len(_SKIN))], 12),
        hair=_jitter(rng, _HAIR[rng.integers(len(_HAIR))], 15),
        hair_style=int(rng.integers(len(HAIR_STYLES))),
        iris=_jitter(rng, _IRIS[rng.integers(len(_IRIS))], 15),
        shirt=tuple(int(c) for c in rng.integers(30, 230, 3)),
        head_aspect=u(0.74, 0.9),
        jaw=u(0.0, 0.3),
        eye_y=u(-0.04, 0.06),
        eye_spacing=u(0.29, 0.37),
        eye_size=u(0.11, 0.15),
        brow_gap=u(0.07, 0.13),
        brow_thickness=u(0.045, 0.075),
        nose_size=u(0.05, 0.085),
        nose_style=int(rng.integers(3)),
        mouth_y=u(0.44, 0.54),
        mouth_width=u(0.17, 0.24),
        ears=bool(rng.random() < 0.7),
        glasses=bool(rng.random() < 0.15),
        blush=bool(rng.random() < 0.4),
    )


class _Canvas:
    """Draws in head units (y down, head centre at 0) through a similarity
    transform, so pose jitter costs nothing extra.  Coordinates are passed to
    OpenCV in fixed point (4 fractional bits) for sub-pixel anti-aliased edges."""

    def __init__(self, img: np.ndarray, origin, scale: float, angle_deg: float):
        a = np.deg2rad(angle_deg)
        self.img, self.scale, self.angle = img, scale, angle_deg
        # 16 = 2**shift; the +0.5 makes the int cast round instead of truncate.
        self._m = 16 * scale * np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
        self._t = 16 * np.asarray(origin, np.float64) + 0.5
        self._affine = tuple(float(v) for v in (*self._m.ravel(), *self._t))  # for single points

    def _px(self, pts) -> np.ndarray:
        return (np.asarray(pts, np.float64) @ self._m + self._t).astype(np.int32)

    def _width(self, w: float) -> int:
        return max(1, int(round(w * self.scale)))

    def fill(self, pts, color):
        cv2.fillPoly(self.img, [self._px(pts)], color, cv2.LINE_AA, 4)

    def line(self, pts, color, width: float, closed: bool = False):
        cv2.polylines(self.img, [self._px(pts)], closed, color, self._width(width), cv2.LINE_AA, 4)

    def ellipse(self, center, axes, color, width: float | None = None):
        a, b, c, d, tx, ty = self._affine
        x, y = center
        px = (int(x * a + y * c + tx), int(x * b + y * d + ty))
        ax = (max(1, int(axes[0] * self.scale * 16)), max(1, int(axes[1] * self.scale * 16)))
        thickness = -1 if width is None else self._width(width)
        cv2.ellipse(self.img, px, ax, self.angle, 0, 360, color, thickness, cv2.LINE_AA, 4)


def _shade(color, f: float) -> tuple[int, int, int]:
    return tuple(int(min(255, c * f)) for c in color)


def _mix(a, b, t: float) -> tuple[int, int, int]:
    return tuple(int(x * (1 - t) + y * t) for x, y in zip(a, b))


def _curve(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.stack([x, y], 1)


def _between(x: np.ndarray, y_top: np.ndarray, y_bottom: np.ndarray) -> np.ndarray:
    """Closed polygon between two curves sampled at the same x (lids, lips, teeth)."""
    return np.vstack([_curve(x, y_top), _curve(x, y_bottom)[::-1]])


def _head_outline(idn: Identity, theta: np.ndarray, grow: float = 0.0) -> np.ndarray:
    lower = np.clip(np.sin(theta), 0, None)  # 0 on the cranium, 1 at the chin
    x = (idn.head_aspect + grow) * np.cos(theta) * (1 - idn.jaw * lower**2)
    return _curve(x, (1 + grow) * np.sin(theta))


def _draw_head(cv: _Canvas, idn: Identity, yaw: float):
    style, shade = HAIR_STYLES[idn.hair_style], _shade(idn.skin, 0.8)
    if style == "long":  # hair behind the head, visible beside the cheeks
        cv.ellipse((0, 0.05), (idn.head_aspect + 0.14, 1.12), idn.hair)
    w = 0.3 * idn.head_aspect
    cv.fill([(-w, 0.5), (w, 0.5), (w * 1.1, 1.6), (-w * 1.1, 1.6)], shade)  # neck
    cv.ellipse((0, 1.8), (1.4, 0.6), idn.shirt)
    if idn.ears:  # the ear on the far side of a turned head shows more
        for side in (-1, 1):
            cv.ellipse((side * idn.head_aspect - yaw * 0.4, idn.eye_y + 0.2), (0.1, 0.16), shade)
    head = _head_outline(idn, _HEAD_THETA)
    cv.fill(head, idn.skin)
    cv.line(head, _shade(idn.skin, 0.55), 0.015, closed=True)
    if style != "bald":  # a cap of hair: outer arc over the crown, back along the hairline
        arc = _head_outline(idn, _CAP_THETA, grow=0.05)
        x = -idn.head_aspect * _U15
        top, drop = (-0.7, 0.68) if style == "bangs" else (-0.62, 0.55)
        hairline = top + drop * np.abs(x / idn.head_aspect) ** 4
        if style == "bangs":  # a zigzag fringe
            hairline = hairline + 0.06 * (np.arange(x.size) % 2)
        cv.fill(np.vstack([arc, _curve(x, hairline)]), idn.hair)
    if idn.blush:
        for side in (-1, 1):
            cv.ellipse(
                (side * (idn.eye_spacing + 0.04), idn.eye_y + 0.3), (0.09, 0.05), _mix(idn.skin, (120, 120, 235), 0.3)
            )


def _draw_eye(cv: _Canvas, idn: Identity, au: dict, cx: float, side: int, width: float, gaze):
    """An eye is the gap between an upper and a lower lid curve: AU5 opens it,
    AU7 tightens it, AU6 pushes the lower lid up into a smiling arc, AU41 droops."""
    es, cy = idn.eye_size, idn.eye_y
    w = 1.25 * es * width
    h_up = es * (0.72 + 0.65 * au[5] - 0.35 * au[7] - 0.25 * au[6] - 0.3 * au[41])
    h_lo = es * (0.55 + 0.25 * au[5] - 0.4 * au[7] - 1.2 * au[6])
    # Anger slants the lid down towards the nose; sad (AU1 without AU5) lifts the inner end.
    tilt = 0.7 * min(au[4], au[7]) - 0.5 * au[1] * max(0.0, 1 - au[5])
    u, arc = _U13, _ARC13
    inner = (1 - side * u) / 2  # 1 at the corner nearest the nose
    x = cx + w * u
    y_up = cy - h_up * arc * np.clip(1 - tilt * inner, 0.15, 2.0)
    y_lo = np.maximum(cy + h_lo * arc, y_up + 0.004)
    cv.fill(_between(x, y_up, y_lo), _WHITE)
    r, ix, iy = 0.58 * es, cx + gaze[0] * es, cy - 0.1 * es + gaze[1] * es
    cv.ellipse((ix, iy), (r, r), idn.iris)
    cv.ellipse((ix, iy), (0.5 * r, 0.5 * r), (15, 15, 15))
    cv.ellipse((ix + 0.3 * r, iy - 0.35 * r), (0.2 * r, 0.2 * r), _WHITE)
    # Skin-coloured caps clip the iris to the lid opening.
    cap_up = np.minimum(y_up, iy - r - 0.01)
    cap_lo = np.maximum(y_lo, iy + r + 0.01)
    cv.fill(_between(x, cap_up, y_up), idn.skin)
    cv.fill(_between(x, y_lo, cap_lo), idn.skin)
    cv.line(_curve(x, y_up), _shade(idn.skin, 0.3), 0.035)
    cv.line(_curve(x, y_lo)[2:-2], _shade(idn.skin, 0.6), 0.012)
    if au[6] > 0.3:  # raised cheek bulging under the eye
        k = 0.7 * _U7
        cv.line(_curve(cx + w * k, cy + es * (0.65 + 0.3 * k**2)), _shade(idn.skin, 0.7), 0.015)


def _draw_brow(cv: _Canvas, idn: Identity, au: dict, cx: float, side: int):
    """AU1 lifts the inner end, AU2 the outer end, AU4 pulls the inner end down
    and towards the nose; a quadratic curve through both ends forms the brow."""
    es = idn.eye_size
    base = idn.eye_y - es - idn.brow_gap
    inner = np.array([cx - side * (0.8 * es + 0.06 * au[4]), base - 0.13 * au[1] - 0.05 * au[2] + 0.14 * au[4]])
    outer = np.array([cx + side * 1.35 * es, base - 0.02 * au[1] - 0.13 * au[2]])
    arch = 0.035 + 0.05 * au[2] - 0.04 * au[4] - 0.02 * au[1]
    ctrl = (inner + outer) / 2 - (0, 2 * arch)
    t = _T9
    pts = (1 - t) ** 2 * inner + 2 * t * (1 - t) * ctrl + t**2 * outer  # quadratic Bezier
    brow = tuple(min(int(h * 0.6), int(s * 0.45)) for h, s in zip(idn.hair, idn.skin))
    cv.line(pts, brow, idn.brow_thickness)


def _nose_y(idn: Identity) -> float:
    return idn.eye_y + 0.55 * (idn.mouth_y - idn.eye_y)


def _draw_nose(cv: _Canvas, idn: Identity, au: dict, nx: float):
    """AU9 wrinkles the bridge, lifts the tip and flares the nostrils."""
    ns = idn.nose_size * (1 + 0.25 * au[9])
    ny = _nose_y(idn) - 0.03 * au[9]
    dark, line = _shade(idn.skin, 0.75), _shade(idn.skin, 0.45)
    if idn.nose_style == 0:
        cv.ellipse((nx, ny), (ns * 1.1, ns * 0.75), dark)
        cv.ellipse((nx - 0.3 * ns, ny - 0.3 * ns), (ns * 0.25, ns * 0.18), _shade(idn.skin, 1.12))
    elif idn.nose_style == 1:
        cv.line([(nx + 0.2 * ns, ny - 2.2 * ns), (nx + 0.7 * ns, ny), (nx - 0.4 * ns, ny + 0.15 * ns)], line, 0.018)
    else:
        for side in (-1, 1):
            cv.ellipse((nx + side * 0.45 * ns, ny), (0.2 * ns, 0.14 * ns), line)
        tip = [(nx - 0.8 * ns, ny - 0.3 * ns), (nx, ny + 0.35 * ns), (nx + 0.8 * ns, ny - 0.3 * ns)]
        cv.line(tip, dark, 0.016)
    for k in range(int(round(3 * au[9]))):  # horizontal wrinkles across the bridge
        y = idn.eye_y + 0.02 + 0.055 * k
        cv.line([(nx - 0.07, y + 0.012), (nx, y), (nx + 0.07, y + 0.012)], line, 0.018)


def _draw_mouth(cv: _Canvas, idn: Identity, au: dict, mx: float, sneer_side: int):
    """Mouth between an upper and a lower lip curve.  AU12/AU15 move the corners
    up/down, AU20 stretches it wide and square, AU23 presses it thin, AU25/26
    part the lips / drop the jaw, AU10 raises the upper lip on one side."""
    mw = idn.mouth_width * (1 + 0.15 * au[12] + 0.4 * au[20] - 0.2 * au[23] - 0.3 * au[26])
    lift = 0.11 * au[12] - 0.09 * au[15] - 0.04 * au[10] - 0.03 * au[23]
    u = _U17
    prof = np.sqrt(np.clip(1 - np.abs(u) ** (2 + 4 * au[20]), 0, 1))
    base = idn.mouth_y - lift * u**2 + lift * 0.3
    # AU10 sneer: the upper lip rises over one canine and that corner lifts while the other sags.
    sneer = np.exp(-(((u - 0.35 * sneer_side) / 0.6) ** 2))
    base = base - 0.05 * au[10] * sneer_side * u
    up = (0.03 * au[25] + 0.05 * au[26]) * prof + 0.07 * au[10] * sneer * prof
    lo = (0.08 * au[25] + 0.3 * au[26] + 0.1 * au[12] * au[25] + 0.025 * au[10]) * prof
    x = mx + mw * u
    lip = _mix(_shade(idn.skin, 0.45), (40, 40, 140), 0.4)
    if au[10] > 0.3:  # ... and deepens the nasolabial furrow on that side
        x0, y0 = mx + sneer_side * 0.1, _nose_y(idn) - 0.02
        x1, y1 = mx + sneer_side * (mw + 0.05), (base[-1] if sneer_side > 0 else base[0]) - 0.02
        fold = [(x0, y0), (x0 + sneer_side * 0.08, y0 + 0.07), (x1, y1)]
        cv.line(fold, _shade(idn.skin, 0.5), 0.018)
    if up.max() + lo.max() < 0.025:  # closed: a single line, thicker when pressed
        cv.line(_curve(x, base), lip, 0.025 + 0.02 * au[23])
        return
    y_up, y_lo, tooth = base - up, base + lo, 0.05
    opening = _between(x, y_up, y_lo)
    cv.fill(opening, _MOUTH)
    if max(au[12], au[10], au[20]) > 0.3:  # upper teeth under a raised/pulled lip
        cv.fill(_between(x, y_up, np.minimum(y_up + tooth, y_lo)), _WHITE)
    if au[20] > 0.3:  # fear bares the lower teeth too
        cv.fill(_between(x, np.maximum(y_lo - tooth, y_up), y_lo), _WHITE)
    elif lo.max() > 0.12:
        cv.ellipse((mx, idn.mouth_y + lo.max() * 0.7), (mw * 0.4, lo.max() * 0.25), _TONGUE)
    cv.line(opening, lip, 0.02, closed=True)


def _action_units(expression: int, rng: np.random.Generator) -> dict:
    """AU strengths: recipe x intensity x per-AU jitter, over a faint resting
    activity of every AU (faces are never perfectly still; too faint to read as
    an expression).  The same random draws for every class, so pose matches."""
    intensity = rng.uniform(0.5, 1.0)
    jitter = dict(zip(_ALL_AUS, rng.uniform(0.85, 1.15, len(_ALL_AUS))))
    resting = rng.uniform(0.0, 0.1, len(_ALL_AUS))
    open_smile = rng.random() < 0.6
    au = dict(zip(_ALL_AUS, resting))
    for k, weight in _AU_RECIPES[expression]:
        au[k] = max(au[k], weight * intensity * jitter[k])
    if EXPRESSIONS[expression] == "happy" and open_smile:
        au[25] = intensity
    return au


def _pose(rng: np.random.Generator, size: int) -> tuple[float, float, float, np.ndarray]:
    """The first draws of `draw_face`: rotation (degrees), yaw, scale (px per head unit), centre."""
    angle, yaw = rng.uniform(-15, 15), rng.uniform(-0.07, 0.07)
    scale = rng.uniform(0.7, 0.95) * size / 2  # head height fills 70-95% of the frame
    origin = size / 2 + rng.uniform(-0.05, 0.05, 2) * size
    return angle, yaw, scale, origin


def face_regions(identity: Identity, seed: int, size: int = 128) -> dict[str, np.ndarray]:
    """Where the brows and the mouth lie in `draw_face(identity, <any expression>, seed, size)`, as
    size x size boolean masks: the parts the action units move, for checking what a model looks at.
    The pose depends on the seed only, so the masks hold for all seven expressions."""
    angle, yaw, scale, origin = _pose(np.random.default_rng([seed, 0xFACE]), size)
    es, mouth = identity.eye_size, 1.5 * identity.mouth_width
    brow_y = identity.eye_y - es - identity.brow_gap
    half = identity.eye_spacing + 1.5 * es
    boxes = {
        "brows": (yaw - half, brow_y - 0.22, yaw + half, brow_y + 0.12),
        "mouth": (yaw - mouth, identity.mouth_y - 0.2, yaw + mouth, identity.mouth_y + 0.35),
    }
    masks = {}
    for name, (x0, y0, x1, y1) in boxes.items():
        canvas = _Canvas(np.zeros((size, size), np.uint8), origin, scale, angle)
        canvas.fill([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], 255)
        masks[name] = canvas.img > 0
    return masks


def draw_face(identity: Identity, expression: int, seed: int, size: int = 128) -> np.ndarray:
    """Render `identity` showing EXPRESSIONS[expression] as a size x size BGR uint8
    image; `seed` (non-negative) drives intensity, pose, lighting and noise."""
    if not 0 <= expression < len(EXPRESSIONS):
        raise ValueError(f"expression must be in [0, {len(EXPRESSIONS)}), got {expression}")
    rng = np.random.default_rng([seed, 0xFACE])
    angle, yaw, scale, origin = _pose(rng, size)
    gaze = rng.uniform(-0.2, 0.2, 2)
    sneer_side = 1 if rng.random() < 0.5 else -1
    corners = rng.integers(60, 230, (2, 2, 1)) + rng.integers(-25, 26, (2, 2, 3))
    if rng.random() < 0.4:  # plain background
        corners[:] = corners[0, 0]
    light = rng.uniform(0.75, 1.15) * (1 + rng.uniform(-0.25, 0.25, (2, 2, 1))).repeat(3, axis=2)
    bias, noise_sigma = rng.uniform(-20, 20), rng.uniform(0, 6)
    blur = rng.uniform(0.3, 1.0) * size / 128 if rng.random() < 0.5 else 0.0
    au = _action_units(expression, rng)
    # Random draws happen in the same order and number for every class (the noise below
    # too), so for one seed the images of the seven expressions differ only in the face.

    background = np.clip(corners, 0, 255).astype(np.uint8)
    img = cv2.resize(background, (size, size), interpolation=cv2.INTER_LINEAR)
    cv = _Canvas(img, origin, scale, angle)
    _draw_head(cv, identity, yaw)
    for side in (-1, 1):  # the eye on the far side of a turned head looks narrower
        cx = side * identity.eye_spacing + yaw
        _draw_eye(cv, identity, au, cx, side, 1 - 1.5 * yaw * side, gaze)
        _draw_brow(cv, identity, au, cx, side)
    _draw_nose(cv, identity, au, 1.4 * yaw)
    _draw_mouth(cv, identity, au, yaw, sneer_side)
    if identity.glasses:
        r, frame = 1.7 * identity.eye_size, (30, 30, 30)
        for side in (-1, 1):
            cv.ellipse((side * identity.eye_spacing + yaw, identity.eye_y), (r, r), frame, 0.02)
        inner = identity.eye_spacing - r
        cv.line([(yaw - inner, identity.eye_y), (yaw + inner, identity.eye_y)], frame, 0.02)

    # Lighting: a smooth gain field across the face, global offset, sensor noise, blur.
    # Kept in uint8 on purpose: float copies of the image are large enough for malloc
    # to hand them back to the OS each call, and the page faults cost more than drawing.
    gain = cv2.resize(
        np.round(light * 128).astype(np.uint8), (size, size), interpolation=cv2.INTER_LINEAR
    )  # 128 = unit gain
    out = cv2.multiply(img, gain, scale=1 / 128)
    raw = np.frombuffer(rng.bytes(2 * size * size), np.uint8).reshape(2, size, size)
    raw = raw.astype(np.int16)
    noise = (raw[0] + raw[1] - 255) * np.float32(noise_sigma / 104.5) + 128  # triangular, std sigma
    noise = np.clip(noise, 0, 255).astype(np.uint8)
    out = cv2.addWeighted(out, 1, cv2.merge([noise] * 3), 1, bias - 128)
    return cv2.GaussianBlur(out, (0, 0), blur) if blur > 0 else out
