// The pad's constants as the page receives them. model/pad.py is their one source, and the
// server's settings (web/settings.py) that of the strokes' limits: index() renders them into
// data attributes of <body>, and this reads them back, so no file under static/ carries its own
// copy. No DOM here, so node's tests import it.

// data-* attribute name on <body> -> the name the scripts use.
const PAGE_CONSTANTS = {
  "sent-size": "sentSize",
  "number-pad-aspect": "numberPadAspect",
  "pen-width-share": "penWidthShare",
  "strokes-max-strokes": "strokesMaxStrokes",
  "strokes-max-points": "strokesMaxPoints",
  "strokes-max-outside": "strokesMaxOutside",
  "strokes-max-seconds": "strokesMaxSeconds",
};
// Those that may be 0: points kept within the image itself.
const MAY_BE_ZERO = new Set(["strokes-max-outside"]);

// `dataset`: <body>'s dataset, or any object with the same camel-cased keys. A constant that is
// missing or not a positive number (or 0, where it may be) is a page rendered without them,
// which cannot draw or send the right picture: better to fail at start-up, naming it, than to
// send wrong images.
export function readPadConstants(dataset) {
  const constants = {};
  for (const [attribute, name] of Object.entries(PAGE_CONSTANTS)) {
    const text = dataset[datasetKey(attribute)];
    const value = Number(text);
    if (text === undefined || text === "" || !Number.isFinite(value) || value < 0
        || (value === 0 && !MAY_BE_ZERO.has(attribute))) {
      throw new Error(`The page lacks a valid data-${attribute} on <body> (got ${text}).`);
    }
    constants[name] = value;
  }
  return constants;
}

// How the DOM names data-sent-size in `dataset`: sentSize.
export function datasetKey(attribute) {
  return attribute.replace(/-([a-z])/g, (_, letter) => letter.toUpperCase());
}
