import assert from "node:assert/strict";
import { test } from "node:test";

import {
  capitalise, correctionSaved, digitAnnouncement, digitButtonLabel, digitConfidence, digitName,
  digitVerdict, drawingAreaLabel, forgottenText, formatPercent, modelVersionLine, numberVerdict, topTwo,
  uploadSource,
} from "../../static/js/wording.js";

const SURE_7 = [0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.007, 0.95, 0.012, 0.01];
const DOUBTFUL_4 = [0.01, 0.01, 0.01, 0.01, 0.48, 0.01, 0.01, 0.01, 0.01, 0.43];

test("percentages keep one decimal at most", () => {
  assert.equal(formatPercent(0.5), "50%");
  assert.equal(formatPercent(0.1234), "12.3%");
  assert.equal(formatPercent(0), "0%");
  assert.equal(formatPercent(1), "100%");
});

test("a probability just short of 1 is not rounded up to certainty", () => {
  assert.equal(formatPercent(0.9995), ">99.9%");
  assert.equal(formatPercent(0.99999), ">99.9%");
  assert.equal(formatPercent(0.9994), "99.9%");
});

test("capitalise raises the first letter only", () => {
  assert.equal(capitalise("digit 1 of 3"), "Digit 1 of 3");
  assert.equal(capitalise(""), "");
});

test("the two likeliest digits come from the probabilities, likeliest first", () => {
  assert.deepEqual(topTwo(DOUBTFUL_4, 4), [4, 9]);
  assert.deepEqual(topTwo(SURE_7, 7), [7, 8]);
  assert.deepEqual(topTwo(undefined, 3), [3, "something else"]);
});

test("a lone digit's verdict names the doubt, or says nothing when sure", () => {
  assert.equal(digitVerdict({ digit: 4, unsure: true, probabilities: DOUBTFUL_4 }),
    "Not sure — it might be 4 or 9.");
  assert.equal(digitVerdict({ digit: 7, unsure: false, probabilities: SURE_7 }), "");
});

test("the announcement of a digit ends without a stray space", () => {
  const answer = { digit: 7, confidence: 0.95 };
  assert.equal(digitAnnouncement(answer, ""), "Predicted 7, 95% confident.");
  assert.equal(digitAnnouncement(answer, "Not sure — it might be 7 or 1."),
    "Predicted 7, 95% confident. Not sure — it might be 7 or 1.");
});

test("a number's verdict names the one doubtful digit and its likely pair", () => {
  const digits = [
    { digit: 1, unsure: false, probabilities: SURE_7 },
    { digit: 4, unsure: true, probabilities: DOUBTFUL_4 },
    { digit: 7, unsure: false, probabilities: SURE_7 },
  ];
  assert.equal(numberVerdict(digits), "Not sure of digit 2 of 3 — it might be 4 or 9.");
});

test("a number's verdict lists the places of several doubtful digits", () => {
  const unsure = { digit: 4, unsure: true, probabilities: DOUBTFUL_4 };
  const sure = { digit: 7, unsure: false, probabilities: SURE_7 };
  assert.equal(numberVerdict([unsure, sure, unsure]),
    "Not sure of digits 1 and 3 of 3 (dashed boxes).");
  assert.equal(numberVerdict([unsure, unsure, sure, unsure]),
    "Not sure of digits 1, 2 and 4 of 4 (dashed boxes).");
});

test("a number doubted as a whole, no digit in doubt, says so", () => {
  assert.equal(numberVerdict([{ digit: 1, unsure: false }]), "Not sure of this number.");
});

test("digits are named by their place in the number", () => {
  assert.equal(digitName(0, 3), "digit 1 of 3");
  assert.equal(digitButtonLabel(1, 3, { digit: 4, unsure: true }), "Digit 2 of 3: 4, not sure");
  assert.equal(digitButtonLabel(2, 3, { digit: 7, unsure: false }), "Digit 3 of 3: 7");
  assert.equal(digitConfidence(0, 2, 0.875), "Digit 1 of 2: 87.5% confident");
});

test("an upload's answer names the file; a drawing's says nothing first", () => {
  assert.equal(uploadSource(null), "");
  assert.equal(uploadSource({ name: "seven.png" }), "Result for the uploaded image “seven.png”. ");
});

test("the pad's label ends by offering the upload", () => {
  assert.equal(drawingAreaLabel("Draw."), "Drawing area. Draw. Or upload an image below.");
});

test("the footer gives the version, with each accuracy the server measured", () => {
  assert.equal(modelVersionLine("v3", null), "Model v3");
  assert.equal(modelVersionLine("v3", { test_accuracy: 0.9921 }),
    "Model v3 · 99.2% accurate on the MNIST test set");
  assert.equal(modelVersionLine("v3", { test_accuracy: 0.9921, validation_writers_accuracy: 0.9 }),
    "Model v3 · 99.2% accurate on the MNIST test set · 90% on pen digits by people it never saw");
  // Figures that are not numbers are left out.
  assert.equal(modelVersionLine("v3", { test_accuracy: "high" }), "Model v3");
});

test("a saved correction says what was kept, and whether it replaced an earlier one", () => {
  assert.equal(correctionSaved({ label: 7, kind: "right" }, { stored: "created" }),
    "Saved: 7 is right.");
  assert.equal(correctionSaved({ label: 1, kind: "wrong" }, { stored: "replaced" }),
    "Saved: it was 1 (replaces your earlier choice).");
});

test("an answer the writer's own corrections changed says so, sure or not", () => {
  assert.equal(digitVerdict({ digit: 7, unsure: false, personal: true, probabilities: SURE_7 }),
    "Read with the help of your own corrections.");
  assert.equal(digitVerdict({ digit: 4, unsure: true, personal: true, probabilities: DOUBTFUL_4 }),
    "Not sure — it might be 4 or 9. Read with the help of your own corrections.");
  assert.equal(digitVerdict({ digit: 7, unsure: false, personal: false, probabilities: SURE_7 }), "");
});

test("forgetting says how many corrections went, or that there was nothing to forget", () => {
  assert.equal(forgottenText({ forgotten: true, corrections_deleted: 1 }),
    "Forgotten: 1 correction of yours deleted. Answers no longer use your handwriting.");
  assert.equal(forgottenText({ forgotten: true, corrections_deleted: 4 }),
    "Forgotten: 4 corrections of yours deleted. Answers no longer use your handwriting.");
  assert.equal(forgottenText({ forgotten: false, corrections_deleted: 0 }),
    "Nothing to forget: this browser has made no corrections.");
});
