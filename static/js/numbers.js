// Number mode's answer: the number read, a button for each digit, each digit's box over the
// pad's ink, the digit selected (which the corrections apply to) and the digit pointed at.

import {
  pageState, setConfidence, showModelInput, showProbabilities,
} from "./readout.js";
import { offerDigitCorrections, untargetCorrections } from "./corrections.js";
import { boxShares, digitCrop, nearestBox } from "./geometry.js";
import { PAPER, forgetPendingTap, padSize } from "./pad.js";
import { arrowMove } from "./keys.js";
import { digitButtonLabel, digitConfidence, digitName } from "./wording.js";

// A correction in Number mode posts the digit's ink alone: the sent image cut to the digit's
// box, with this many pixels of it around the box (on white beyond the image's edge). The box
// holds the ink the server found; the margin keeps the faint anti-aliased edge of the pen that
// it left out, as the page would send a lone digit with paper around it.
export const DIGIT_CROP_MARGIN = 4;
// How near a digit's box a tap (or the mouse) may be and still point at it, as a share of the
// pad's height: the box of a 1 is a few pixels wide, narrower than a fingertip.
const TAP_REACH_SHARE = 0.06;

const numberView = document.getElementById("number-read");
const digitBoxes = document.getElementById("digit-boxes");

// The number on show in Number mode, or null: { digits, imageWidth, imageHeight, onPad,
// selected, pointed }. Each digit is the server's reading of it with `correctable` added (null
// where its ink could not be cut out); the image's size is the sent image's, whose pixels the
// boxes are in; onPad: the boxes belong to the ink on the pad (not to an upload); selected: the
// digit the corrections apply to; pointed: the digit under the mouse, shown while it is there.
let shownNumber = null;

export function initNumbers() {
  numberView.addEventListener("keydown", onNumberKeyDown);
}

// Each digit's ink alone, as a PNG data URL for its correction (null for all where the image
// cannot be had): cut out once, when the answer comes, so that choosing again for a digit posts
// the same bytes and replaces the choice on the server.
export async function digitInks(readings, drawing) {
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
  const placement = digitCrop(box, DIGIT_CROP_MARGIN, source.width, source.height);
  const crop = document.createElement("canvas");
  crop.width = placement.width;
  crop.height = placement.height;
  const cropContext = crop.getContext("2d");
  cropContext.fillStyle = PAPER;
  cropContext.fillRect(0, 0, crop.width, crop.height);
  const { from, to } = placement;
  if (from !== null) {
    cropContext.drawImage(source, from.x, from.y, from.width, from.height,
      to.x, to.y, from.width, from.height);
  }
  return crop.toDataURL("image/png");
}

// Shows a number read: `number` is shownNumber's new value (see above).
export function showNumber(number) {
  shownNumber = number;
  const { digits } = shownNumber;
  const buttons = digits.map((reading, index) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "number-digit";
    button.classList.toggle("is-unsure", reading.unsure);
    button.dataset.index = String(index);
    button.textContent = String(reading.digit);
    button.setAttribute("aria-label", digitButtonLabel(index, digits.length, reading));
    button.addEventListener("pointerenter", () => pointAtDigit(index));
    button.addEventListener("pointerleave", () => pointAtDigit(null));
    button.addEventListener("focus", () => selectDigit(index));
    button.addEventListener("click", () => selectDigit(index));
    return button;
  });
  numberView.replaceChildren(...buttons);

  const boxes = shownNumber.onPad ? digits.map((reading, index) => {
    const box = document.createElement("div");
    box.className = "digit-box";
    box.classList.toggle("is-unsure", reading.unsure);
    box.dataset.index = String(index);
    const shares = boxShares(reading.box, shownNumber.imageWidth, shownNumber.imageHeight);
    box.style.setProperty("--left", shares.left);
    box.style.setProperty("--top", shares.top);
    box.style.setProperty("--width", shares.width);
    box.style.setProperty("--height", shares.height);
    return box;
  }) : [];
  digitBoxes.replaceChildren(...boxes);
}

export function forgetNumber() {
  shownNumber = null;
  forgetPendingTap();
  numberView.replaceChildren();
  digitBoxes.replaceChildren();
  untargetCorrections();
}

// Whether the number on show is the answer for the ink on the pad (or the upload) as it is: a
// new stroke or a request on its way leaves it shown, dimmed, until its answer replaces it.
function numberIsCurrent() {
  return shownNumber !== null && pageState() === "done";
}

// The digit whose box is nearest the point (in units of the pad's height), if the point is in it
// or within TAP_REACH_SHARE of the pad's height of it.
export function digitNear(point) {
  if (!numberIsCurrent() || !shownNumber.onPad) {
    return null;
  }
  const pad = padSize();
  return nearestBox(point, shownNumber.digits.map((reading) => reading.box), {
    padWidth: pad.width,
    padHeight: pad.height,
    imageWidth: shownNumber.imageWidth,
    imageHeight: shownNumber.imageHeight,
    reach: TAP_REACH_SHARE,
  });
}

// The mouse over a digit (its button or its box) shows it while it stays there, without choosing
// it: on its way to the correction buttons it may cross other digits. null: the mouse left, and
// the selected digit is shown again.
export function pointAtDigit(index) {
  if (!numberIsCurrent() || index === shownNumber.pointed) {
    return;
  }
  shownNumber.pointed = index;
  showDigitReading();
}

// A click, tap or focus chooses the digit that is shown and corrected until another is chosen.
export function selectDigit(index) {
  if (!numberIsCurrent() || index < 0 || index >= shownNumber.digits.length) {
    return;
  }
  shownNumber.selected = index;
  const reading = shownNumber.digits[index];
  offerDigitCorrections(digitName(index, shownNumber.digits.length), reading.digit,
    reading.correctable);
  showDigitReading();
}

function showDigitReading() {
  const { digits, selected, pointed } = shownNumber;
  const shown = pointed === null ? selected : pointed;
  const reading = digits[shown];
  setConfidence(digitConfidence(shown, digits.length, reading.confidence));
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
  const next = arrowMove(event.key, buttons.indexOf(event.target), buttons.length);
  if (next === null) {
    return;
  }
  event.preventDefault();
  buttons[next].focus();
}
