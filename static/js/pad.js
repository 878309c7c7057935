// The drawing pad: the canvas, the strokes kept for it, the pen, and the pointer that draws on
// it or points at a digit of the number read. What a stroke or a tap means to the rest of the
// page, the hooks given to initPad() decide.

import {
  backingSize, isStillTap, padPoint, scaleStroke, sentImageSize, strokePath,
} from "./geometry.js";
import { strokesAsSent } from "./strokes.js";

export const INK = "#000";
export const PAPER = "#fff";
// A press on a digit's box that lifts before moving this many CSS pixels is a tap that points at
// the digit rather than a stroke: about the wobble of a fingertip that means to stay put.
const TAP_SLOP_PX = 8;

const canvas = document.getElementById("pad-canvas");
const context = canvas.getContext("2d");
const undoButton = document.getElementById("undo-button");

// Strokes are kept as points in units of the pad's height (x from 0 to the pad's aspect, y from
// 0 to 1), so they can be redrawn after Undo and at any new size when the canvas is resized, the
// same way on the square pad and on the wide one; each point with the time of its pointer event
// (`time`, the event's timeStamp), sent with the drawing (strokes.js). Undo takes a stroke's
// points and times with it.
let strokes = [];
let padWidth = 0; // The canvas's size in CSS pixels.
let padHeight = 0;
let activeStroke = null;
let activePointerId = null;
// A press on a digit's box that may yet be a tap: { pointerId, point, clientX, clientY, index }.
let pendingTap = null;
// Grows with every change of the ink, so that live answers never send the same ink twice.
let inkVersion = 0;

// From model/pad.py, through the page: see initPad().
let penWidthShare = 0;
let sentSize = 0;
let constantsRead = null;
let hooks = null;

// constants: constants.js's readPadConstants(). hooks:
//   digitNear(point): the index of the digit whose box a point (in pad units) is on, or null;
//   tapped(index): a tap on that digit's box;  pointed(index): a mouse or pen over it (null: off);
//   strokeStarted(), inkChanged(), strokeEnded(): the pen went down, moved, lifted.
export function initPad(constants, padHooks) {
  penWidthShare = constants.penWidthShare;
  sentSize = constants.sentSize;
  constantsRead = constants;
  hooks = padHooks;
  canvas.addEventListener("pointerdown", onPointerDown);
  canvas.addEventListener("pointermove", onPointerMove);
  canvas.addEventListener("pointerup", onPointerEnd);
  canvas.addEventListener("pointercancel", onPointerEnd);
  canvas.addEventListener("pointerleave", (event) => {
    if (event.pointerType !== "touch") {
      hooks.pointed(null);
    }
  });
  // "resize" also fires when zooming changes devicePixelRatio, which ResizeObserver misses.
  new ResizeObserver(fitCanvasToDisplay).observe(canvas);
  window.addEventListener("resize", fitCanvasToDisplay);
}

export function fitCanvasToDisplay() {
  const rect = canvas.getBoundingClientRect();
  const backing = backingSize(rect.width, rect.height, window.devicePixelRatio);
  if (backing.width === 0 || backing.height === 0
      || (rect.width === padWidth && rect.height === padHeight
          && canvas.width === backing.width && canvas.height === backing.height)) {
    return;
  }
  padWidth = rect.width;
  padHeight = rect.height;
  canvas.width = backing.width;
  canvas.height = backing.height;
  redraw();
}

// The canvas's size in CSS pixels.
export function padSize() {
  return { width: padWidth, height: padHeight };
}

export function setPadLabel(label) {
  canvas.setAttribute("aria-label", label);
}

export function strokesDrawn() {
  return strokes;
}

export function isDrawing() {
  return activeStroke !== null;
}

export function currentInkVersion() {
  return inkVersion;
}

// Clear: no strokes, none under way, no tap pending.
export function clearStrokes() {
  strokes = [];
  activeStroke = null;
  activePointerId = null;
  pendingTap = null;
  redraw();
  updateUndoButton();
}

// An upload replaces the drawing on the pad.
export function eraseStrokes() {
  strokes = [];
  redraw();
  updateUndoButton();
}

// Takes the last stroke back, unless one is being drawn: whether there was one to take back.
export function undoStroke() {
  if (strokes.length === 0 || activeStroke !== null) {
    return false;
  }
  strokes.pop();
  redraw();
  updateUndoButton();
  return true;
}

// The number's boxes are gone: a press on one is no longer a tap.
export function forgetPendingTap() {
  pendingTap = null;
}

// The drawing as it is sent: sentSize pixels high (the pad's own pixels where it has fewer), as
// wide as the pad's shape (aspect) makes it, and the strokes it was drawn with in that image's
// pixels (null where none can be sent: strokes.js). The copy is kept with the request, so that a
// number's digits are cut out of the very pixels the server read, whatever the pad does
// meanwhile.
export function drawingAsSent(aspect) {
  const copy = document.createElement("canvas");
  const size = sentImageSize(canvas.width, canvas.height, aspect, sentSize);
  copy.width = size.width;
  copy.height = size.height;
  const copyContext = copy.getContext("2d");
  copyContext.imageSmoothingQuality = "high";
  copyContext.drawImage(canvas, 0, 0, copy.width, copy.height);
  const sentStrokes = strokesAsSent(strokes, {
    padWidth, padHeight, imageWidth: copy.width, imageHeight: copy.height,
  }, constantsRead);
  return { image: copy.toDataURL("image/png"), copy, strokes: sentStrokes };
}

function updateUndoButton() {
  undoButton.disabled = strokes.length === 0;
}

function preparePen() {
  context.setTransform(canvas.width / padWidth, 0, 0, canvas.height / padHeight, 0, 0);
  context.lineCap = "round";
  context.lineJoin = "round";
  context.lineWidth = padHeight * penWidthShare;
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

function drawStroke(stroke) {
  if (stroke.length === 1) {
    drawDot(stroke[0]);
    return;
  }
  const { start, curves, end } = strokePath(scaleStroke(stroke, padHeight));
  context.beginPath();
  context.moveTo(start.x, start.y);
  for (const { control, end: through } of curves) {
    context.quadraticCurveTo(control.x, control.y, through.x, through.y);
  }
  context.lineTo(end.x, end.y);
  context.stroke();
}

// A tap leaves a round dot, which a zero-length path would not draw.
function drawDot(point) {
  context.beginPath();
  context.arc(point.x * padHeight, point.y * padHeight, context.lineWidth / 2, 0, 2 * Math.PI);
  context.fill();
}

function pointOf(event) {
  return {
    ...padPoint(event.clientX, event.clientY, canvas.getBoundingClientRect()),
    time: event.timeStamp,
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
  const index = hooks.digitNear(point);
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
  hooks.strokeStarted();
}

function onPointerMove(event) {
  if (pendingTap !== null && event.pointerId === pendingTap.pointerId) {
    if (isStillTap(pendingTap, event.clientX, event.clientY, TAP_SLOP_PX)) {
      return;
    }
    startStroke(pendingTap.pointerId, pendingTap.point);
    pendingTap = null;
  }
  if (event.pointerId !== activePointerId) {
    // A mouse, or a pen held above the screen, points at the digit it is over; a finger only
    // touches.
    if (activePointerId === null && event.pointerType !== "touch") {
      hooks.pointed(hooks.digitNear(pointOf(event)));
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
  hooks.inkChanged();
}

function onPointerEnd(event) {
  if (pendingTap !== null && event.pointerId === pendingTap.pointerId) {
    const { index } = pendingTap;
    pendingTap = null;
    if (event.type === "pointerup") {
      hooks.tapped(index);
    }
    return;
  }
  if (event.pointerId !== activePointerId) {
    return;
  }
  activeStroke = null;
  activePointerId = null;
  hooks.strokeEnded();
}
