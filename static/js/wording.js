// The text the page shows and announces, built from answers. No DOM here, so node's tests
// import it.

const percentFormat = new Intl.NumberFormat("en", { style: "percent", maximumFractionDigits: 1 });

export function drawingAreaLabel(how) {
  return `Drawing area. ${how} Or upload an image below.`;
}

// Rounding would turn 0.9996 into "100%", a certainty the model does not claim.
export function formatPercent(probability) {
  if (probability >= 0.9995 && probability < 1) {
    return ">99.9%";
  }
  return percentFormat.format(probability);
}

export function capitalise(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

// The two likeliest digits, for "it might be 4 or 9"; without probabilities, the answer itself.
export function topTwo(probabilities, digit) {
  if (!Array.isArray(probabilities)) {
    return [digit, "something else"];
  }
  const ranked = probabilities
    .map((probability, index) => ({ probability, index }))
    .sort((a, b) => b.probability - a.probability);
  return [ranked[0].index, ranked[1].index];
}

export function digitName(index, count) {
  return `digit ${index + 1} of ${count}`;
}

// What is said before an answer for an uploaded file (file: null for a drawing).
export function uploadSource(file) {
  return file === null ? "" : `Result for the uploaded image “${file.name}”. `;
}

// A lone digit's doubt, or "" when the model is sure.
export function digitVerdict(answer) {
  // The server says when this writer's own corrections changed the answer.
  const personal = answer.personal ? PERSONAL_NOTE : "";
  if (!answer.unsure) {
    return personal;
  }
  const [first, second] = topTwo(answer.probabilities, answer.digit);
  return `Not sure — it might be ${first} or ${second}.${personal ? " " + personal : ""}`;
}

export const PERSONAL_NOTE = "Read with the help of your own corrections.";

export function digitAnnouncement(answer, verdict) {
  return `Predicted ${answer.digit}, ${formatPercent(answer.confidence)} confident. ${verdict}`.trim();
}

// Which digits of a number the model doubts: the likely pair for one, the places of several.
export function numberVerdict(digits) {
  const unsure = digits
    .map((reading, index) => ({ reading, index }))
    .filter(({ reading }) => reading.unsure);
  if (unsure.length === 1) {
    const { reading, index } = unsure[0];
    const [first, second] = topTwo(reading.probabilities, reading.digit);
    return `Not sure of ${digitName(index, digits.length)} — it might be ${first} or ${second}.`;
  }
  if (unsure.length > 1) {
    const places = unsure.map(({ index }) => index + 1);
    const listed = `${places.slice(0, -1).join(", ")} and ${places[places.length - 1]}`;
    return `Not sure of digits ${listed} of ${digits.length} (dashed boxes).`;
  }
  return "Not sure of this number.";
}

export const NUMBER_HINT = "Choose a digit to see how sure the model is of it, and to correct it.";

export function digitButtonLabel(index, count, reading) {
  const sureness = reading.unsure ? ", not sure" : "";
  return `${capitalise(digitName(index, count))}: ${reading.digit}${sureness}`;
}

export function digitConfidence(index, count, confidence) {
  return `${capitalise(digitName(index, count))}: ${formatPercent(confidence)} confident`;
}

// The footer: the model's version, with its measured accuracy when /api/model gave it.
export function modelVersionLine(version, info) {
  const figures = [];
  if (info && typeof info.test_accuracy === "number") {
    figures.push(`${formatPercent(info.test_accuracy)} accurate on the MNIST test set`);
  }
  if (info && typeof info.validation_writers_accuracy === "number") {
    figures.push(`${formatPercent(info.validation_writers_accuracy)} on pen digits by people it never saw`);
  }
  return [`Model ${version}`, ...figures].join(" · ");
}

// What the page says once the server has kept a correction. reply: the server's answer.
export function correctionSaved(choice, reply) {
  const what = choice.kind === "right" ? `${choice.label} is right` : `it was ${choice.label}`;
  const replaced = reply.stored === "replaced" ? " (replaces your earlier choice)" : "";
  return `Saved: ${what}${replaced}.`;
}

// What the page says once "Forget my handwriting" was answered. reply: the server's answer.
export function forgottenText(reply) {
  const count = reply.corrections_deleted;
  const deleted = count === 1 ? "1 correction" : `${count} corrections`;
  return reply.forgotten
    ? `Forgotten: ${deleted} of yours deleted. Answers no longer use your handwriting.`
    : "Nothing to forget: this browser has made no corrections.";
}
