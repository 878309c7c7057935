// The pad's geometry: points, the pen's path, the sizes of the copies sent, a digit's crop and
// which digit a point is near. No DOM here, so node's tests import it.

// The canvas's backing store for a displayed size: one pixel per device pixel, so strokes stay
// sharp on high-DPI screens.
export function backingSize(width, height, devicePixelRatio) {
  const ratio = devicePixelRatio || 1;
  return { width: Math.round(width * ratio), height: Math.round(height * ratio) };
}

// A pointer's position in units of the pad's height, as strokes are kept (x from 0 to the pad's
// aspect, y from 0 to 1). rect: the canvas's bounding client rect.
export function padPoint(clientX, clientY, rect) {
  return {
    x: (clientX - rect.left) / rect.height,
    y: (clientY - rect.top) / rect.height,
  };
}

// A stroke kept in pad units, in pixels of a pad `padHeight` pixels high.
export function scaleStroke(stroke, padHeight) {
  return stroke.map((point) => ({ x: point.x * padHeight, y: point.y * padHeight }));
}

// The pen's path through a stroke's points (two or more, in pixels): it runs through the
// midpoints between samples, bending towards each sample, so a quick stroke with samples far
// apart still comes out round instead of as a polygon. { start, curves: [{ control, end }],
// end }: moveTo(start), quadraticCurveTo(control, end) for each curve, then lineTo(end).
export function strokePath(points) {
  const curves = [];
  for (let index = 1; index < points.length - 1; index += 1) {
    const control = points[index];
    const next = points[index + 1];
    curves.push({
      control: { x: control.x, y: control.y },
      end: { x: (control.x + next.x) / 2, y: (control.y + next.y) / 2 },
    });
  }
  const last = points[points.length - 1];
  return { start: { x: points[0].x, y: points[0].y }, curves, end: { x: last.x, y: last.y } };
}

// The size of the drawing as it is sent: sentSize pixels high (the pad's own pixels where it has
// fewer), as wide as the pad's shape makes it.
export function sentImageSize(canvasWidth, canvasHeight, aspect, sentSize) {
  if (canvasHeight <= sentSize) {
    return { width: canvasWidth, height: canvasHeight };
  }
  return { width: Math.round(aspect * sentSize), height: sentSize };
}

// A press that has moved less than `slop` CSS pixels from where it began is still a tap.
export function isStillTap(start, clientX, clientY, slop) {
  return Math.hypot(clientX - start.clientX, clientY - start.clientY) < slop;
}

// Where a digit's box, widened by `margin` pixels on every side, lies in its source image:
// { width, height } of the crop, and `from` (the part of the image inside the crop, in the
// image's pixels: { x, y, width, height }) drawn at `to` in the crop, or from: null where the
// crop misses the image. The rest of the crop is paper.
export function digitCrop(box, margin, sourceWidth, sourceHeight) {
  const [x, y, width, height] = box;
  const left = x - margin;
  const top = y - margin;
  const cropWidth = width + 2 * margin;
  const cropHeight = height + 2 * margin;
  const fromX = Math.max(0, left);
  const fromY = Math.max(0, top);
  const toX = Math.min(sourceWidth, left + cropWidth);
  const toY = Math.min(sourceHeight, top + cropHeight);
  const inside = toX > fromX && toY > fromY;
  return {
    width: cropWidth,
    height: cropHeight,
    from: inside ? { x: fromX, y: fromY, width: toX - fromX, height: toY - fromY } : null,
    to: { x: fromX - left, y: fromY - top },
  };
}

// The index of the box nearest the point (in pad units), if the point is in it or within
// `reach` (a share of the image's height) of it; null otherwise. Boxes are [x, y, width,
// height] in pixels of the sent image, which covers the pad; on a tie the later box wins.
export function nearestBox(point, boxes, { padWidth, padHeight, imageWidth, imageHeight, reach }) {
  // From the pad's units to the sent image's pixels.
  const x = (point.x * padHeight * imageWidth) / padWidth;
  const y = point.y * imageHeight;
  let nearest = null;
  let nearestDistance = reach * imageHeight;
  boxes.forEach(([left, top, width, height], index) => {
    const distance = Math.hypot(
      Math.max(left - x, 0, x - (left + width)),
      Math.max(top - y, 0, y - (top + height)),
    );
    if (distance <= nearestDistance) {
      nearest = index;
      nearestDistance = distance;
    }
  });
  return nearest;
}

// A box's place as percentages of the sent image, which covers the pad: boxes placed so follow
// the pad when it resizes.
export function boxShares(box, imageWidth, imageHeight) {
  const [x, y, width, height] = box;
  return {
    left: `${(100 * x) / imageWidth}%`,
    top: `${(100 * y) / imageHeight}%`,
    width: `${(100 * width) / imageWidth}%`,
    height: `${(100 * height) / imageHeight}%`,
  };
}
