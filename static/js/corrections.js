// Corrections: the person says which digit the drawing (or, in Number mode, the selected digit)
// really is, with the Right button, a digit button or a digit key, and the page posts it.

import { announce } from "./readout.js";
import { postCorrection } from "./requests.js";
import { capitalise, correctionSaved } from "./wording.js";

const correctionsBox = document.getElementById("corrections");
const correctionTarget = document.getElementById("correction-target");
const rightButton = document.getElementById("right-button");
const digitButtons = Array.from(document.querySelectorAll(".correction-digit"));
const correctionStatus = document.getElementById("correction-status");

const BOX_LABEL = "Was the answer right?";

// The final answer on show, which the correction buttons apply to, or null: { digit, image,
// strokes, file, chosen, saved, sending, queued, status } (image: the data URL sent for it;
// strokes: those it was drawn with, or null; file: the upload; status: what was last said about
// saving it). In Number mode, the selected digit's.
let correctable = null;

export function initCorrections() {
  rightButton.addEventListener("click", () => {
    if (correctable !== null) {
      chooseCorrection(correctable.digit);
    }
  });
  for (const button of digitButtons) {
    button.addEventListener("click", () => chooseCorrection(Number(button.dataset.digit)));
  }
}

export function newCorrectable(digit, image, file, strokes = null) {
  return {
    digit, image, strokes, file, chosen: null, saved: null, sending: false, queued: null, status: null,
  };
}

export function correctionsOffered() {
  return correctable !== null;
}

export function showCorrectionsBox(shown) {
  correctionsBox.hidden = !shown;
}

// The answer's correction, fresh: nothing chosen yet.
export function offerCorrections(digit, drawing) {
  correctable = newCorrectable(digit, drawing.image, drawing.file, drawing.strokes ?? null);
  setCorrectionsEnabled(true);
  showChoice(null);
  setCorrectionStatus("");
}

// A number's digit is selected: its correction (null where its ink could not be cut out), with
// whatever was chosen and said for it before. name: "digit 2 of 3".
export function offerDigitCorrections(name, readingDigit, digitCorrectable) {
  correctionTarget.textContent = `${capitalise(name)}, read as ${readingDigit}:`;
  correctionTarget.hidden = false;
  correctionsBox.setAttribute("aria-label", `Was ${name} right?`);
  correctable = digitCorrectable;
  setCorrectionsEnabled(correctable !== null);
  showChoice(correctable === null ? null : correctable.chosen);
  const status = correctable === null ? null : correctable.status;
  setCorrectionStatus(status === null ? "" : status.message, status === null ? "" : status.tone);
}

// The number is gone: the corrections are for the answer as a whole again.
export function untargetCorrections() {
  correctionTarget.hidden = true;
  correctionTarget.textContent = "";
  correctionsBox.setAttribute("aria-label", BOX_LABEL);
}

// The drawing changed, or its answer is gone: whatever is chosen now would name another drawing.
export function withdrawCorrections() {
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

export function chooseCorrection(label) {
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

async function sendCorrection(answer, choice) {
  answer.sending = true;
  const { problem, reply } = await postCorrection(answer, choice);
  answer.sending = false;
  if (answer.queued !== null) {
    const next = answer.queued;
    answer.queued = null;
    sendCorrection(answer, next);
    return;
  }
  if (problem === null) {
    answer.saved = choice;
    answer.status = { message: correctionSaved(choice, reply), tone: "saved" };
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
