// The strokes sent with a drawing: the pad's points (in units of its height, with the time of
// each pointer event) as the server takes them, [[[x, y, t], ...], ...] with x and y in the
// pixels of the image sent and t in milliseconds since the drawing's first point, within the
// server's limits (web/stroke_input.py, rendered into the page: constants.js). No DOM here, so
// node's tests import it.

// Pixels to a hundredth and times to a tenth of a millisecond: finer than the pen (several
// pixels wide) or the browser's event times (coarsened to a tenth of a millisecond) can tell,
// and a point then takes some 20 bytes of JSON.
const round = (value, decimals) => Math.round(value * 10 ** decimals) / 10 ** decimals;

// strokes: the pad's, each a list of { x, y, time } (time: the event's timeStamp, any origin).
// size: { padWidth, padHeight } (the canvas in CSS pixels) and { imageWidth, imageHeight } (the
// image sent, which covers the pad). limits: constants.js's strokes limits. null where there is
// nothing to send, or where the drawing is past a limit that thinning cannot meet (more strokes,
// or a stroke added longer after the first than the server takes): the image then goes alone,
// and reads as it always did.
export function strokesAsSent(strokes, size, limits) {
  if (strokes.length === 0 || strokes.length > limits.strokesMaxStrokes) {
    return null;
  }
  const { padWidth, padHeight, imageWidth, imageHeight } = size;
  const start = Math.min(...strokes.map((stroke) => stroke[0].time));
  // A pointer held down may leave the pad (the canvas keeps it captured): its points are kept
  // up to where the server stops taking them, as the pen went out of the picture.
  const reach = limits.strokesMaxOutside;
  const within = (value, side) => Math.min(Math.max(value, -reach * side), (1 + reach) * side);
  const sent = strokes.map((stroke) => {
    let previous = 0;
    return stroke.map((point) => {
      // Never earlier than the point before: the server refuses a stroke whose time goes back.
      previous = Math.max(previous, round(point.time - start, 1));
      return [
        within(round((point.x * padHeight * imageWidth) / padWidth, 2), imageWidth),
        within(round(point.y * imageHeight, 2), imageHeight),
        previous,
      ];
    });
  });
  const latest = Math.max(...sent.map((stroke) => stroke[stroke.length - 1][2]));
  if (latest > limits.strokesMaxSeconds * 1000) {
    return null;
  }
  return thinnedStrokes(sent, limits.strokesMaxPoints);
}

// Strokes of at most `most` points in all (null where even their ends are more). A pen reports up to 240 points a second, so a long
// number can pass the server's limit: then every k-th point of each stroke is kept, and its last,
// for the smallest k that fits. Evenly in time, so the pen's path and its speed keep their shape
// (neighbouring samples are a pixel or two apart, under a pen 8 pixels wide); each stroke keeps
// its ends, so none is shortened or lost.
export function thinnedStrokes(strokes, most) {
  const total = strokes.reduce((sum, stroke) => sum + stroke.length, 0);
  if (total <= most) {
    return strokes;
  }
  // Each stroke keeps ceil((n - 1) / k) + 1 points, its first and last among them.
  const kept = (k) => strokes.reduce((sum, stroke) => sum + Math.ceil((stroke.length - 1) / k) + 1, 0);
  let k = 2;
  while (kept(k) > most && k < total) {
    k += 1;
  }
  if (kept(k) > most) {
    return null; // More strokes than half the points: the image goes alone.
  }
  return strokes.map((stroke) => stroke.filter(
    (_, index) => index % k === 0 || index === stroke.length - 1,
  ));
}

// The strokes of one digit of a number, for its correction, which posts the sent image cut to
// the digit's box with `margin` pixels around it (numbers.js): its strokes in the crop's pixels,
// t from the digit's own first point. A stroke wholly within the box (give or take a pixel) is
// the digit's; one wholly outside is another digit's. null where a stroke lies partly in and
// partly out (digits written without lifting the pen, or cut apart by the reader): which of its
// points are the digit's cannot be told, and no strokes are better than wrong ones.
export function digitStrokes(strokes, box, margin) {
  if (strokes === null) {
    return null;
  }
  const [left, top, width, height] = box;
  const inside = ([x, y]) => x >= left - 1 && x <= left + width + 1 && y >= top - 1 && y <= top + height + 1;
  const own = [];
  for (const stroke of strokes) {
    const count = stroke.filter(inside).length;
    if (count === stroke.length) {
      own.push(stroke);
    } else if (count > 0) {
      return null;
    }
  }
  if (own.length === 0) {
    return null;
  }
  const start = Math.min(...own.map((stroke) => stroke[0][2]));
  return own.map((stroke) => stroke.map(([x, y, t]) => [
    round(x - left + margin, 2), round(y - top + margin, 2), round(t - start, 1),
  ]));
}
