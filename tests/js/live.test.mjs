import assert from "node:assert/strict";
import { test } from "node:test";

import { LIVE_ANSWER_INTERVAL_MS, createLiveAnswers } from "../../static/js/live.js";

// A clock the test moves by hand, with its timers.
function manualClock() {
  let now = 0;
  let timers = [];
  return {
    now: () => now,
    setTimeout(callback, milliseconds) {
      const timer = { at: now + milliseconds, callback };
      timers.push(timer);
      return timer;
    },
    clearTimeout(timer) {
      timers = timers.filter((other) => other !== timer);
    },
    advance(milliseconds) {
      now += milliseconds;
      const due = timers.filter((timer) => timer.at <= now);
      timers = timers.filter((timer) => timer.at > now);
      due.forEach((timer) => timer.callback());
    },
    pending: () => timers.length,
  };
}

function pen() {
  const clock = manualClock();
  const state = { drawing: true, ink: 1, busy: false, sent: [] };
  const live = createLiveAnswers({
    isDrawing: () => state.drawing,
    inkVersion: () => state.ink,
    isBusy: () => state.busy,
    send: () => state.sent.push([clock.now(), state.ink]),
    clock,
  });
  return { clock, state, live };
}

test("the first live answer goes an interval after the stroke begins", () => {
  const { clock, state, live } = pen();
  live.start();
  clock.advance(LIVE_ANSWER_INTERVAL_MS - 1);
  assert.deepEqual(state.sent, []);
  clock.advance(1);
  assert.deepEqual(state.sent, [[250, 1]]);
});

test("answers go at most once an interval, with the newest ink", () => {
  const { clock, state, live } = pen();
  live.start();
  clock.advance(250);
  // The answer comes back at once; the ink changes; the next may go at 500.
  state.ink = 2;
  live.schedule();
  clock.advance(100);
  state.ink = 3;
  live.schedule();
  assert.equal(clock.pending(), 1, "one timer, not one per change");
  clock.advance(150);
  assert.deepEqual(state.sent, [[250, 1], [500, 3]]);
});

test("unchanged ink is not sent twice", () => {
  const { clock, state, live } = pen();
  live.start();
  clock.advance(250);
  live.schedule();
  clock.advance(1000);
  assert.deepEqual(state.sent, [[250, 1]]);
});

test("nothing is sent while a request is on its way; its answer schedules the next", () => {
  const { clock, state, live } = pen();
  state.busy = true;
  live.start();
  clock.advance(1000);
  assert.deepEqual(state.sent, []);
  state.busy = false;
  live.schedule(); // The request was answered, and the interval is long past.
  clock.advance(0);
  assert.deepEqual(state.sent, [[1000, 1]]);
});

test("a request that starts while the timer waits keeps it from sending", () => {
  const { clock, state, live } = pen();
  live.start();
  state.busy = true;
  clock.advance(250);
  assert.deepEqual(state.sent, []);
});

test("halted, no more answers until the next stroke starts them again", () => {
  const { clock, state, live } = pen();
  live.halt();
  live.schedule();
  clock.advance(1000);
  assert.deepEqual(state.sent, []);
  live.start();
  clock.advance(250);
  assert.deepEqual(state.sent, [[1250, 1]]);
});

test("the pen lifting cancels the answer waiting to go", () => {
  const { clock, state, live } = pen();
  live.start();
  state.drawing = false;
  live.cancelTimer();
  assert.equal(clock.pending(), 0);
  clock.advance(1000);
  assert.deepEqual(state.sent, []);
});

test("no answer without a stroke under way", () => {
  const { clock, state, live } = pen();
  state.drawing = false;
  live.start();
  clock.advance(1000);
  assert.deepEqual(state.sent, []);
});
