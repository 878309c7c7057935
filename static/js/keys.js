// What a key press asks for. No DOM here, so node's tests import it.

const DIGIT_KEY = /^[0-9]$/;

// "undo" (Ctrl or Cmd+Z), "clear" (Escape or Delete), "digit" (a digit key alone: a correction,
// where one is offered and the key is not typing text) or null. `event`: a KeyboardEvent, or
// anything with its key and modifier fields.
export function keyCommand(event) {
  const commandKey = event.ctrlKey || event.metaKey;
  if (commandKey && !event.shiftKey && !event.altKey && event.key.toLowerCase() === "z") {
    return "undo";
  }
  if ((event.key === "Escape" || event.key === "Delete") && !commandKey && !event.altKey) {
    return "clear";
  }
  if (DIGIT_KEY.test(event.key) && !commandKey && !event.altKey) {
    return "digit";
  }
  return null;
}

// Left and right arrows, Home and End move between `count` buttons: the index the key moves to
// from `at`, kept within them, or null for another key or when no button has the focus (at: -1).
export function arrowMove(key, at, count) {
  const moves = { ArrowLeft: at - 1, ArrowRight: at + 1, Home: 0, End: count - 1 };
  if (at === -1 || !(key in moves)) {
    return null;
  }
  return Math.min(Math.max(moves[key], 0), count - 1);
}
