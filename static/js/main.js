// Start-up and wiring: the mode, the pad's strokes turned into requests, the requests' answers
// shown, and the page's buttons and keys. The one script the page loads (as a module).

import { readPadConstants } from "./constants.js";
import { keyCommand } from "./keys.js";
import { createLiveAnswers } from "./live.js";
import { DIGIT_MODE, NUMBER_MODE, hashOfMode, modeOfHash, modesFor } from "./modes.js";
import { chooseCorrection, correctionsOffered, initCorrections, withdrawCorrections } from "./corrections.js";
import { digitInks, digitNear, initNumbers, pointAtDigit, selectDigit } from "./numbers.js";
import * as pad from "./pad.js";
import { setPageState, setStatus } from "./readout.js";
import { createPredictionRequests, forgetWriter } from "./requests.js";
import {
  loadModelInfo, showAnswer, showError, showIdle, showLiveAnswer, showNumberAnswer,
} from "./result.js";
import { forgottenText } from "./wording.js";

// Inputs where a typed digit is not text; in every other input it is, and is left alone.
const INPUTS_WITHOUT_TEXT = new Set([
  "button", "checkbox", "color", "file", "image", "radio", "range", "reset", "submit",
]);

const body = document.body;
const hintText = document.getElementById("hint");
const modeButtons = Array.from(document.querySelectorAll(".mode-button"));
const clearButton = document.getElementById("clear-button");
const undoButton = document.getElementById("undo-button");
const uploadInput = document.getElementById("upload-input");
const forgetButton = document.getElementById("forget-button");
const forgetStatus = document.getElementById("forget-status");

const constants = readPadConstants(body.dataset);
// The stylesheet sizes the number pad by this; it comes from model/pad.py like the rest.
document.documentElement.style.setProperty("--number-pad-aspect", String(constants.numberPadAspect));
const MODES = modesFor(constants.numberPadAspect);

let mode = DIGIT_MODE;

// The requests and the live answers each call the other: `live` is made just below, before any
// request can be sent.
const requests = createPredictionRequests({
  modes: MODES,
  asked(drawing) {
    withdrawCorrections();
    setPageState("pending");
    setStatus(MODES[drawing.mode].reading);
  },
  answered(answer, drawing, isCurrent) {
    if (drawing.mode === NUMBER_MODE) {
      return digitInks(answer.digits, drawing).then((inks) => {
        if (isCurrent()) {
          showNumberAnswer(answer, drawing, inks);
        }
      });
    }
    if (drawing.live) {
      showLiveAnswer(answer);
    } else {
      showAnswer(answer, drawing);
    }
    return undefined;
  },
  failed(drawing, message) {
    if (drawing.live) {
      // The final request, sent when the pen lifts, says what went wrong.
      live.halt();
    } else {
      showError(message);
    }
  },
  settled(drawing) {
    if (drawing.live) {
      live.schedule();
    }
  },
});

const live = createLiveAnswers({
  isDrawing: pad.isDrawing,
  inkVersion: pad.currentInkVersion,
  isBusy: requests.isBusy,
  send: () => requests.request(drawingToSend(true)),
});

// The drawing on the pad as a request: see requests.js's createPredictionRequests().
function drawingToSend(live) {
  return { ...pad.drawingAsSent(MODES[mode].aspect), file: null, live, mode };
}

function predictDrawing() {
  requests.request(drawingToSend(false));
}

function predictUpload(file) {
  pad.eraseStrokes();
  requests.request({ image: null, copy: null, file, live: false, mode });
}

function startLiveAnswers() {
  // Answers still on their way are for the drawing as it was before this stroke.
  requests.cancel();
  withdrawCorrections();
  setPageState("drawing");
  if (mode === NUMBER_MODE) {
    // A number has many strokes, each answered when the pen lifts; answers while it moves would
    // cost several requests a stroke, each for a reading of half a digit.
    live.halt();
    setStatus("The number is read when you lift the pen.");
    return;
  }
  setStatus("Reading as you draw…");
  live.start();
}

function clearPad() {
  pad.clearStrokes();
  live.cancelTimer();
  requests.cancel();
  showIdle(MODES[mode].idle);
}

function undoStroke() {
  if (!pad.undoStroke()) {
    return;
  }
  if (pad.strokesDrawn().length > 0) {
    predictDrawing();
  } else {
    requests.cancel();
    showIdle(MODES[mode].idle);
  }
}

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
  pad.setPadLabel(MODES[mode].padLabel);
  if (!fromUrl) {
    history.replaceState(history.state, "", `${location.pathname}${location.search}${hashOfMode(mode)}`);
  }
  clearPad();
  pad.fitCanvasToDisplay();
}

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
  const command = keyCommand(event);
  if (command === "undo") {
    event.preventDefault();
    undoStroke();
  } else if (command === "clear") {
    clearPad();
  } else if (command === "digit" && correctionsOffered() && !takesText(event.target)) {
    event.preventDefault();
    chooseCorrection(Number(event.key));
  }
}

pad.initPad(constants, {
  digitNear,
  tapped: selectDigit,
  pointed: pointAtDigit,
  strokeStarted: startLiveAnswers,
  inkChanged: () => live.schedule(),
  strokeEnded() {
    live.cancelTimer();
    predictDrawing();
  },
});
initNumbers();
initCorrections();
for (const button of modeButtons) {
  button.addEventListener("click", () => setMode(button.dataset.mode));
}
// A link to #number, or the hash edited by hand.
window.addEventListener("hashchange", () => setMode(modeOfHash(location.hash), { fromUrl: true }));
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
forgetButton.addEventListener("click", forgetHandwriting);

// "Forget my handwriting": one request at a time; the answer says what was deleted.
async function forgetHandwriting() {
  forgetButton.disabled = true;
  forgetStatus.textContent = "Forgetting…";
  const { problem, reply } = await forgetWriter();
  forgetStatus.textContent = problem || forgottenText(reply);
  forgetButton.disabled = false;
}

// A deliberate hook for the browser tests (tests/browser/test_render_on_page.py compares the
// page's drawing with handwriting/render.py's): the strokes kept, in pad units, and the drawing
// as it would be sent now. Nothing on the page uses it.
window.digitpad = Object.freeze({
  get strokes() {
    return pad.strokesDrawn();
  },
  drawingAsSent: () => pad.drawingAsSent(MODES[mode].aspect),
});

setMode(modeOfHash(location.hash), { fromUrl: true });
pad.fitCanvasToDisplay();
loadModelInfo();
