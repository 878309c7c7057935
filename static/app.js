"use strict";

// Pen width as a share of the canvas width: a digit drawn across the middle of the pad then has
// strokes about as thick, relative to its height, as MNIST's pen strokes.
const PEN_WIDTH_SHARE = 1 / 14;
// The server brings the digit down to 20 pixels; a copy of the drawing four times MNIST's 28
// pixels keeps all the detail it needs (drawn digits were recognised as surely as from a copy
// six times the size) and decodes many times faster than a full canvas.
const SENT_SIZE = 112;
const INK = "#000";
const PAPER = "#fff";

const percentFormat = new Intl.NumberFormat("en", { style: "percent", maximumFractionDigits: 1 });

const body = document.body;
const canvas = document.getElementById("pad-canvas");
const context = canvas.getContext("2d");
const undoButton = document.getElementById("undo-button");
const clearButton = document.getElementById("clear-button");
const uploadInput = document.getElementById("upload-input");
const predictionText = document.getElementById("prediction");
const confidenceText = document.getElementById("confidence");
const statusText = document.getElementById("status");
const announcer = document.getElementById("announcer");
const modelInputImage = document.getElementById("model-input");
const modelVersionText = document.getElementById("model-version");
const probabilityRows = Array.from(document.querySelectorAll(".probability"));

// Strokes are kept as points in fractions of the canvas size, so they can be redrawn after
// Undo and at any new size when the canvas is resized.
let strokes = [];
let padSize = 0; // The canvas's width and height in CSS pixels.
let activeStroke = null;
let activePointerId = null;

let latestRequestNumber = 0;
let inFlightRequest = null;
let shownModelVersion = null;

// ---------------------------------------------------------------------------------------------
// Drawing
// ---------------------------------------------------------------------------------------------

// The backing store has one pixel per device pixel, so strokes stay sharp on high-DPI screens.
function fitCanvasToDisplay() {
  const displaySize = canvas.getBoundingClientRect().width;
  const backingSize = Math.round(displaySize * (window.devicePixelRatio || 1));
  if (backingSize === 0 || (displaySize === padSize && canvas.width === backingSize)) {
    return;
  }
  padSize = displaySize;
  canvas.width = backingSize;
  canvas.height = backingSize;
  redraw();
}

function preparePen() {
  const scale = canvas.width / padSize;
  context.setTransform(scale, 0, 0, scale, 0, 0);
  context.lineCap = "round";
  context.lineJoin = "round";
  context.lineWidth = padSize * PEN_WIDTH_SHARE;
  context.strokeStyle = INK;
  context.fillStyle = INK;
}

function paintPaper() {
  context.setTransform(1, 0, 0, 1, 0, 0);
  context.fillStyle = PAPER;
  context.fillRect(0, 0, canvas.width, canvas.height);
}

function redraw() {
  paintPaper();
  preparePen();
  for (const stroke of strokes) {
    drawStroke(stroke);
  }
}

// The pen runs through the midpoints between samples, bending towards each sample, so a quick
// stroke with samples far apart still comes out round instead of as a polygon.
function drawStroke(stroke) {
  if (stroke.length === 1) {
    drawDot(stroke[0]);
    return;
  }
  const points = stroke.map((point) => ({ x: point.x * padSize, y: point.y * padSize }));
  context.beginPath();
  context.moveTo(points[0].x, points[0].y);
  for (let index = 1; index < points.length - 1; index += 1) {
    const control = points[index];
    const next = points[index + 1];
    const midX = (control.x + next.x) / 2;
    const midY = (control.y + next.y) / 2;
    context.quadraticCurveTo(control.x, control.y, midX, midY);
  }
  const last = points[points.length - 1];
  context.lineTo(last.x, last.y);
  context.stroke();
}

// A tap leaves a round dot, which a zero-length path would not draw.
function drawDot(point) {
  context.beginPath();
  context.arc(point.x * padSize, point.y * padSize, context.lineWidth / 2, 0, 2 * Math.PI);
  context.fill();
}

function pointOf(event) {
  const rect = canvas.getBoundingClientRect();
  return {
    x: (event.clientX - rect.left) / rect.width,
    y: (event.clientY - rect.top) / rect.height,
  };
}

function onPointerDown(event) {
  if (activeStroke !== null || (event.pointerType === "mouse" && event.button !== 0)) {
    return;
  }
  event.preventDefault();
  canvas.setPointerCapture(event.pointerId);
  activePointerId = event.pointerId;
  activeStroke = [pointOf(event)];
  strokes.push(activeStroke);
  redraw();
  updateUndoButton();
}

function onPointerMove(event) {
  if (event.pointerId !== activePointerId) {
    return;
  }
  // Coalesced events carry the points the browser merged into this one.
  const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
  for (const sample of events.length > 0 ? events : [event]) {
    activeStroke.push(pointOf(sample));
  }
  // Redrawing everything, rather than adding the new piece, keeps the live ink identical to
  // what Undo and resizing redraw; a few strokes take well under a millisecond.
  redraw();
}

function onPointerEnd(event) {
  if (event.pointerId !== activePointerId) {
    return;
  }
  activeStroke = null;
  activePointerId = null;
  predictDrawing();
}

function clearPad() {
  strokes = [];
  activeStroke = null;
  activePointerId = null;
  redraw();
  updateUndoButton();
  cancelRequest();
  showIdle("No digit drawn yet.");
}

function undoStroke() {
  if (strokes.length === 0 || activeStroke !== null) {
    return;
  }
  strokes.pop();
  redraw();
  updateUndoButton();
  if (strokes.length > 0) {
    predictDrawing();
  } else {
    cancelRequest();
    showIdle("No digit drawn yet.");
  }
}

function updateUndoButton() {
  undoButton.disabled = strokes.length === 0;
}

// ---------------------------------------------------------------------------------------------
// Asking the server
// ---------------------------------------------------------------------------------------------

function drawingAsDataUrl() {
  if (canvas.width <= SENT_SIZE) {
    return canvas.toDataURL("image/png");
  }
  const copy = document.createElement("canvas");
  copy.width = SENT_SIZE;
  copy.height = SENT_SIZE;
  const copyContext = copy.getContext("2d");
  copyContext.imageSmoothingQuality = "high";
  copyContext.drawImage(canvas, 0, 0, SENT_SIZE, SENT_SIZE);
  return copy.toDataURL("image/png");
}

function predictDrawing() {
  requestPrediction({
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ image: drawingAsDataUrl() }),
  }, null);
}

function predictUpload(file) {
  strokes = [];
  redraw();
  updateUndoButton();
  const form = new FormData();
  form.append("file", file);
  requestPrediction({ body: form }, file.name);
}

function cancelRequest() {
  latestRequestNumber += 1;
  if (inFlightRequest !== null) {
    inFlightRequest.abort();
    inFlightRequest = null;
  }
}

// Only the answer to the newest request is shown: older requests are aborted, and an answer
// that still arrives for one of them is recognised by its number and dropped.
async function requestPrediction(options, uploadName) {
  cancelRequest();
  const requestNumber = latestRequestNumber;
  const controller = new AbortController();
  inFlightRequest = controller;
  body.dataset.state = "pending";
  setStatus("Reading the digit…");

  let response;
  let answer;
  try {
    response = await fetch("/predict/", { method: "POST", signal: controller.signal, ...options });
    answer = await readJson(response);
  } catch {
    // An aborted request has already been replaced by a newer one or by a cleared pad.
    if (requestNumber === latestRequestNumber) {
      showError("Cannot reach the server. Check your connection and try again.");
    }
    return;
  }
  if (requestNumber !== latestRequestNumber) {
    return;
  }
  inFlightRequest = null;
  if (!response.ok) {
    showError(errorMessage(response, answer));
  } else if (answer === null || !("digit" in answer)) {
    showError("The server sent an answer this page does not understand.");
  } else {
    showAnswer(answer, uploadName);
  }
}

async function readJson(response) {
  try {
    return await response.json();
  } catch (error) {
    if (error.name === "AbortError") {
      throw error;
    }
    return null;
  }
}

function errorMessage(response, answer) {
  const message = answer && answer.error && answer.error.message;
  if (message) {
    return message;
  }
  const status = `${response.status} ${response.statusText}`.trim();
  return `The server could not read the digit (HTTP ${status}).`;
}

// ---------------------------------------------------------------------------------------------
// Showing the answer
// ---------------------------------------------------------------------------------------------

function showAnswer(answer, uploadName) {
  showModelVersion(answer.model_version);
  const source = uploadName === null ? "" : `Result for the uploaded image “${uploadName}”. `;
  if (answer.digit === null) {
    resetResult();
    const reason = answer.reason || "No digit found.";
    body.dataset.state = "done";
    setStatus(source + capitalise(reason), "warning");
    announce(capitalise(reason));
    return;
  }

  predictionText.textContent = String(answer.digit);
  confidenceText.textContent = `${formatPercent(answer.confidence)} confident`;
  showProbabilities(answer.probabilities, answer.digit);
  showModelInput(answer.input_image);

  let verdict = "";
  if (answer.unsure) {
    const [first, second] = topTwo(answer.probabilities, answer.digit);
    verdict = `Not sure — it might be ${first} or ${second}.`;
  }
  body.dataset.state = "done";
  setStatus(source + verdict, answer.unsure ? "warning" : "");
  announce(`Predicted ${answer.digit}, ${formatPercent(answer.confidence)} confident. ${verdict}`.trim());
}

function topTwo(probabilities, digit) {
  if (!Array.isArray(probabilities)) {
    return [digit, "something else"];
  }
  const ranked = probabilities
    .map((probability, index) => ({ probability, index }))
    .sort((a, b) => b.probability - a.probability);
  return [ranked[0].index, ranked[1].index];
}

function showProbabilities(probabilities, digit) {
  probabilityRows.forEach((row, index) => {
    const probability = Array.isArray(probabilities) ? probabilities[index] : null;
    const fill = row.querySelector(".probability-fill");
    const value = row.querySelector(".probability-value");
    row.classList.toggle("is-winner", probability !== null && index === digit);
    fill.style.width = probability === null ? "0" : `${(probability * 100).toFixed(2)}%`;
    value.textContent = probability === null ? "–" : formatPercent(probability);
  });
}

function showModelInput(dataUrl) {
  if (dataUrl) {
    modelInputImage.src = dataUrl;
    modelInputImage.hidden = false;
  } else {
    modelInputImage.removeAttribute("src");
    modelInputImage.hidden = true;
  }
}

function resetResult() {
  predictionText.textContent = "";
  confidenceText.textContent = "";
  showProbabilities(null, null);
  showModelInput(null);
}

function showIdle(message) {
  resetResult();
  body.dataset.state = "idle";
  setStatus(message);
}

function showError(message) {
  inFlightRequest = null;
  resetResult();
  body.dataset.state = "error";
  setStatus(message, "error");
  announce(message);
}

function setStatus(message, tone = "") {
  statusText.textContent = message;
  statusText.dataset.tone = tone;
}

function announce(message) {
  announcer.textContent = message;
}

// Rounding would turn 0.9996 into "100%", a certainty the model does not claim.
function formatPercent(probability) {
  if (probability >= 0.9995 && probability < 1) {
    return ">99.9%";
  }
  return percentFormat.format(probability);
}

function capitalise(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

// Predictions name the model that made them; the server may have loaded a newer one since the
// page asked /api/model, and then the old model's accuracy no longer applies.
function showModelVersion(version, info = null) {
  if (!version || (version === shownModelVersion && info === null)) {
    return;
  }
  shownModelVersion = version;
  const figures = [];
  if (info && typeof info.test_accuracy === "number") {
    figures.push(`${formatPercent(info.test_accuracy)} accurate on the MNIST test set`);
  }
  if (info && typeof info.validation_writers_accuracy === "number") {
    figures.push(`${formatPercent(info.validation_writers_accuracy)} on pen digits by people it never saw`);
  }
  modelVersionText.textContent = [`Model ${version}`, ...figures].join(" · ");
}

async function loadModelInfo() {
  try {
    const response = await fetch("/api/model");
    if (!response.ok) {
      return;
    }
    const info = await response.json();
    showModelVersion(info.version, info);
  } catch {
    // The footer keeps saying the version is unknown; predictions still report it.
  }
}

// ---------------------------------------------------------------------------------------------
// Wiring
// ---------------------------------------------------------------------------------------------

function onKeyDown(event) {
  const commandKey = event.ctrlKey || event.metaKey;
  if (commandKey && !event.shiftKey && !event.altKey && event.key.toLowerCase() === "z") {
    event.preventDefault();
    undoStroke();
  } else if ((event.key === "Escape" || event.key === "Delete") && !commandKey && !event.altKey) {
    clearPad();
  }
}

canvas.addEventListener("pointerdown", onPointerDown);
canvas.addEventListener("pointermove", onPointerMove);
canvas.addEventListener("pointerup", onPointerEnd);
canvas.addEventListener("pointercancel", onPointerEnd);
undoButton.addEventListener("click", undoStroke);
clearButton.addEventListener("click", clearPad);
uploadInput.addEventListener("change", () => {
  const file = uploadInput.files[0];
  // Emptied so that choosing the same file again is a change too.
  uploadInput.value = "";
  if (file) {
    predictUpload(file);
  }
});
document.addEventListener("keydown", onKeyDown);

// "resize" also fires when zooming changes devicePixelRatio, which ResizeObserver misses.
new ResizeObserver(fitCanvasToDisplay).observe(canvas);
window.addEventListener("resize", fitCanvasToDisplay);

fitCanvasToDisplay();
loadModelInfo();
