"use strict";

// Pen width as a share of the pad's height (on the square digit pad, its width too): a digit
// drawn across the middle of the pad then has strokes about as thick, relative to its height, as
// MNIST's pen strokes. The number pad keeps the pen, so its digits are written like lone ones.
const PEN_WIDTH_SHARE = 1 / 14;
// The server brings the digit down to 20 pixels; a copy of the drawing four times MNIST's 28
// pixels keeps all the detail it needs (drawn digits were recognised as surely as from a copy
// six times the size) and decodes many times faster than a full canvas. The number pad's copy
// is this high too, and NUMBER_PAD_ASPECT times as wide.
const SENT_SIZE = 112;
// Number mode's pad is this many times as wide as it is high: room for five or six digits
// written at the size of one on the square pad. handwriting/numbers.py has the same constant
// (the numbers the reader is measured on are composed on a pad of this shape), and so does
// style.css, which sizes the pad.
const NUMBER_PAD_ASPECT = 3;
const DIGIT_MODE = "digit";
const NUMBER_MODE = "number";
// The URL's hash in Number mode, so that a link can open the page in it.
const NUMBER_MODE_HASH = "#number";
const PREDICT_URL = "/predict/";
const PREDICT_NUMBER_URL = "/predict/number";
// A correction in Number mode posts the digit's ink alone: the sent image cut to the digit's
// box, with this many pixels of it around the box (on white beyond the image's edge). The box
// holds the ink the server found; the margin keeps the faint anti-aliased edge of the pen that
// it left out, as the page would send a lone digit with paper around it.
const DIGIT_CROP_MARGIN = 4;
// A press on a digit's box that lifts before moving this many CSS pixels is a tap that points at
// the digit rather than a stroke: about the wobble of a fingertip that means to stay put.
const TAP_SLOP_PX = 8;
// How near a digit's box a tap (or the mouse) may be and still point at it, as a share of the
// pad's height: the box of a 1 is a few pixels wide, narrower than a fingertip.
const TAP_REACH_SHARE = 0.06;
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

// What the page says and how it asks, in each mode.
const MODES = {
  [DIGIT_MODE]: {
    aspect: 1,
    url: PREDICT_URL,
    hint: "Draw a digit 0–9",
    padLabel: drawingAreaLabel("Draw one digit from 0 to 9 with a mouse, finger or pen; the prediction "
      + "follows as you draw and is final when you lift the pen."),
    idle: "No digit drawn yet.",
    reading: "Reading the digit…",
    failure: "The server could not read the digit",
  },
  [NUMBER_MODE]: {
    aspect: NUMBER_PAD_ASPECT,
    url: PREDICT_NUMBER_URL,
    hint: "Write a number",
    padLabel: drawingAreaLabel("Write a number, its digits side by side, with a mouse, finger or pen; "
      + "it is read each time you lift the pen. Tap a digit's box to choose that digit."),
    idle: "No number written yet.",
    reading: "Reading the number…",
    failure: "The server could not read the number",
  },
};

function drawingAreaLabel(how) {
  return `Drawing area. ${how} Or upload an image below.`;
}

const percentFormat = new Intl.NumberFormat("en", { style: "percent", maximumFractionDigits: 1 });

const body = document.body;
const hintText = document.getElementById("hint");
const modeButtons = Array.from(document.querySelectorAll(".mode-button"));
const canvas = document.getElementById("pad-canvas");
const digitBoxes = document.getElementById("digit-boxes");
const context = canvas.getContext("2d");
const undoButton = document.getElementById("undo-button");
const clearButton = document.getElementById("clear-button");
const uploadInput = document.getElementById("upload-input");
const predictionText = document.getElementById("prediction");
const numberView = document.getElementById("number-read");
const confidenceText = document.getElementById("confidence");
const statusText = document.getElementById("status");
const announcer = document.getElementById("announcer");
const modelInputImage = document.getElementById("model-input");
const modelVersionText = document.getElementById("model-version");
const probabilityRows = Array.from(document.querySelectorAll(".probability"));
const correctionsBox = document.getElementById("corrections");
const correctionTarget = document.getElementById("correction-target");
const rightButton = document.getElementById("right-button");
const digitButtons = Array.from(document.querySelectorAll(".correction-digit"));
const correctionStatus = document.getElementById("correction-status");

let mode = DIGIT_MODE;

// Strokes are kept as points in units of the pad's height (x from 0 to the pad's aspect, y from
// 0 to 1), so they can be redrawn after Undo and at any new size when the canvas is resized, the
// same way on the square pad and on the wide one.
let strokes = [];
let padWidth = 0; // The canvas's size in CSS pixels.
let padHeight = 0;
let activeStroke = null;
let activePointerId = null;
// A press on a digit's box that may yet be a tap: { pointerId, point, clientX, clientY, index }.
let pendingTap = null;

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
// file, chosen, saved, sending, queued, status } (image: the data URL sent for it; file: the
// upload; status: what was last said about saving it). In Number mode, the selected digit's.
let correctable = null;

// The number on show in Number mode, or null: { digits, imageWidth, imageHeight, onPad,
// selected, pointed }. Each digit is the server's reading of it with `correctable` added (null
// where its ink could not be cut out); the image's size is the sent image's, whose pixels the
// boxes are in; onPad: the boxes belong to the ink on the pad (not to an upload); selected: the
// digit the corrections apply to; pointed: the digit under the mouse, shown while it is there.
let shownNumber = null;

// ---------------------------------------------------------------------------------------------
// Drawing
// ---------------------------------------------------------------------------------------------

// The backing store has one pixel per device pixel, so strokes stay sharp on high-DPI screens.
function fitCanvasToDisplay() {
  const rect = canvas.getBoundingClientRect();
  const ratio = window.devicePixelRatio || 1;
  const backingWidth = Math.round(rect.width * ratio);
  const backingHeight = Math.round(rect.height * ratio);
  if (backingWidth === 0 || backingHeight === 0
      || (rect.width === padWidth && rect.height === padHeight
          && canvas.width === backingWidth && canvas.height === backingHeight)) {
    return;
  }
  padWidth = rect.width;
  padHeight = rect.height;
  canvas.width = backingWidth;
  canvas.height = backingHeight;
  redraw();
}

function preparePen() {
  context.setTransform(canvas.width / padWidth, 0, 0, canvas.height / padHeight, 0, 0);
  context.lineCap = "round";
  context.lineJoin = "round";
  context.lineWidth = padHeight * PEN_WIDTH_SHARE;
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
  const points = stroke.map((point) => ({ x: point.x * padHeight, y: point.y * padHeight }));
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
  context.arc(point.x * padHeight, point.y * padHeight, context.lineWidth / 2, 0, 2 * Math.PI);
  context.fill();
}

// In units of the pad's height, as strokes are kept.
function pointOf(event) {
  const rect = canvas.getBoundingClientRect();
  return {
    x: (event.clientX - rect.left) / rect.height,
    y: (event.clientY - rect.top) / rect.height,
  };
}

function onPointerDown(event) {
  if (activeStroke !== null || pendingTap !== null
      || (event.pointerType === "mouse" && event.button !== 0)) {
    return;
  }
  event.preventDefault();
  canvas.setPointerCapture(event.pointerId);
  const point = pointOf(event);
  const index = digitNear(point);
  if (index !== null) {
    // Pointing at a digit of the number, or starting a stroke there (the second stroke of a 4):
    // which one, the pointer's next moves tell.
    pendingTap = {
      pointerId: event.pointerId, point, clientX: event.clientX, clientY: event.clientY, index,
    };
    return;
  }
  startStroke(event.pointerId, point);
}

function startStroke(pointerId, point) {
  activePointerId = pointerId;
  activeStroke = [point];
  strokes.push(activeStroke);
  inkVersion += 1;
  redraw();
  updateUndoButton();
  startLiveAnswers();
}

function onPointerMove(event) {
  if (pendingTap !== null && event.pointerId === pendingTap.pointerId) {
    const moved = Math.hypot(event.clientX - pendingTap.clientX, event.clientY - pendingTap.clientY);
    if (moved < TAP_SLOP_PX) {
      return;
    }
    startStroke(pendingTap.pointerId, pendingTap.point);
    pendingTap = null;
  }
  if (event.pointerId !== activePointerId) {
    // A mouse, or a pen held above the screen, points at the digit it is over; a finger only
    // touches.
    if (activePointerId === null && event.pointerType !== "touch") {
      pointAtDigit(digitNear(pointOf(event)));
    }
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
  if (pendingTap !== null && event.pointerId === pendingTap.pointerId) {
    const { index } = pendingTap;
    pendingTap = null;
    if (event.type === "pointerup") {
      selectDigit(index);
    }
    return;
  }
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
  pendingTap = null;
  stopLiveAnswers();
  redraw();
  updateUndoButton();
  cancelRequest();
  showIdle(MODES[mode].idle);
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
    showIdle(MODES[mode].idle);
  }
}

function updateUndoButton() {
  undoButton.disabled = strokes.length === 0;
}

// ---------------------------------------------------------------------------------------------
// Asking the server
// ---------------------------------------------------------------------------------------------

// The drawing as it is sent: SENT_SIZE pixels high (the pad's own pixels where it has fewer),
// as wide as the pad's shape makes it. The copy is kept with the request, so that a number's
// digits are cut out of the very pixels the server read, whatever the pad does meanwhile.
function drawingAsSent() {
  const copy = document.createElement("canvas");
  if (canvas.height <= SENT_SIZE) {
    copy.width = canvas.width;
    copy.height = canvas.height;
  } else {
    copy.width = Math.round(MODES[mode].aspect * SENT_SIZE);
    copy.height = SENT_SIZE;
  }
  const copyContext = copy.getContext("2d");
  copyContext.imageSmoothingQuality = "high";
  copyContext.drawImage(canvas, 0, 0, copy.width, copy.height);
  return { image: copy.toDataURL("image/png"), copy };
}

// A drawing or an upload to ask about: { image, copy, file, live, mode } (image: the drawing's
// data URL, copy: the canvas it was made from, file: the uploaded file, live: asked while the
// pen is still down, mode: the mode it was asked in).
function predictDrawing() {
  requestPrediction({ ...drawingAsSent(), file: null, live: false, mode });
}

function predictUpload(file) {
  strokes = [];
  redraw();
  updateUndoButton();
  requestPrediction({ image: null, copy: null, file, live: false, mode });
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
    setStatus(MODES[drawing.mode].reading);
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
  const asked = MODES[drawing.mode];
  let response;
  let answer;
  try {
    response = await fetch(asked.url, { method: "POST", signal, ...predictionOptions(drawing) });
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
    answerFailed(drawing, errorMessage(response, answer, asked.failure));
  } else if (!understood(answer, drawing.mode)) {
    answerFailed(drawing, "The server sent an answer this page does not understand.");
  } else if (drawing.mode === NUMBER_MODE) {
    const inks = await digitInks(answer.digits, drawing);
    if (requestNumber === latestRequestNumber) {
      showNumberAnswer(answer, drawing, inks);
    }
  } else if (drawing.live) {
    showLiveAnswer(answer);
  } else {
    showAnswer(answer, drawing);
  }
}

function understood(answer, askedMode) {
  if (answer === null) {
    return false;
  }
  if (askedMode === DIGIT_MODE) {
    return "digit" in answer;
  }
  return Array.isArray(answer.digits) && answer.digits.every(
    (reading) => Array.isArray(reading.box) && reading.box.length === 4,
  );
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
  if (mode === NUMBER_MODE) {
    // A number has many strokes, each answered when the pen lifts; answers while it moves would
    // cost several requests a stroke, each for a reading of half a digit.
    liveStopped = true;
    setStatus("The number is read when you lift the pen.");
    return;
  }
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
  requestPrediction({ ...drawingAsSent(), file: null, live: true, mode });
}

// ---------------------------------------------------------------------------------------------
// Showing the answer
// ---------------------------------------------------------------------------------------------

function showAnswer(answer, drawing) {
  showModelVersion(answer.model_version);
  const source = uploadSource(drawing);
  if (answer.digit === null) {
    showNothingFound(answer.reason || "No digit found.", source);
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

function uploadSource(drawing) {
  return drawing.file === null ? "" : `Result for the uploaded image “${drawing.file.name}”. `;
}

function showNothingFound(reason, source) {
  resetResult();
  body.dataset.state = "done";
  setStatus(source + capitalise(reason), "warning");
  announce(capitalise(reason));
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
  forgetNumber();
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
// Number mode: the number read, each digit's box over the ink, and the digit pointed at
// ---------------------------------------------------------------------------------------------

// Each digit's ink alone, as a PNG data URL for its correction (null for all where the image
// cannot be had): cut out once, when the answer comes, so that choosing again for a digit posts
// the same bytes and replaces the choice on the server.
async function digitInks(readings, drawing) {
  let source = drawing.copy;
  if (drawing.file !== null) {
    try {
      // Turned upright by its EXIF orientation, as the server reads it.
      source = await createImageBitmap(drawing.file);
    } catch {
      return null;
    }
  }
  return readings.map((reading) => digitInk(source, reading.box));
}

// The image cut to the box with DIGIT_CROP_MARGIN around it, on white where that is off the image.
function digitInk(source, box) {
  const [x, y, width, height] = box;
  const left = x - DIGIT_CROP_MARGIN;
  const top = y - DIGIT_CROP_MARGIN;
  const crop = document.createElement("canvas");
  crop.width = width + 2 * DIGIT_CROP_MARGIN;
  crop.height = height + 2 * DIGIT_CROP_MARGIN;
  const cropContext = crop.getContext("2d");
  cropContext.fillStyle = PAPER;
  cropContext.fillRect(0, 0, crop.width, crop.height);
  const fromX = Math.max(0, left);
  const fromY = Math.max(0, top);
  const toX = Math.min(source.width, left + crop.width);
  const toY = Math.min(source.height, top + crop.height);
  if (toX > fromX && toY > fromY) {
    cropContext.drawImage(source, fromX, fromY, toX - fromX, toY - fromY,
      fromX - left, fromY - top, toX - fromX, toY - fromY);
  }
  return crop.toDataURL("image/png");
}

function showNumberAnswer(answer, drawing, inks) {
  showModelVersion(answer.model_version);
  const source = uploadSource(drawing);
  if (answer.digits.length === 0) {
    showNothingFound(answer.reason || "No number found.", source);
    return;
  }
  const image = drawing.file === null ? drawing.copy : null;
  shownNumber = {
    digits: answer.digits.map((reading, index) => ({
      ...reading,
      correctable: inks === null ? null : newCorrectable(reading.digit, inks[index], null),
    })),
    imageWidth: image === null ? 0 : image.width,
    imageHeight: image === null ? 0 : image.height,
    onPad: image !== null,
    selected: 0,
    pointed: null,
  };
  body.dataset.state = "done";
  showNumber();
  correctionsBox.hidden = inks === null;
  selectDigit(0);

  const verdict = answer.unsure ? numberVerdict(shownNumber.digits) : "";
  const hint = "Choose a digit to see how sure the model is of it, and to correct it.";
  setStatus(source + (verdict || hint), answer.unsure ? "warning" : "");
  announce(`Read ${answer.number}. ${verdict}`.trim());
}

function numberVerdict(digits) {
  const unsure = digits
    .map((reading, index) => ({ reading, index }))
    .filter(({ reading }) => reading.unsure);
  if (unsure.length === 1) {
    const { reading, index } = unsure[0];
    const [first, second] = topTwo(reading.probabilities, reading.digit);
    return `Not sure of ${digitName(index, digits.length)} — it might be ${first} or ${second}.`;
  }
  if (unsure.length > 1) {
    const places = unsure.map(({ index }) => index + 1);
    const listed = `${places.slice(0, -1).join(", ")} and ${places[places.length - 1]}`;
    return `Not sure of digits ${listed} of ${digits.length} (dashed boxes).`;
  }
  return "Not sure of this number.";
}

function digitName(index, count) {
  return `digit ${index + 1} of ${count}`;
}

// The number in large type, a button for each digit, and each digit's box over the pad's ink.
function showNumber() {
  const { digits } = shownNumber;
  const buttons = digits.map((reading, index) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "number-digit";
    button.classList.toggle("is-unsure", reading.unsure);
    button.dataset.index = String(index);
    button.textContent = String(reading.digit);
    const sureness = reading.unsure ? ", not sure" : "";
    button.setAttribute("aria-label",
      `${capitalise(digitName(index, digits.length))}: ${reading.digit}${sureness}`);
    button.addEventListener("pointerenter", () => pointAtDigit(index));
    button.addEventListener("pointerleave", () => pointAtDigit(null));
    button.addEventListener("focus", () => selectDigit(index));
    button.addEventListener("click", () => selectDigit(index));
    return button;
  });
  numberView.replaceChildren(...buttons);

  const boxes = shownNumber.onPad ? digits.map((reading, index) => {
    const [x, y, width, height] = reading.box;
    const box = document.createElement("div");
    box.className = "digit-box";
    box.classList.toggle("is-unsure", reading.unsure);
    box.dataset.index = String(index);
    // Shares of the sent image, which covers the pad: the boxes follow the pad when it resizes.
    box.style.setProperty("--left", `${(100 * x) / shownNumber.imageWidth}%`);
    box.style.setProperty("--top", `${(100 * y) / shownNumber.imageHeight}%`);
    box.style.setProperty("--width", `${(100 * width) / shownNumber.imageWidth}%`);
    box.style.setProperty("--height", `${(100 * height) / shownNumber.imageHeight}%`);
    return box;
  }) : [];
  digitBoxes.replaceChildren(...boxes);
}

function forgetNumber() {
  shownNumber = null;
  pendingTap = null;
  numberView.replaceChildren();
  digitBoxes.replaceChildren();
  correctionTarget.hidden = true;
  correctionTarget.textContent = "";
  correctionsBox.setAttribute("aria-label", "Was the answer right?");
}

// Whether the number on show is the answer for the ink on the pad (or the upload) as it is: a
// new stroke or a request on its way leaves it shown, dimmed, until its answer replaces it.
function numberIsCurrent() {
  return shownNumber !== null && body.dataset.state === "done";
}

// The digit whose box is nearest the point (in units of the pad's height), if the point is in it
// or within TAP_REACH_SHARE of the pad's height of it.
function digitNear(point) {
  if (!numberIsCurrent() || !shownNumber.onPad) {
    return null;
  }
  // From the pad's units to the sent image's pixels.
  const x = (point.x * padHeight * shownNumber.imageWidth) / padWidth;
  const y = point.y * shownNumber.imageHeight;
  let nearest = null;
  let nearestDistance = TAP_REACH_SHARE * shownNumber.imageHeight;
  shownNumber.digits.forEach((reading, index) => {
    const [left, top, width, height] = reading.box;
    const distance = Math.hypot(
      Math.max(left - x, 0, x - (left + width)),
      Math.max(top - y, 0, y - (top + height)),
    );
    if (distance <= nearestDistance) {
      nearest = index;
      nearestDistance = distance;
    }
  });
  return nearest;
}

// The mouse over a digit (its button or its box) shows it while it stays there, without choosing
// it: on its way to the correction buttons it may cross other digits. null: the mouse left, and
// the selected digit is shown again.
function pointAtDigit(index) {
  if (!numberIsCurrent() || index === shownNumber.pointed) {
    return;
  }
  shownNumber.pointed = index;
  showDigitReading();
}

// A click, tap or focus chooses the digit that is shown and corrected until another is chosen.
function selectDigit(index) {
  if (!numberIsCurrent() || index < 0 || index >= shownNumber.digits.length) {
    return;
  }
  shownNumber.selected = index;
  const reading = shownNumber.digits[index];
  const name = digitName(index, shownNumber.digits.length);
  correctionTarget.textContent = `${capitalise(name)}, read as ${reading.digit}:`;
  correctionTarget.hidden = false;
  correctionsBox.setAttribute("aria-label", `Was ${name} right?`);
  correctable = reading.correctable;
  setCorrectionsEnabled(correctable !== null);
  showChoice(correctable === null ? null : correctable.chosen);
  const status = correctable === null ? null : correctable.status;
  setCorrectionStatus(status === null ? "" : status.message, status === null ? "" : status.tone);
  showDigitReading();
}

function showDigitReading() {
  const { digits, selected, pointed } = shownNumber;
  const shown = pointed === null ? selected : pointed;
  const reading = digits[shown];
  confidenceText.textContent = `${capitalise(digitName(shown, digits.length))}: `
    + `${formatPercent(reading.confidence)} confident`;
  showProbabilities(reading.probabilities, reading.digit);
  showModelInput(reading.input_image);
  for (const element of [...numberView.children, ...digitBoxes.children]) {
    const index = Number(element.dataset.index);
    element.classList.toggle("is-shown", index === shown);
    element.classList.toggle("is-selected", index === selected);
  }
  for (const button of numberView.children) {
    button.setAttribute("aria-pressed", String(Number(button.dataset.index) === selected));
  }
}

// Left and right arrows, Home and End move between the number's digits.
function onNumberKeyDown(event) {
  const buttons = Array.from(numberView.children);
  const at = buttons.indexOf(event.target);
  const moves = { ArrowLeft: at - 1, ArrowRight: at + 1, Home: 0, End: buttons.length - 1 };
  if (at === -1 || !(event.key in moves)) {
    return;
  }
  const next = buttons[Math.min(Math.max(moves[event.key], 0), buttons.length - 1)];
  event.preventDefault();
  next.focus();
}

// ---------------------------------------------------------------------------------------------
// Choosing the mode
// ---------------------------------------------------------------------------------------------

// Switching starts over on an empty pad: strokes on a pad of one shape mean nothing on the other.
function setMode(next, { fromUrl = false } = {}) {
  if (next === mode && body.dataset.mode === next) {
    return;
  }
  mode = next;
  body.dataset.mode = mode;
  for (const button of modeButtons) {
    button.setAttribute("aria-pressed", String(button.dataset.mode === mode));
  }
  hintText.textContent = MODES[mode].hint;
  canvas.setAttribute("aria-label", MODES[mode].padLabel);
  if (!fromUrl) {
    const hash = mode === NUMBER_MODE ? NUMBER_MODE_HASH : "";
    history.replaceState(history.state, "", `${location.pathname}${location.search}${hash}`);
  }
  clearPad();
  fitCanvasToDisplay();
}

function modeOfUrl() {
  return location.hash === NUMBER_MODE_HASH ? NUMBER_MODE : DIGIT_MODE;
}

// ---------------------------------------------------------------------------------------------
// Corrections: the person says which digit the drawing really is
// ---------------------------------------------------------------------------------------------

function offerCorrections(digit, drawing) {
  correctable = newCorrectable(digit, drawing.image, drawing.file);
  setCorrectionsEnabled(true);
  showChoice(null);
  setCorrectionStatus("");
}

function newCorrectable(digit, image, file) {
  return {
    digit, image, file, chosen: null, saved: null, sending: false, queued: null, status: null,
  };
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
  answer.status = { message: "Saving…", tone: "" };
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
    const what = choice.kind === "right" ? `${choice.label} is right` : `it was ${choice.label}`;
    const replaced = reply.stored === "replaced" ? " (replaces your earlier choice)" : "";
    answer.status = { message: `Saved: ${what}${replaced}.`, tone: "saved" };
  } else {
    // The buttons go back to what the server has kept.
    answer.chosen = answer.saved;
    answer.status = { message: problem, tone: "error" };
  }
  // In Number mode another digit may be selected by now; this one's status is shown when it is
  // selected again.
  if (answer !== correctable) {
    return;
  }
  showChoice(answer.chosen);
  setCorrectionStatus(answer.status.message, answer.status.tone);
  announce(answer.status.message);
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
canvas.addEventListener("pointerleave", (event) => {
  if (event.pointerType !== "touch") {
    pointAtDigit(null);
  }
});
numberView.addEventListener("keydown", onNumberKeyDown);
for (const button of modeButtons) {
  button.addEventListener("click", () => setMode(button.dataset.mode));
}
// A link to #number, or the hash edited by hand.
window.addEventListener("hashchange", () => setMode(modeOfUrl(), { fromUrl: true }));
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

setMode(modeOfUrl(), { fromUrl: true });
fitCanvasToDisplay();
loadModelInfo();
