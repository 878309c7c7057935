// The two modes, Digit and Number: what the page says and where it asks in each. No DOM here.

import { drawingAreaLabel } from "./wording.js";

export const DIGIT_MODE = "digit";
export const NUMBER_MODE = "number";
// The URL's hash in Number mode, so that a link can open the page in it.
export const NUMBER_MODE_HASH = "#number";
export const PREDICT_URL = "/predict/";
export const PREDICT_NUMBER_URL = "/predict/number";

// What the page says and how it asks, in each mode. The number pad's aspect comes from the page
// (model/pad.py's NUMBER_PAD_ASPECT), hence a function rather than a constant.
export function modesFor(numberPadAspect) {
  return {
    [DIGIT_MODE]: {
      aspect: 1,
      url: PREDICT_URL,
      hint: "Draw a digit 0–9",
      padLabel: drawingAreaLabel("Draw one digit from 0 to 9 with a mouse, finger or pen; the "
        + "prediction follows as you draw and is final when you lift the pen."),
      idle: "No digit drawn yet.",
      reading: "Reading the digit…",
      failure: "The server could not read the digit",
    },
    [NUMBER_MODE]: {
      aspect: numberPadAspect,
      url: PREDICT_NUMBER_URL,
      hint: "Write a number",
      padLabel: drawingAreaLabel("Write a number, its digits side by side, with a mouse, finger "
        + "or pen; it is read each time you lift the pen. Tap a digit's box to choose that digit."),
      idle: "No number written yet.",
      reading: "Reading the number…",
      failure: "The server could not read the number",
    },
  };
}

export function modeOfHash(hash) {
  return hash === NUMBER_MODE_HASH ? NUMBER_MODE : DIGIT_MODE;
}

export function hashOfMode(mode) {
  return mode === NUMBER_MODE ? NUMBER_MODE_HASH : "";
}
