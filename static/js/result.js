// Showing an answer: a digit (live while the pen moves, or final), a number, nothing found, an
// error, or the empty page.

import {
  announce, setConfidence, setPageState, setStatus, showModelInput, showModelVersion,
  showProbabilities,
} from "./readout.js";
import {
  newCorrectable, offerCorrections, showCorrectionsBox, withdrawCorrections,
} from "./corrections.js";
import {
  DIGIT_CROP_MARGIN, forgetNumber, selectDigit, showNumber,
} from "./numbers.js";
import { digitStrokes } from "./strokes.js";
import { fetchModelInfo } from "./requests.js";
import {
  NUMBER_HINT, capitalise, digitAnnouncement, digitVerdict, formatPercent, numberVerdict,
  uploadSource,
} from "./wording.js";

const predictionText = document.getElementById("prediction");

// The final answer for a drawing or an upload in Digit mode.
export function showAnswer(answer, drawing) {
  showModelVersion(answer.model_version);
  const source = uploadSource(drawing.file);
  if (answer.digit === null) {
    showNothingFound(answer.reason || "No digit found.", source);
    return;
  }

  showReading(answer);
  offerCorrections(answer.digit, drawing);

  const verdict = digitVerdict(answer);
  setPageState("done");
  setStatus(source + verdict, answer.unsure ? "warning" : "");
  announce(digitAnnouncement(answer, verdict));
}

// A live answer shows the digit and its probabilities as the stroke grows, but is not announced
// (a screen reader would read out four answers a second) and cannot be corrected yet: the
// drawing is not finished.
export function showLiveAnswer(answer) {
  showModelVersion(answer.model_version);
  if (answer.digit === null) {
    resetResult();
  } else {
    showReading(answer);
  }
}

// inks: numbers.js's digitInks(), each digit's image for its correction, or null; each digit's
// correction posts the strokes that are wholly its own too (strokes.js's digitStrokes()).
export function showNumberAnswer(answer, drawing, inks) {
  showModelVersion(answer.model_version);
  const source = uploadSource(drawing.file);
  if (answer.digits.length === 0) {
    showNothingFound(answer.reason || "No number found.", source);
    return;
  }
  const image = drawing.file === null ? drawing.copy : null;
  const digits = answer.digits.map((reading, index) => ({
    ...reading,
    correctable: inks === null ? null : newCorrectable(reading.digit, inks[index], null,
      digitStrokes(drawing.strokes ?? null, reading.box, DIGIT_CROP_MARGIN)),
  }));
  setPageState("done");
  showNumber({
    digits,
    imageWidth: image === null ? 0 : image.width,
    imageHeight: image === null ? 0 : image.height,
    onPad: image !== null,
    selected: 0,
    pointed: null,
  });
  showCorrectionsBox(inks !== null);
  selectDigit(0);

  const verdict = answer.unsure ? numberVerdict(digits) : "";
  setStatus(source + (verdict || NUMBER_HINT), answer.unsure ? "warning" : "");
  announce(`Read ${answer.number}. ${verdict}`.trim());
}

function showNothingFound(reason, source) {
  resetResult();
  setPageState("done");
  setStatus(source + capitalise(reason), "warning");
  announce(capitalise(reason));
}

function showReading(answer) {
  predictionText.textContent = String(answer.digit);
  setConfidence(`${formatPercent(answer.confidence)} confident`);
  showProbabilities(answer.probabilities, answer.digit);
  showModelInput(answer.input_image);
  showCorrectionsBox(true);
}

function resetResult() {
  predictionText.textContent = "";
  setConfidence("");
  showProbabilities(null, null);
  showModelInput(null);
  withdrawCorrections();
  showCorrectionsBox(false);
  forgetNumber();
}

export function showIdle(message) {
  resetResult();
  setPageState("idle");
  setStatus(message);
}

export function showError(message) {
  resetResult();
  setPageState("error");
  setStatus(message, "error");
  announce(message);
}

export async function loadModelInfo() {
  const info = await fetchModelInfo();
  // Without it the footer keeps saying the version is unknown; predictions still report it.
  if (info !== null) {
    showModelVersion(info.version, info);
  }
}
