// The page's constants, its modes and its keys.
import assert from "node:assert/strict";
import { test } from "node:test";

import { datasetKey, readPadConstants } from "../../static/js/constants.js";
import { arrowMove, keyCommand } from "../../static/js/keys.js";
import {
  DIGIT_MODE, NUMBER_MODE, PREDICT_NUMBER_URL, PREDICT_URL, hashOfMode, modeOfHash, modesFor,
} from "../../static/js/modes.js";

// As index() renders model/pad.py's page_constants() and the strokes' limits of the settings
// (Python's str() of each value).
const RENDERED = {
  sentSize: "112",
  numberPadAspect: "3",
  penWidthShare: "0.07142857142857142",
  strokesMaxStrokes: "100",
  strokesMaxPoints: "5000",
  strokesMaxOutside: "0.5",
  strokesMaxSeconds: "600.0",
};

test("the constants are read from <body>'s data attributes as numbers", () => {
  const constants = readPadConstants(RENDERED);
  assert.deepEqual(constants, {
    sentSize: 112,
    numberPadAspect: 3,
    penWidthShare: 1 / 14,
    strokesMaxStrokes: 100,
    strokesMaxPoints: 5000,
    strokesMaxOutside: 0.5,
    strokesMaxSeconds: 600,
  });
  // Python's repr of 1/14 reads back as the very same double.
  assert.equal(constants.penWidthShare, 1 / 14);
});

test("a page without a constant, or with a bad one, fails at start-up naming it", () => {
  const { penWidthShare, ...withoutPen } = RENDERED;
  assert.throws(() => readPadConstants(withoutPen), /data-pen-width-share/);
  assert.throws(() => readPadConstants({ ...RENDERED, sentSize: "" }), /data-sent-size/);
  assert.throws(() => readPadConstants({ ...RENDERED, sentSize: "big" }), /data-sent-size/);
  assert.throws(() => readPadConstants({ ...RENDERED, numberPadAspect: "0" }), /data-number-pad-aspect/);
  assert.throws(() => readPadConstants({ ...RENDERED, strokesMaxPoints: "0" }), /data-strokes-max-points/);
  assert.throws(() => readPadConstants({ ...RENDERED, strokesMaxOutside: "-1" }), /data-strokes-max-outside/);
  // Points may be kept within the image itself.
  assert.equal(readPadConstants({ ...RENDERED, strokesMaxOutside: "0" }).strokesMaxOutside, 0);
  assert.equal(penWidthShare, RENDERED.penWidthShare);
});

test("data attribute names map to the DOM's dataset keys", () => {
  assert.equal(datasetKey("number-pad-aspect"), "numberPadAspect");
  assert.equal(datasetKey("sent-size"), "sentSize");
});

test("each mode asks its own URL, the number pad with the page's aspect", () => {
  const modes = modesFor(3);
  assert.equal(modes[DIGIT_MODE].aspect, 1);
  assert.equal(modes[DIGIT_MODE].url, PREDICT_URL);
  assert.equal(modes[NUMBER_MODE].aspect, 3);
  assert.equal(modes[NUMBER_MODE].url, PREDICT_NUMBER_URL);
  assert.equal(modesFor(4)[NUMBER_MODE].aspect, 4);
  assert.equal(modes[DIGIT_MODE].idle, "No digit drawn yet.");
  assert.equal(modes[NUMBER_MODE].failure, "The server could not read the number");
  assert.match(modes[NUMBER_MODE].padLabel, /^Drawing area\. Write a number.* Or upload an image below\.$/);
});

test("the URL's hash chooses the mode, and the mode the hash", () => {
  assert.equal(modeOfHash("#number"), NUMBER_MODE);
  assert.equal(modeOfHash(""), DIGIT_MODE);
  assert.equal(modeOfHash("#other"), DIGIT_MODE);
  assert.equal(hashOfMode(NUMBER_MODE), "#number");
  assert.equal(hashOfMode(DIGIT_MODE), "");
});

const key = (name, modifiers = {}) => ({
  key: name, ctrlKey: false, metaKey: false, shiftKey: false, altKey: false, ...modifiers,
});

test("Ctrl+Z and Cmd+Z undo; with Shift or Alt they do not", () => {
  assert.equal(keyCommand(key("z", { ctrlKey: true })), "undo");
  assert.equal(keyCommand(key("Z", { metaKey: true })), "undo");
  assert.equal(keyCommand(key("z", { ctrlKey: true, shiftKey: true })), null);
  assert.equal(keyCommand(key("z", { ctrlKey: true, altKey: true })), null);
  assert.equal(keyCommand(key("z")), null);
});

test("Escape and Delete clear, unless a command key or Alt is held", () => {
  assert.equal(keyCommand(key("Escape")), "clear");
  assert.equal(keyCommand(key("Delete", { shiftKey: true })), "clear");
  assert.equal(keyCommand(key("Delete", { ctrlKey: true })), null);
  assert.equal(keyCommand(key("Escape", { altKey: true })), null);
});

test("a digit key alone is a correction; with a command key or Alt it is not", () => {
  assert.equal(keyCommand(key("0")), "digit");
  assert.equal(keyCommand(key("9", { shiftKey: true })), "digit");
  assert.equal(keyCommand(key("7", { ctrlKey: true })), null);
  assert.equal(keyCommand(key("7", { altKey: true })), null);
  assert.equal(keyCommand(key("a")), null);
  assert.equal(keyCommand(key("F1")), null);
});

test("arrow keys, Home and End move between the digits and stop at the ends", () => {
  assert.equal(arrowMove("ArrowRight", 0, 3), 1);
  assert.equal(arrowMove("ArrowLeft", 2, 3), 1);
  assert.equal(arrowMove("ArrowLeft", 0, 3), 0);
  assert.equal(arrowMove("ArrowRight", 2, 3), 2);
  assert.equal(arrowMove("Home", 2, 3), 0);
  assert.equal(arrowMove("End", 0, 3), 2);
  assert.equal(arrowMove("Enter", 1, 3), null);
  // The key went to something other than a digit's button.
  assert.equal(arrowMove("ArrowRight", -1, 3), null);
});
