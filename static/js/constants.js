// The pad's constants as the page receives them. model/pad.py is their one source: index()
// renders page_constants() into data attributes of <body>, and this reads them back, so no
// file under static/ carries its own copy. No DOM here, so node's tests import it.

// data-* attribute name on <body> -> the name the scripts use.
const PAGE_CONSTANTS = {
  "sent-size": "sentSize",
  "number-pad-aspect": "numberPadAspect",
  "pen-width-share": "penWidthShare",
};

// `dataset`: <body>'s dataset, or any object with the same camel-cased keys. A constant that is
// missing or not a positive number is a page rendered without them, which cannot draw or send
// the right picture: better to fail at start-up, naming it, than to send wrong images.
export function readPadConstants(dataset) {
  const constants = {};
  for (const [attribute, name] of Object.entries(PAGE_CONSTANTS)) {
    const text = dataset[datasetKey(attribute)];
    const value = Number(text);
    if (text === undefined || text === "" || !Number.isFinite(value) || value <= 0) {
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
