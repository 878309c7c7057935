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
// While the pen moves, the drawing so far is sent at most once every quarter second, and only
// when the request before it has been answered. Four answers a second is enough for the digit to
// follow the stroke, and a digit drawn in about a second then costs a handful of requests (one
// more for each stroke, when the pen lifts), well within the server's rate limit per client
// (DIGITPAD_RATE_LIMIT) even for someone drawing digit after digit.
const LIVE_ANSWER_INTERVAL_MS = 250;
// How long the final request waits for a live one still on its way (see requestPrediction): a
// live answer takes milliseconds, or a round trip on a slow phone network; one that has not
// come in a second is stuck, and is aborted so that the final request can go.
const LIVE_ANSWER_WAIT_LIMIT_MS = 1000;
const CORRECTIONS_URL = "/api/corrections";
const DIGIT_KEY = /^[0-9]$/;
// Inputs where a typed digit is not text; in every other input it is, and is left alone.
const INPUTS_WITHOUT_TEXT = new Set([
  "button", "checkbox", "color", "file", "image", "radio", "range", "reset", "submit",
]);

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
const correctionsBox = document.getElementById("corrections");
const rightButton = document.getElementById("right-button");
const digitButtons = Array.from(document.querySelectorAll(".correction-digit"));
const correctionStatus = document.getElementById("correction-status");

// Strokes are kept as points in fractions of the canvas size, so they can be redrawn after
// Undo and at any new size when the canvas is resized.
let strokes = [];
let padSize = 0; // The canvas's width and height in CSS pixels.
let activeStroke = null;
let activePointerId = null;

let latestRequestNumber = 0;
// The request on its way, if any: { controller, live, settled }, where `settled` is a promise
// that resolves once its answer, or its failure, is in.
let inFlightRequest = null;
let shownModelVersion = null;

// Live answers: the timer that sends the next one, when it may be sent, and which ink it showed.
// inkVersion grows with every change of the ink, so unchanged ink is never sent twice.
let liveTimer = null;
let liveDueAt = 0;
let inkVersion = 0;
let liveInkVersion = -1;
let liveStopped = false;

// The final answer on show, which the correction buttons apply to, or null: { digit, image,
// file, chosen, saved, sending, queued } (image: the data URL sent for it; file: the upload).
let correctable = null;

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
  inkVersion += 1;
  redraw();
  updateUndoButton();
  startLiveAnswers();
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
  inkVersion += 1;
  // Redrawing everything, rather than adding the new piece, keeps the live ink identical to
  // what Undo and resizing redraw; a few strokes take well under a millisecond.
  redraw();
  scheduleLiveAnswer();
}

function onPointerEnd(event) {
  if (event.pointerId !== activePointerId) {
    return;
  }
  activeStroke = null;
  activePointerId = null;
  stopLiveAnswers();
  predictDrawing();
}

function clearPad() {
  strokes = [];
  activeStroke = null;
  activePointerId = null;
  stopLiveAnswers();
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

// A drawing or an upload to ask about: { image, file, live } (image: the drawing's data URL,
// file: the uploaded file, live: asked while the pen is still down).
function predictDrawing() {
  requestPrediction({ image: drawingAsDataUrl(), file: null, live: false });
}

function predictUpload(file) {
  strokes = [];
  redraw();
  updateUndoButton();
  requestPrediction({ image: null, file, live: false });
}

function predictionOptions(drawing) {
  if (drawing.file !== null) {
    const form = new FormData();
    form.append("file", drawing.file);
    return { body: form };
  }
  return {
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ image: drawing.image }),
  };
}

function cancelRequest() {
  latestRequestNumber += 1;
  abortRequest();
}

function abortRequest() {
  if (inFlightRequest !== null) {
    inFlightRequest.controller.abort();
    inFlightRequest = null;
  }
}

// Only the answer to the newest request is shown: older requests are aborted, and an answer
// that still arrives for one of them is recognised by its number and dropped.
async function requestPrediction(drawing) {
  const liveOnItsWay = !drawing.live && inFlightRequest !== null && inFlightRequest.live
    ? inFlightRequest.settled
    : null;
  if (liveOnItsWay === null) {
    cancelRequest();
  } else {
    latestRequestNumber += 1;
  }
  const requestNumber = latestRequestNumber;
  if (!drawing.live) {
    withdrawCorrections();
    body.dataset.state = "pending";
    setStatus("Reading the digit…");
  }
  if (liveOnItsWay !== null) {
    // The final request waits for a live one still on its way rather than aborting it: that
    // one was sent less than LIVE_ANSWER_INTERVAL_MS ago and is nearly answered, the server
    // never has two requests from this page at once, and an aborted request takes its HTTP/1.1
    // connection down with it, which the final request would then have to open again. The
    // live answer is dropped by its number, so it can never replace the final one.
    const answered = await settledWithin(liveOnItsWay, LIVE_ANSWER_WAIT_LIMIT_MS);
    if (requestNumber !== latestRequestNumber) {
      return;
    }
    if (!answered) {
      // Its answer is already out of date by its number; only the request itself is left.
      abortRequest();
    }
  }

  let settle;
  const request = {
    controller: new AbortController(),
    live: drawing.live,
    settled: new Promise((resolve) => { settle = resolve; }),
  };
  inFlightRequest = request;
  try {
    await fetchAnswer(drawing, requestNumber, request.controller.signal);
  } finally {
    if (inFlightRequest === request) {
      inFlightRequest = null;
    }
    settle();
    if (drawing.live) {
      scheduleLiveAnswer();
    }
  }
}

// Whether the promise settles within `milliseconds`.
function settledWithin(promise, milliseconds) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), milliseconds);
    promise.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function fetchAnswer(drawing, requestNumber, signal) {
  let response;
  let answer;
  try {
    response = await fetch("/predict/", { method: "POST", signal, ...predictionOptions(drawing) });
    answer = await readJson(response);
  } catch {
    // An aborted request has already been replaced by a newer one or by a cleared pad.
    if (requestNumber === latestRequestNumber) {
      answerFailed(drawing, "Cannot reach the server. Check your connection and try again.");
    }
    return;
  }
  if (requestNumber !== latestRequestNumber) {
    return;
  }
  if (!response.ok) {
    answerFailed(drawing, errorMessage(response, answer, "The server could not read the digit"));
  } else if (answer === null || !("digit" in answer)) {
    answerFailed(drawing, "The server sent an answer this page does not understand.");
  } else if (drawing.live) {
    showLiveAnswer(answer);
  } else {
    showAnswer(answer, drawing);
  }
}

function answerFailed(drawing, message) {
  if (drawing.live) {
    // The final request, sent when the pen lifts, says what went wrong; until then a server
    // that refuses (a rate limit, a model still loading) is not asked again four times a second.
    liveStopped = true;
  } else {
    showError(message);
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

function errorMessage(response, answer, failure) {
  const message = answer && answer.error && answer.error.message;
  if (message) {
    return message;
  }
  const status = `${response.status} ${response.statusText}`.trim();
  return `${failure} (HTTP ${status}).`;
}

// ---------------------------------------------------------------------------------------------
// Live answers while the pen moves
// ---------------------------------------------------------------------------------------------

function startLiveAnswers() {
  // Answers still on their way are for the drawing as it was before this stroke.
  cancelRequest();
  withdrawCorrections();
  body.dataset.state = "drawing";
  setStatus("Reading as you draw…");
  liveStopped = false;
  // The first live answer waits an interval too: a dot or a short dash is answered at pen up.
  liveDueAt = performance.now() + LIVE_ANSWER_INTERVAL_MS;
  scheduleLiveAnswer();
}

function stopLiveAnswers() {
  if (liveTimer !== null) {
    clearTimeout(liveTimer);
    liveTimer = null;
  }
}

// Called when the ink changes and when a live request is answered: the newest ink goes out
// once the interval is up and no request is on its way.
function scheduleLiveAnswer() {
  if (activeStroke === null || liveStopped || liveTimer !== null || inFlightRequest !== null
      || inkVersion === liveInkVersion) {
    return;
  }
  liveTimer = setTimeout(sendLiveAnswer, Math.max(0, liveDueAt - performance.now()));
}

function sendLiveAnswer() {
  liveTimer = null;
  if (activeStroke === null || inFlightRequest !== null) {
    return;
  }
  liveInkVersion = inkVersion;
  liveDueAt = performance.now() + LIVE_ANSWER_INTERVAL_MS;
  requestPrediction({ image: drawingAsDataUrl(), file: null, live: true });
}

// ---------------------------------------------------------------------------------------------
// Showing the answer
// ---------------------------------------------------------------------------------------------

function showAnswer(answer, drawing) {
  showModelVersion(answer.model_version);
  const source = drawing.file === null
    ? ""
    : `Result for the uploaded image “${drawing.file.name}”. `;
  if (answer.digit === null) {
    resetResult();
    const reason = answer.reason || "No digit found.";
    body.dataset.state = "done";
    setStatus(source + capitalise(reason), "warning");
    announce(capitalise(reason));
    return;
  }

  showReading(answer);
  offerCorrections(answer.digit, drawing);

  let verdict = "";
  if (answer.unsure) {
    const [first, second] = topTwo(answer.probabilities, answer.digit);
    verdict = `Not sure — it might be ${first} or ${second}.`;
  }
  body.dataset.state = "done";
  setStatus(source + verdict, answer.unsure ? "warning" : "");
  announce(`Predicted ${answer.digit}, ${formatPercent(answer.confidence)} confident. ${verdict}`.trim());
}

// A live answer shows the digit and its probabilities as the stroke grows, but is not announced
// (a screen reader would read out four answers a second) and cannot be corrected yet: the
// drawing is not finished.
function showLiveAnswer(answer) {
  showModelVersion(answer.model_version);
  if (answer.digit === null) {
    resetResult();
  } else {
    showReading(answer);
  }
}

function showReading(answer) {
  predictionText.textContent = String(answer.digit);
  confidenceText.textContent = `${formatPercent(answer.confidence)} confident`;
  showProbabilities(answer.probabilities, answer.digit);
  showModelInput(answer.input_image);
  correctionsBox.hidden = false;
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
    // A share, not a width: the stylesheet draws it across on wide screens and upwards on phones.
    fill.style.setProperty("--probability", probability === null ? "0" : probability.toFixed(4));
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
  withdrawCorrections();
  correctionsBox.hidden = true;
}

function showIdle(message) {
  resetResult();
  body.dataset.state = "idle";
  setStatus(message);
}

function showError(message) {
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
// Corrections: the person says which digit the drawing really is
// ---------------------------------------------------------------------------------------------

function offerCorrections(digit, drawing) {
  correctable = {
    digit,
    image: drawing.image,
    file: drawing.file,
    chosen: null,
    saved: null,
    sending: false,
    queued: null,
  };
  setCorrectionsEnabled(true);
  showChoice(null);
  setCorrectionStatus("");
}

// The drawing changed, or its answer is gone: whatever is chosen now would name another drawing.
function withdrawCorrections() {
  correctable = null;
  setCorrectionsEnabled(false);
  showChoice(null);
  setCorrectionStatus("");
}

function setCorrectionsEnabled(enabled) {
  rightButton.disabled = !enabled;
  for (const button of digitButtons) {
    button.disabled = !enabled;
  }
}

function chooseCorrection(label) {
  const answer = correctable;
  if (answer === null) {
    return;
  }
  // Naming the digit the model gave is saying it was right.
  const choice = { label, kind: label === answer.digit ? "right" : "wrong" };
  answer.chosen = choice;
  showChoice(choice);
  setCorrectionStatus("Saving…");
  if (answer.sending) {
    // One post at a time for a drawing, so the server gets the choices in the order they were
    // made and keeps the last; a choice made meanwhile goes next, replacing any before it.
    answer.queued = choice;
    return;
  }
  sendCorrection(answer, choice);
}

// The image posted is the very one the shown answer was given for (the data URL the final
// /predict/ request sent, or the uploaded file), never a new rendering of the canvas: the
// server knows a drawing again by its bytes.
function correctionOptions(answer, choice) {
  if (answer.file !== null) {
    const form = new FormData();
    form.append("file", answer.file);
    form.append("label", String(choice.label));
    form.append("kind", choice.kind);
    return { body: form };
  }
  return {
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ image: answer.image, label: choice.label, kind: choice.kind }),
  };
}

async function sendCorrection(answer, choice) {
  answer.sending = true;
  let problem = null;
  let reply = null;
  try {
    const response = await fetch(CORRECTIONS_URL, {
      method: "POST", ...correctionOptions(answer, choice),
    });
    reply = await readJson(response);
    if (!response.ok) {
      problem = errorMessage(response, reply, "The correction was not saved");
    } else if (reply === null || typeof reply.label !== "number") {
      problem = "The server sent an answer this page does not understand; "
        + "the correction may not have been saved.";
    }
  } catch {
    problem = "Cannot reach the server, so the correction was not saved. "
      + "Check your connection and try again.";
  }
  answer.sending = false;
  if (answer.queued !== null) {
    const next = answer.queued;
    answer.queued = null;
    sendCorrection(answer, next);
    return;
  }
  if (problem === null) {
    answer.saved = choice;
  }
  if (answer !== correctable) {
    return;
  }
  if (problem === null) {
    const what = choice.kind === "right" ? `${choice.label} is right` : `it was ${choice.label}`;
    const replaced = reply.stored === "replaced" ? " (replaces your earlier choice)" : "";
    const message = `Saved: ${what}${replaced}.`;
    setCorrectionStatus(message, "saved");
    announce(message);
  } else {
    // The buttons go back to what the server has kept.
    answer.chosen = answer.saved;
    showChoice(answer.saved);
    setCorrectionStatus(problem, "error");
    announce(problem);
  }
}

function showChoice(choice) {
  rightButton.setAttribute("aria-pressed", String(choice !== null && choice.kind === "right"));
  for (const button of digitButtons) {
    const pressed = choice !== null && choice.kind === "wrong"
      && Number(button.dataset.digit) === choice.label;
    button.setAttribute("aria-pressed", String(pressed));
  }
}

function setCorrectionStatus(message, tone = "") {
  correctionStatus.textContent = message;
  correctionStatus.dataset.tone = tone;
}

// ---------------------------------------------------------------------------------------------
// Wiring
// ---------------------------------------------------------------------------------------------

// A digit typed into a text field is text, not a correction.
function takesText(element) {
  if (!(element instanceof Element)) {
    return false;
  }
  if (element.isContentEditable || element.closest("textarea, select") !== null) {
    return true;
  }
  return element instanceof HTMLInputElement && !INPUTS_WITHOUT_TEXT.has(element.type);
}

function onKeyDown(event) {
  const commandKey = event.ctrlKey || event.metaKey;
  if (commandKey && !event.shiftKey && !event.altKey && event.key.toLowerCase() === "z") {
    event.preventDefault();
    undoStroke();
  } else if ((event.key === "Escape" || event.key === "Delete") && !commandKey && !event.altKey) {
    clearPad();
  } else if (DIGIT_KEY.test(event.key) && !commandKey && !event.altKey
             && correctable !== null && !takesText(event.target)) {
    event.preventDefault();
    chooseCorrection(Number(event.key));
  }
}

canvas.addEventListener("pointerdown", onPointerDown);
canvas.addEventListener("pointermove", onPointerMove);
canvas.addEventListener("pointerup", onPointerEnd);
canvas.addEventListener("pointercancel", onPointerEnd);
undoButton.addEventListener("click", undoStroke);
clearButton.addEventListener("click", clearPad);
rightButton.addEventListener("click", () => {
  if (correctable !== null) {
    chooseCorrection(correctable.digit);
  }
});
for (const button of digitButtons) {
  button.addEventListener("click", () => chooseCorrection(Number(button.dataset.digit)));
}
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
