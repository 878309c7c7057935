// The parts of the page every answer writes to: the page's state, the status line, the
// announcer, the confidence line, the probability bars, the image the model saw and the model's
// version in the footer.

import { formatPercent, modelVersionLine } from "./wording.js";

const body = document.body;
const statusText = document.getElementById("status");
const announcer = document.getElementById("announcer");
const confidenceText = document.getElementById("confidence");
const probabilityRows = Array.from(document.querySelectorAll(".probability"));
const modelInputImage = document.getElementById("model-input");
const modelVersionText = document.getElementById("model-version");

let shownModelVersion = null;

// "idle", "drawing", "pending", "done" or "error": the stylesheet and the tests follow it.
export function setPageState(state) {
  body.dataset.state = state;
}

export function pageState() {
  return body.dataset.state;
}

export function setStatus(message, tone = "") {
  statusText.textContent = message;
  statusText.dataset.tone = tone;
}

export function announce(message) {
  announcer.textContent = message;
}

export function setConfidence(text) {
  confidenceText.textContent = text;
}

// probabilities: ten shares, or null to empty the bars; digit: the answer, whose bar stands out.
export function showProbabilities(probabilities, digit) {
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

export function showModelInput(dataUrl) {
  if (dataUrl) {
    modelInputImage.src = dataUrl;
    modelInputImage.hidden = false;
  } else {
    modelInputImage.removeAttribute("src");
    modelInputImage.hidden = true;
  }
}

// Predictions name the model that made them; the server may have loaded a newer one since the
// page asked /api/model, and then the old model's accuracy no longer applies.
export function showModelVersion(version, info = null) {
  if (!version || (version === shownModelVersion && info === null)) {
    return;
  }
  shownModelVersion = version;
  modelVersionText.textContent = modelVersionLine(version, info);
}
