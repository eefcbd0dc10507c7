// lane.js — a page's step() to the worker and back without postMessage. Measured 2026-12-04 in Chromium 156 (AMD
// EPYC): a postMessage round trip between a page and a worker costs 0.19-0.27 ms, as much as a step of the demo
// model (~0.35 ms); the same round trip through a SharedArrayBuffer that both sides watch with Atomics, 0.02-0.04.
//
// After a model's step, when nothing else runs in the worker, it listens on the lane (blocked in Atomics.wait, no
// CPU) for up to LINGER ms instead of going back to its event loop. The page's next step goes by the lane if the
// worker is listening and no other call of the page is on its way; otherwise it is a message as before. Every
// message the page posts is counted here (just after it is posted) and wakes the worker, which leaves the lane for
// its event loop while a message is waiting: calls keep their order. The worker runs a lane step through the same code as a
// posted one (worker.js ops.call). Only in cross-origin isolated pages (SharedArrayBuffer) with Atomics.waitAsync;
// elsewhere every call is a message.
//
// The buffer: WORDS int32 words, then the data: the logits (float32), or an error { code, message } as UTF-8 JSON.
//   word STATE: AWAY (the worker is in its event loop), LISTEN (it waits on the lane), REQUEST (the page wrote a
//     step), REPLY (the worker wrote its answer; the data is the page's until it reads it), REPLY_AWAY (the same,
//     and the worker went back to its event loop meanwhile)
//   POSTED: messages the page has posted; the worker listens only while it has received them all (or more: the page
//     counts a message just after posting it)
//   SIGNAL: added to by the page after each change of STATE or POSTED; the worker waits on it (so a change made
//     between its look and its wait ends the wait at once)
//   MODEL, STATE_HANDLE (0: the call gave no state), TOKEN: the request; OK (1, 0 for an error), LENGTH (floats, or
//     bytes of the error), TOKENS (the state's token count after the step): the reply
import { threadsMissing } from './runtime.js';
const [STATE, POSTED, SIGNAL, MODEL, STATE_HANDLE, TOKEN, OK, LENGTH, TOKENS, WORDS] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
const [AWAY, LISTEN, REQUEST, REPLY, REPLY_AWAY] = [0, 1, 2, 3, 4];
const LINGER = 50; // ms the worker listens after a step: a page drawing each token before the next waits ~16
const DATA_BYTES = 1 << 20; // logits of up to 262,144 outputs; a model with more steps by messages

/** Why this page cannot have a lane, or null when it can: what threads need (runtime.js: isolation, SharedArrayBuffer,
 * Atomics, each checked), and Atomics.waitAsync. */
export function laneMissing() {
  return threadsMissing() ?? (typeof Atomics.waitAsync !== 'function' ? 'Atomics.waitAsync is not defined' : null);
}

/** The page's end; null where the page cannot have one (laneMissing says why). */
export function pageLane() {
  if (laneMissing()) return null;
  const buffer = new SharedArrayBuffer(WORDS * 4 + DATA_BYTES);
  const words = new Int32Array(buffer, 0, WORDS);
  const signal = () => (Atomics.add(words, SIGNAL, 1), Atomics.notify(words, SIGNAL));
  return {
    buffer,

    /** Called after each message the page posts: the worker leaves the lane to read it. */
    posting() {
      Atomics.add(words, POSTED, 1);
      signal();
    },

    /** Sends a step if the worker listens and its logits fit; returns the promise of the reply (the worker's
     * { value, tokens }, or a rejection with its error), or undefined if the step must go as a message. */
    step(model, token, state, numOutputs) {
      if (!Number.isInteger(token) || token < 0 || token > 0x7fffffff || numOutputs * 4 > DATA_BYTES) return undefined;
      if (Atomics.load(words, STATE) !== LISTEN) return undefined;
      words[MODEL] = model; // the worker reads these only after it sees REQUEST
      words[STATE_HANDLE] = state;
      words[TOKEN] = token;
      if (Atomics.compareExchange(words, STATE, LISTEN, REQUEST) !== LISTEN) return undefined; // it just left
      signal();
      return reply(buffer, words, state, signal);
    },
  };
}

async function reply(buffer, words, state, signal) {
  for (let s; (s = Atomics.load(words, STATE)) === REQUEST; ) {
    const wait = Atomics.waitAsync(words, STATE, s);
    if (wait.async) await wait.value;
  }
  const ok = words[OK] === 1, length = words[LENGTH], tokens = words[TOKENS];
  const result = ok ? new Float32Array(buffer, WORDS * 4, length).slice() : JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, WORDS * 4, length).slice()));
  // the data is the worker's again: it listens on if it still waits, else it went back to its event loop
  if (Atomics.compareExchange(words, STATE, REPLY, LISTEN) === REPLY) signal();
  else Atomics.store(words, STATE, AWAY);
  if (!ok) throw result;
  return { value: result, tokens: state ? { [state]: tokens } : {} };
}

/** The worker's end, on the page's buffer. */
export function workerLane(buffer) {
  const words = new Int32Array(buffer, 0, WORDS);
  let received = 0;
  // a message of the page is on its way (the page counts a message just after posting it, so the worker may have
  // received it first)
  const waiting = () => ((Atomics.load(words, POSTED) - received) | 0) > 0;
  const leave = (from, to) => Atomics.compareExchange(words, STATE, from, to) === from;

  /** Writes the answer of step(model, token, state) — { value, tokens }, or the error it throws — for the page. */
  async function answer(step) {
    const state = words[STATE_HANDLE];
    try {
      const { value, tokens } = await step(words[MODEL], words[TOKEN], state);
      new Float32Array(buffer, WORDS * 4, value.length).set(value);
      words[LENGTH] = value.length;
      words[TOKENS] = state ? tokens[state] : 0;
      words[OK] = 1;
    } catch (e) {
      const text = JSON.stringify({ code: e?.code ?? 'MG_EWORKER', message: String(e?.message ?? e).slice(0, 4096) });
      const bytes = new TextEncoder().encode(text);
      new Uint8Array(buffer, WORDS * 4, bytes.length).set(bytes);
      words[LENGTH] = bytes.length;
      words[OK] = 0;
    } finally {
      Atomics.store(words, STATE, REPLY); // whatever happened, the page's step ends
      Atomics.notify(words, STATE);
    }
  }

  return {
    /** Called for each message the worker receives. */
    received() {
      received = (received + 1) | 0; // as POSTED, an int32 that wraps
    },

    /** Starts listening (before the reply of the step that makes the worker listen is posted, so the page's next
     * step finds it); false if the page has not read the lane's last reply yet. */
    open() {
      return leave(AWAY, LISTEN);
    },

    /** After open(): answers the page's steps by the lane until a message is on its way or LINGER ms pass without
     * a step. */
    async listen(step) {
      for (;;) {
        const seen = Atomics.load(words, SIGNAL), s = Atomics.load(words, STATE);
        if (s === REQUEST) await answer(step);
        else if (s === LISTEN || s === REPLY) {
          const away = s === LISTEN ? AWAY : REPLY_AWAY;
          if (waiting()) {
            if (leave(s, away)) return;
          } else if (Atomics.wait(words, SIGNAL, seen, LINGER) === 'timed-out' && leave(s, away)) return;
        } else return;
      }
    },
  };
}
