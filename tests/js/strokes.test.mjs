// The strokes sent with a drawing: in the sent image's pixels, times from the first point,
// within the server's limits.
import assert from "node:assert/strict";
import { test } from "node:test";

import { digitStrokes, strokesAsSent, thinnedStrokes } from "../../static/js/strokes.js";

const LIMITS = {
  strokesMaxStrokes: 100, strokesMaxPoints: 5000, strokesMaxOutside: 0.5, strokesMaxSeconds: 600,
};
// A square pad 300 CSS pixels a side, sent as 112 x 112; a number pad 900 x 300, sent as 336 x 112.
const SQUARE = { padWidth: 300, padHeight: 300, imageWidth: 112, imageHeight: 112 };
const WIDE = { padWidth: 900, padHeight: 300, imageWidth: 336, imageHeight: 112 };
const point = (x, y, time) => ({ x, y, time });

test("points go from pad units to the sent image's pixels, times from the drawing's first point", () => {
  const strokes = [
    [point(0, 0, 5000), point(0.5, 0.25, 5016.7), point(1, 1, 5033.33)],
    [point(0.25, 0.75, 5400)],
  ];
  assert.deepEqual(strokesAsSent(strokes, SQUARE, LIMITS), [
    [[0, 0, 0], [56, 28, 16.7], [112, 112, 33.3]],
    [[28, 84, 400]],
  ]);
  // On the wide pad x runs to the aspect (3) and maps onto 336 pixels.
  assert.deepEqual(strokesAsSent([[point(3, 0.5, 10), point(1.5, 1, 20)]], WIDE, LIMITS),
    [[[336, 56, 0], [168, 112, 10]]]);
});

test("after Undo of the first stroke, times count from the first point still drawn", () => {
  const second = [point(0.5, 0.5, 2000), point(0.6, 0.5, 2010)];
  assert.deepEqual(strokesAsSent([second], SQUARE, LIMITS), [[[56, 56, 0], [67.2, 56, 10]]]);
});

test("times never go back within a stroke, whatever the events said", () => {
  const sent = strokesAsSent([[point(0, 0, 100), point(0.1, 0, 99.5), point(0.2, 0, 120)]], SQUARE, LIMITS);
  assert.deepEqual(sent[0].map(([, , t]) => t), [0, 0, 20]);
});

test("a pen that leaves the pad is kept within the server's reach outside the image", () => {
  const sent = strokesAsSent([[point(0.5, 0.5, 0), point(-2, 3, 10)]], SQUARE, LIMITS);
  assert.deepEqual(sent[0][1], [-56, 168, 10]);
  const inside = strokesAsSent([[point(-2, 3, 10)]], SQUARE, { ...LIMITS, strokesMaxOutside: 0 });
  assert.equal(JSON.stringify(inside), "[[[0,112,0]]]");
});

test("no strokes, more strokes than the server takes, or a stroke too late: the image goes alone", () => {
  assert.equal(strokesAsSent([], SQUARE, LIMITS), null);
  const dots = Array.from({ length: 101 }, (_, index) => [point(0.5, 0.5, index)]);
  assert.equal(strokesAsSent(dots, SQUARE, LIMITS), null);
  assert.equal(strokesAsSent(dots.slice(0, 100), SQUARE, LIMITS).length, 100);
  const late = [[point(0.5, 0.5, 0)], [point(0.5, 0.5, 600_001)]];
  assert.equal(strokesAsSent(late, SQUARE, LIMITS), null);
});

test("past the most points, every k-th point of each stroke is kept with its ends", () => {
  const stroke = (length, offset) => Array.from({ length }, (_, index) => [index, offset, index * 4]);
  const strokes = [stroke(4000, 0), stroke(2000, 1), stroke(1, 2)];
  const thinned = thinnedStrokes(strokes, 5000);
  const total = thinned.reduce((sum, kept) => sum + kept.length, 0);
  assert.ok(total <= 5000 && total > 2500, `${total} points`);
  for (const [index, kept] of thinned.entries()) {
    assert.deepEqual(kept[0], strokes[index][0]);
    assert.deepEqual(kept[kept.length - 1], strokes[index][strokes[index].length - 1]);
  }
  // Evenly: every other point here.
  assert.deepEqual(thinned[0].slice(0, 3).map(([x]) => x), [0, 2, 4]);
  // Under the limit nothing changes.
  assert.equal(thinnedStrokes(strokes, 6001), strokes);
  // Where even each stroke's ends are too many, none can be sent.
  assert.equal(thinnedStrokes([stroke(3, 0), stroke(3, 1)], 3), null);
});

test("a pen's long number is thinned to the server's limit when sent", () => {
  const long = Array.from({ length: 30 }, (_, strokeIndex) => Array.from({ length: 300 },
    (_, index) => point(strokeIndex * 0.1 + index / 3000, 0.5, strokeIndex * 2000 + index * 4)));
  const sent = strokesAsSent(long, WIDE, LIMITS);
  const total = sent.reduce((sum, stroke) => sum + stroke.length, 0);
  assert.equal(sent.length, 30);
  assert.ok(total <= 5000, `${total} points`);
});

test("a number's digit gets the strokes wholly in its box, in the crop's pixels, from its own first time", () => {
  const strokes = [
    [[10, 20, 0], [30, 60, 50]], // the first digit's
    [[110, 20, 400], [120, 60, 450]], // the second digit's
    [[112, 40, 600]], // the second digit's dot
  ];
  // The second digit's box [x, y, width, height], cut out with 4 pixels around it.
  assert.deepEqual(digitStrokes(strokes, [108, 18, 15, 45], 4), [
    [[6, 6, 0], [16, 46, 50]],
    [[8, 26, 200]],
  ]);
  // Within a pixel of the box counts as in it.
  assert.equal(digitStrokes([[[107.5, 17.5, 0]]], [108, 18, 15, 45], 4).length, 1);
  // A stroke partly in the box (two digits in one stroke): none rather than wrong ones.
  assert.equal(digitStrokes([[[100, 20, 0], [120, 20, 10]]], [108, 18, 15, 45], 4), null);
  // An upload, or a box with no stroke of its own.
  assert.equal(digitStrokes(null, [108, 18, 15, 45], 4), null);
  assert.equal(digitStrokes([[[10, 20, 0]]], [108, 18, 15, 45], 4), null);
});
