import assert from "node:assert/strict";
import { test } from "node:test";

import {
  backingSize, boxShares, digitCrop, isStillTap, nearestBox, padPoint, scaleStroke,
  sentImageSize, strokePath,
} from "../../static/js/geometry.js";

test("the backing store has one pixel per device pixel, rounded", () => {
  assert.deepEqual(backingSize(360, 120, 2), { width: 720, height: 240 });
  assert.deepEqual(backingSize(100.4, 33.3, 1.5), { width: 151, height: 50 });
  // A browser without devicePixelRatio counts one.
  assert.deepEqual(backingSize(300, 100, undefined), { width: 300, height: 100 });
});

test("pointer positions are in units of the pad's height, from its top left corner", () => {
  const rect = { left: 10, top: 20, width: 600, height: 200 };
  assert.deepEqual(padPoint(10, 20, rect), { x: 0, y: 0 });
  assert.deepEqual(padPoint(610, 220, rect), { x: 3, y: 1 });
  assert.deepEqual(padPoint(110, 70, rect), { x: 0.5, y: 0.25 });
});

test("a stroke kept in pad units scales to pixels by the pad's height alone", () => {
  assert.deepEqual(scaleStroke([{ x: 0.5, y: 0.25 }, { x: 2, y: 1 }], 200),
    [{ x: 100, y: 50 }, { x: 400, y: 200 }]);
});

test("the pen bends towards each inner sample and runs through the midpoints", () => {
  const path = strokePath([{ x: 0, y: 0 }, { x: 10, y: 0 }, { x: 10, y: 10 }, { x: 0, y: 10 }]);
  assert.deepEqual(path.start, { x: 0, y: 0 });
  assert.deepEqual(path.curves, [
    { control: { x: 10, y: 0 }, end: { x: 10, y: 5 } },
    { control: { x: 10, y: 10 }, end: { x: 5, y: 10 } },
  ]);
  assert.deepEqual(path.end, { x: 0, y: 10 });
});

test("a two-point stroke is a straight line", () => {
  const path = strokePath([{ x: 1, y: 2 }, { x: 3, y: 4 }]);
  assert.deepEqual(path, { start: { x: 1, y: 2 }, curves: [], end: { x: 3, y: 4 } });
});

test("the drawing is sent at the sent size, as wide as the pad's shape", () => {
  assert.deepEqual(sentImageSize(720, 720, 1, 112), { width: 112, height: 112 });
  assert.deepEqual(sentImageSize(1560, 520, 3, 112), { width: 336, height: 112 });
  // Rounded where the aspect is not whole.
  assert.deepEqual(sentImageSize(500, 200, 2.5, 101), { width: 253, height: 101 });
});

test("a pad with fewer pixels than the sent size is sent at its own size", () => {
  assert.deepEqual(sentImageSize(90, 90, 1, 112), { width: 90, height: 90 });
  assert.deepEqual(sentImageSize(336, 112, 3, 112), { width: 336, height: 112 });
});

test("a press is a tap until it moves the slop away", () => {
  const start = { clientX: 100, clientY: 100 };
  assert.equal(isStillTap(start, 100, 100, 8), true);
  assert.equal(isStillTap(start, 104, 106, 8), true); // 7.2 pixels
  assert.equal(isStillTap(start, 106, 106, 8), false); // 8.5 pixels
  assert.equal(isStillTap(start, 108, 100, 8), false); // exactly the slop
});

test("a digit's crop is its box with the margin on every side", () => {
  const crop = digitCrop([50, 20, 10, 30], 4, 336, 112);
  assert.equal(crop.width, 18);
  assert.equal(crop.height, 38);
  assert.deepEqual(crop.from, { x: 46, y: 16, width: 18, height: 38 });
  assert.deepEqual(crop.to, { x: 0, y: 0 });
});

test("a crop that runs off the image takes what lies on it, placed where it belongs", () => {
  // Past the left and top edges: the crop starts 2 pixels before the image.
  const topLeft = digitCrop([2, 1, 10, 10], 4, 336, 112);
  assert.deepEqual(topLeft.from, { x: 0, y: 0, width: 16, height: 15 });
  assert.deepEqual(topLeft.to, { x: 2, y: 3 });
  // Past the right and bottom edges.
  const bottomRight = digitCrop([330, 100, 6, 12], 4, 336, 112);
  assert.deepEqual(bottomRight.from, { x: 326, y: 96, width: 10, height: 16 });
  assert.deepEqual(bottomRight.to, { x: 0, y: 0 });
  assert.equal(bottomRight.width, 14);
  assert.equal(bottomRight.height, 20);
});

test("a crop wholly off the image has nothing to draw", () => {
  const crop = digitCrop([400, 10, 5, 5], 4, 336, 112);
  assert.equal(crop.from, null);
  assert.equal(crop.width, 13);
});

// A pad 600 x 200 CSS pixels, sent as 336 x 112: 1 pad unit is 112 image pixels.
const NUMBER_PAD = { padWidth: 600, padHeight: 200, imageWidth: 336, imageHeight: 112, reach: 0.06 };
const BOXES = [[20, 30, 30, 50], [100, 30, 4, 50], [200, 30, 40, 50]];

test("a point inside a digit's box points at that digit", () => {
  assert.equal(nearestBox({ x: 35 / 112, y: 0.5 }, BOXES, NUMBER_PAD), 0);
  assert.equal(nearestBox({ x: 220 / 112, y: 0.5 }, BOXES, NUMBER_PAD), 2);
});

test("a point near a narrow box reaches it; one farther than the reach does not", () => {
  // The reach is 0.06 of 112 pixels: 6.72.
  assert.equal(nearestBox({ x: 110 / 112, y: 0.5 }, BOXES, NUMBER_PAD), 1); // 6 pixels right
  assert.equal(nearestBox({ x: 112 / 112, y: 0.5 }, BOXES, NUMBER_PAD), null); // 8 pixels
  assert.equal(nearestBox({ x: 102 / 112, y: 0.1 }, BOXES, NUMBER_PAD), null); // 18.8 above
});

test("between two boxes the nearer wins, and a tie goes to the later box", () => {
  const close = [[10, 10, 10, 10], [24, 10, 10, 10]];
  assert.equal(nearestBox({ x: 21 / 112, y: 15 / 112 }, close, NUMBER_PAD), 0);
  assert.equal(nearestBox({ x: 23 / 112, y: 15 / 112 }, close, NUMBER_PAD), 1);
  assert.equal(nearestBox({ x: 22 / 112, y: 15 / 112 }, close, NUMBER_PAD), 1);
});

test("pad units become image pixels through the pad's and the image's shapes", () => {
  // An image twice as wide, relative to its height, as the pad: x stretches by 2.
  const stretched = { padWidth: 300, padHeight: 100, imageWidth: 600, imageHeight: 100, reach: 0 };
  assert.equal(nearestBox({ x: 1, y: 0.5 }, [[195, 40, 10, 20]], stretched), 0);
  assert.equal(nearestBox({ x: 2, y: 0.5 }, [[195, 40, 10, 20]], stretched), null);
});

test("no boxes, no digit", () => {
  assert.equal(nearestBox({ x: 1, y: 0.5 }, [], NUMBER_PAD), null);
});

test("boxes are placed in percentages of the sent image", () => {
  assert.deepEqual(boxShares([84, 28, 42, 56], 336, 112),
    { left: "25%", top: "25%", width: "12.5%", height: "50%" });
});
