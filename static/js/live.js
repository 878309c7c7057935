// Live answers: while the pen moves, when to send the drawing so far. No DOM here, so node's
// tests import it (with a clock of their own).

// While the pen moves, the drawing so far is sent at most once every quarter second, and only
// when the request before it has been answered. Four answers a second is enough for the digit to
// follow the stroke, and a digit drawn in about a second then costs a handful of requests (one
// more for each stroke, when the pen lifts), well within the server's rate limit per client
// (DIGITPAD_RATE_LIMIT) even for someone drawing digit after digit.
export const LIVE_ANSWER_INTERVAL_MS = 250;

const pageClock = {
  now: () => performance.now(),
  setTimeout: (callback, milliseconds) => setTimeout(callback, milliseconds),
  clearTimeout: (timer) => clearTimeout(timer),
};

// isDrawing(): whether a stroke is under way; inkVersion(): a number that grows with every change
// of the ink, so unchanged ink is never sent twice; isBusy(): whether a request is on its way;
// send(): sends the drawing as it is now as a live request.
export function createLiveAnswers({ isDrawing, inkVersion, isBusy, send, clock = pageClock }) {
  let timer = null; // The timer that sends the next one.
  let dueAt = 0; // When it may be sent.
  let sentInkVersion = -1; // Which ink the last one showed.
  let stopped = false;

  // A stroke began (in Digit mode). The first live answer waits an interval too: a dot or a
  // short dash is answered at pen up.
  function start() {
    stopped = false;
    dueAt = clock.now() + LIVE_ANSWER_INTERVAL_MS;
    schedule();
  }

  // No more live answers until the next stroke: a number's strokes are each answered when the
  // pen lifts, and a server that refuses (a rate limit, a model still loading) is not asked
  // again four times a second; the final request, sent when the pen lifts, says what is wrong.
  function halt() {
    stopped = true;
  }

  // The pen lifted or the pad was cleared: the one waiting to go is not sent.
  function cancelTimer() {
    if (timer !== null) {
      clock.clearTimeout(timer);
      timer = null;
    }
  }

  // Called when the ink changes and when a live request is answered: the newest ink goes out
  // once the interval is up and no request is on its way.
  function schedule() {
    if (!isDrawing() || stopped || timer !== null || isBusy() || inkVersion() === sentInkVersion) {
      return;
    }
    timer = clock.setTimeout(fire, Math.max(0, dueAt - clock.now()));
  }

  function fire() {
    timer = null;
    if (!isDrawing() || isBusy()) {
      return;
    }
    sentInkVersion = inkVersion();
    dueAt = clock.now() + LIVE_ANSWER_INTERVAL_MS;
    send();
  }

  return { start, halt, cancelTimer, schedule };
}
