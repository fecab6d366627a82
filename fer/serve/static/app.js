// fer serve's page: the webcam's frames to /v1/stream as JPEG, the faces drawn back over the video;
// an image dropped or chosen goes to /v1/predict. No library, no build step: read it as it is.
//
// For tests and tools the page keeps its state readable: #label (the largest face's label), #bars (one
// element per label with data-label and data-p), #people (one element per person with data-person and
// data-label), #fps, #rtt, #status, and window.ferState.
"use strict";

const TARGET_FPS = 30;
const MAX_IN_FLIGHT = 2;     // frames sent and not yet answered; the server keeps only the newest anyway
const LOST_AFTER_MS = 1000;  // a frame unanswered this long was dropped by the server: stop waiting for it
const JPEG_QUALITY = 0.8;
const WIDTH = 640, HEIGHT = 480;

const $ = (id) => document.getElementById(id);
window.ferState = { frames: 0, lastFaces: [], fps: 0, rttMs: 0, profile: null, calibration: null, people: {} };
const PEOPLE_WINDOW_MS = 60000;  // each person's strip shows their top label over the last minute
// one colour per expression, in the order of the labels (the timeline pictures of infer.py use their own)
const LABEL_COLOURS = ["#d62728", "#8c564b", "#9467bd", "#f2b701", "#7f7f7f", "#1f77b4", "#17becf"];

let token = new URLSearchParams(location.search).get("token") || "";
let labels = ["anger", "disgust", "fear", "happy", "neutral", "sad", "surprise"];
let socket = null;
let streaming = false;

function setStatus(text) {
  $("status").textContent = text;
}

function authHeaders() {
  return token ? { Authorization: "Bearer " + token } : {};
}

// --- start: ask the server for its model (and whether it needs a token), then open the camera ---

async function start() {
  setStatus("connecting");
  let response;
  try {
    response = await fetch("/v1/model", { headers: authHeaders() });
  } catch (err) {
    setStatus("error: the server cannot be reached");
    return;
  }
  if (response.status === 401) {
    setStatus("token needed");
    $("token-form").hidden = false;
    return;
  }
  if (!response.ok) {
    setStatus("error: " + (await errorText(response)));
    return;
  }
  $("token-form").hidden = true;
  labels = (await response.json()).labels;
  makeBars();
  makeLegend();
  await startCamera();
}

$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  token = $("token").value.trim();
  start();
});

async function errorText(response) {
  try {
    return (await response.json()).error;
  } catch (err) {
    return "HTTP " + response.status;
  }
}

// --- the camera and the stream ---

async function startCamera() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    setStatus("no camera");  // e.g. a page not served from localhost or over https
    return;
  }
  try {
    const media = await navigator.mediaDevices.getUserMedia({
      video: { width: WIDTH, height: HEIGHT }, audio: false });
    $("video").srcObject = media;
    await $("video").play();
  } catch (err) {
    setStatus("no camera");
    return;
  }
  openSocket();
}

function openSocket() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const query = token ? "?token=" + encodeURIComponent(token) : "";
  socket = new WebSocket(scheme + "//" + location.host + "/v1/stream" + query);
  const sent = new Map();  // frame number -> time sent (performance.now())
  let count = 0;           // binary messages sent on this socket: the server numbers frames the same way
  let answered = [];       // times of the last second's answers, for fps

  socket.onopen = () => {
    streaming = true;
    setStatus("streaming");
    sendFrames();
  };

  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    const now = performance.now();
    if (message.frame !== null && sent.has(message.frame)) {
      window.ferState.rttMs = Math.round(now - sent.get(message.frame));
    }
    for (const frame of sent.keys()) {  // frames before this one will never be answered: dropped
      if (frame <= message.frame) sent.delete(frame);
    }
    if (message.type === "error") {
      setStatus("error: " + message.error);
      return;
    }
    if (message.type === "profile") {
      profileApplied(message.profile);
      return;
    }
    answered.push(now);
    answered = answered.filter((t) => now - t <= 1000);
    window.ferState.frames += 1;
    window.ferState.fps = answered.length;
    window.ferState.lastFaces = message.faces;
    setStatus("streaming");
    drawBoxes($("overlay"), message.faces, null);
    showLargest(message.faces);
    rememberPeople(message.faces, now);
    $("fps").textContent = answered.length.toFixed(1);
    $("rtt").textContent = String(window.ferState.rttMs);
  };

  socket.onclose = (event) => {
    streaming = false;
    if (event.code === 1008) {  // a wrong token or a page the server does not serve
      setStatus("error: " + (event.reason || "refused by the server"));
      if (/token/.test(event.reason)) $("token-form").hidden = false;
      return;
    }
    setStatus(event.code === 1013 ? "error: server busy, retrying" : "reconnecting");
    setTimeout(openSocket, event.code === 1013 ? 2000 : 1000);
  };

  // a frame every 1/TARGET_FPS s while fewer than MAX_IN_FLIGHT wait for their answer
  const capture = document.createElement("canvas");
  capture.width = WIDTH;
  capture.height = HEIGHT;
  function sendFrames() {
    if (socket.readyState !== WebSocket.OPEN) return;
    const now = performance.now();
    for (const [frame, time] of sent) {
      if (now - time > LOST_AFTER_MS) sent.delete(frame);
    }
    if (sent.size < MAX_IN_FLIGHT && $("video").readyState >= 2) {
      capture.getContext("2d").drawImage($("video"), 0, 0, WIDTH, HEIGHT);
      count += 1;
      const frame = count;
      sent.set(frame, now);
      capture.toBlob((blob) => {
        if (blob && socket.readyState === WebSocket.OPEN) socket.send(blob);
      }, "image/jpeg", JPEG_QUALITY);
    }
    setTimeout(sendFrames, 1000 / TARGET_FPS);
  }
}

// --- drawing: boxes and labels over an image, the seven bars of the largest face ---

function drawBoxes(canvas, faces, image) {
  const context = canvas.getContext("2d");
  context.clearRect(0, 0, canvas.width, canvas.height);
  if (image) context.drawImage(image, 0, 0);
  context.lineWidth = Math.max(2, canvas.width / 320);
  context.font = Math.max(14, canvas.width / 40) + "px system-ui, sans-serif";
  for (const face of faces) {
    if (!face.box) continue;  // detector=none: the whole image is the face
    const [x, y, w, h] = face.box;
    context.strokeStyle = "#2fd86a";
    context.strokeRect(x, y, w, h);
    const text = (face.person ? face.person + ": " : "") + face.label + " " + face.score.toFixed(2);
    const height = parseInt(context.font, 10) + 6;
    context.fillStyle = "rgba(0, 0, 0, 0.6)";
    context.fillRect(x, Math.max(0, y - height), context.measureText(text).width + 8, height);
    context.fillStyle = "#fff";
    context.fillText(text, x + 4, Math.max(0, y - height) + height - 6);
  }
}

function largest(faces) {
  let best = null;
  for (const face of faces) {
    const area = face.box ? face.box[2] * face.box[3] : Infinity;
    if (best === null || area > best.area) best = { face, area };
  }
  return best ? best.face : null;
}

function makeBars() {
  const bars = $("bars");
  bars.replaceChildren();
  for (const label of labels) {
    const bar = document.createElement("div");
    bar.className = "bar";
    bar.dataset.label = label;
    bar.dataset.p = "0.000";
    const name = document.createElement("span");
    name.textContent = label;
    const track = document.createElement("span");
    track.className = "track";
    const fill = document.createElement("span");
    fill.className = "fill";
    track.appendChild(fill);
    const value = document.createElement("span");
    value.className = "value";
    value.textContent = "0.000";
    bar.append(name, track, value);
    bars.appendChild(bar);
  }
}

function showLargest(faces) {
  const face = largest(faces);
  $("label").textContent = face ? face.label : "none";
  for (const bar of $("bars").children) {
    const p = face ? face.probs[bar.dataset.label] : 0;
    bar.dataset.p = p.toFixed(3);
    bar.querySelector(".fill").style.width = (100 * p).toFixed(1) + "%";
    bar.querySelector(".value").textContent = p.toFixed(3);
  }
}

// --- people: each person's top label over the last minute, one strip each (window.ferState.people) ---

function rememberPeople(faces, now) {
  const people = window.ferState.people;
  for (const face of faces) {
    if (!face.person) continue;
    (people[face.person] = people[face.person] || []).push({ t: now, label: face.label });
  }
  for (const person of Object.keys(people)) {
    people[person] = people[person].filter((seen) => now - seen.t <= PEOPLE_WINDOW_MS);
    if (!people[person].length) delete people[person];
  }
  drawPeople(now);
}

function drawPeople(now) {
  const list = $("people");
  const people = window.ferState.people;
  for (const row of [...list.children]) {  // people not seen for a minute leave the list
    if (!(row.dataset.person in people)) row.remove();
  }
  for (const person of Object.keys(people).sort()) {
    let row = list.querySelector(`[data-person="${CSS.escape(person)}"]`);
    if (!row) {
      row = document.createElement("div");
      row.className = "person";
      row.dataset.person = person;
      const name = document.createElement("span");
      name.textContent = person;
      const strip = document.createElement("canvas");
      strip.width = 300;
      strip.height = 14;
      row.append(name, strip);
      list.appendChild(row);
    }
    const seen = people[person];
    row.dataset.label = seen[seen.length - 1].label;
    const strip = row.querySelector("canvas");
    const context = strip.getContext("2d");
    context.clearRect(0, 0, strip.width, strip.height);
    for (let i = 0; i < seen.length; i++) {  // each sighting lasts until the next (at most half a second)
      const end = i + 1 < seen.length ? Math.min(seen[i + 1].t, seen[i].t + 500) : seen[i].t + 100;
      const x0 = strip.width * (1 - (now - seen[i].t) / PEOPLE_WINDOW_MS);
      const x1 = strip.width * (1 - (now - end) / PEOPLE_WINDOW_MS);
      context.fillStyle = LABEL_COLOURS[labels.indexOf(seen[i].label)] || "#000";
      context.fillRect(x0, 0, Math.max(1, x1 - x0), strip.height);
    }
  }
}

function makeLegend() {
  const legend = $("people-legend");
  legend.replaceChildren();
  labels.forEach((label, i) => {
    const key = document.createElement("span");
    key.style.borderLeft = "0.8rem solid " + LABEL_COLOURS[i];
    key.textContent = " " + label;
    legend.appendChild(key);
  });
}

// --- an image: dropped or chosen, sent to /v1/predict, drawn with its faces ---

async function predictImage(file) {
  setStatus("sending " + file.name);
  const form = new FormData();
  form.append("image", file, file.name);
  let response;
  try {
    response = await fetch("/v1/predict", { method: "POST", body: form, headers: authHeaders() });
  } catch (err) {
    setStatus("error: the server cannot be reached");
    return;
  }
  if (!response.ok) {
    setStatus("error: " + (await errorText(response)));
    return;
  }
  const answer = await response.json();
  window.ferState.still = answer;
  const image = await createImageBitmap(file);
  const canvas = $("still");
  canvas.width = image.width;
  canvas.height = image.height;
  drawBoxes(canvas, answer.faces, image);
  const list = $("still-faces");
  list.replaceChildren();
  for (const face of answer.faces) {
    const item = document.createElement("li");
    item.textContent = (face.person ? face.person + ": " : "") + face.label + " " + face.score.toFixed(3);
    list.appendChild(item);
  }
  if (!streaming) showLargest(answer.faces);  // the live video's answers own the bars while it runs
  setStatus((streaming ? "streaming; " : "") + "image: " + answer.faces.length + " face(s)");
}

$("file").addEventListener("change", () => {
  if ($("file").files.length) predictImage($("file").files[0]);
});
const drop = $("drop");
drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  if (event.dataTransfer.files.length) predictImage(event.dataTransfer.files[0]);
});

// --- calibration to the person in front of the camera: the guided capture, the fit, before and after ---

// neutral first: it is the easiest to hold, and the one a person's other expressions are read against
const CALIBRATION_ORDER = ["neutral", "happy", "surprise", "sad", "anger", "disgust", "fear"];
const FRAMES_PER_EXPRESSION = 5;
// the length of one second of the guide (a 3 s countdown, then 2 s of capture); ?calibrate_ms= shortens it
const GUIDE_SECOND_MS = Number(new URLSearchParams(location.search).get("calibrate_ms")) || 1000;
let profileJson = null;

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function grabFrame() {
  const canvas = document.createElement("canvas");
  canvas.width = WIDTH;
  canvas.height = HEIGHT;
  canvas.getContext("2d").drawImage($("video"), 0, 0, WIDTH, HEIGHT);
  return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.9));
}

async function calibrate() {
  if (!streaming) {
    setStatus("error: calibration needs the camera's stream");
    return;
  }
  $("calibrate").disabled = true;
  const form = new FormData();
  try {
    for (const label of CALIBRATION_ORDER) {
      for (let second = 3; second > 0; second -= 1) {
        $("calibrate-prompt").textContent = "Show: " + label + " in " + second;
        await sleep(GUIDE_SECOND_MS);
      }
      $("calibrate-prompt").textContent = "Show: " + label + " (hold it)";
      for (let i = 0; i < FRAMES_PER_EXPRESSION; i += 1) {
        const blob = await grabFrame();
        if (blob) form.append(label, blob, label + i + ".jpg");
        await sleep((2 * GUIDE_SECOND_MS) / FRAMES_PER_EXPRESSION);
      }
    }
    $("calibrate-prompt").textContent = "Fitting to your face...";
    const response = await fetch("/v1/profile", { method: "POST", body: form, headers: authHeaders() });
    if (!response.ok) {
      $("calibrate-prompt").textContent = "Calibration failed: " + (await errorText(response));
      return;
    }
    profileJson = await response.json();
    window.ferState.calibration = { counts: profileJson.counts, fit: profileJson.fit };
    useProfile(profileJson);
    $("calibrate-prompt").textContent = "Done: the model now reads your face with your profile.";
  } catch (err) {
    $("calibrate-prompt").textContent = "Calibration failed: " + err;
  } finally {
    $("calibrate").disabled = false;
  }
}

function useProfile(profile) {
  if (socket && socket.readyState === WebSocket.OPEN) {
    socket.send(JSON.stringify({ type: "profile", profile }));
  }
  const link = $("profile-download");
  if (profile) {
    if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(new Blob([JSON.stringify(profile)], { type: "application/json" }));
    link.hidden = false;
  } else {
    link.hidden = true;
  }
}

// the server's answer to a profile message: the profile in use on this connection (null: the service's)
function profileApplied(description) {
  window.ferState.profile = description;
  $("profile-name").textContent = description || "none";
  $("calibrate-result").hidden = false;
  const rows = $("calibrate-compare");
  rows.replaceChildren();
  const fit = description && profileJson && profileJson.fit ? profileJson.fit.shown_probability : null;
  for (const label of Object.keys(fit || {})) {  // the captured faces, read without and with the profile
    const row = document.createElement("tr");
    for (const value of [label, fit[label][0].toFixed(3), fit[label][1].toFixed(3)]) {
      const cell = document.createElement("td");
      cell.textContent = value;
      row.appendChild(cell);
    }
    rows.appendChild(row);
  }
}

$("calibrate").addEventListener("click", calibrate);
$("profile-clear").addEventListener("click", () => {
  window.ferState.calibration = null;
  useProfile(null);
});
$("profile-file").addEventListener("change", async () => {
  const file = $("profile-file").files[0];
  if (!file) return;
  try {
    profileJson = JSON.parse(await file.text());
  } catch (err) {
    setStatus("error: " + file.name + " is not a profile (JSON)");
    return;
  }
  useProfile(profileJson);
});

makeBars();
start();
