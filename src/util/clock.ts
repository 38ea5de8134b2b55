// Time for everything that waits: deadlines, polls, bus-time models, flash
// timings of simulated devices. Library code never calls setTimeout directly;
// it asks a Clock, so tests can run whole flashes on virtual time
// (VirtualClock) and the bus model can hold sub-millisecond deadlines on real
// time (realClock).

import { performance } from "node:perf_hooks";
import { AbortedError } from "./errors.js";

export interface Clock {
  /** Monotonic time in milliseconds (fractional). */
  now(): number;
  /** Runs `fn` once, `ms` milliseconds from now (0 = as soon as possible). Returns a cancel function. */
  schedule(ms: number, fn: () => void): () => void;
}

/** Below this many ms a real-clock timer is finished by polling the event loop, not setTimeout. */
const PRECISE_WINDOW_MS = 2;

/**
 * Wall-clock time. Timers further away than a couple of milliseconds use
 * setTimeout; the last stretch is finished by yielding to the event loop with
 * setImmediate until the deadline, so sub-millisecond bus timings stay within
 * tens of microseconds. Polling only happens while such a timer is pending.
 */
export const realClock: Clock = {
  now: () => performance.now(),
  schedule(ms, fn) {
    const due = performance.now() + Math.max(0, ms);
    let cancelled = false;
    let timeout: NodeJS.Timeout | undefined;
    let immediate: NodeJS.Immediate | undefined;
    const step = (): void => {
      timeout = undefined;
      immediate = undefined;
      if (cancelled) return;
      const left = due - performance.now();
      if (left <= 0) fn();
      else if (left > PRECISE_WINDOW_MS) timeout = setTimeout(step, left - PRECISE_WINDOW_MS);
      else immediate = setImmediate(step);
    };
    if (ms > PRECISE_WINDOW_MS) timeout = setTimeout(step, ms - PRECISE_WINDOW_MS);
    else immediate = setImmediate(step);
    return () => {
      cancelled = true;
      if (timeout) clearTimeout(timeout);
      if (immediate) clearImmediate(immediate);
    };
  },
};

/**
 * Resolves after `ms` on `clock`; rejects with AbortedError when `signal`
 * fires. For polls with a deadline and device timings, not for pacing
 * protocol steps that have an event to wait for.
 */
export function delay(
  clock: Clock,
  ms: number,
  signal?: AbortSignal,
  operation = "delay",
): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new AbortedError(operation, signal.reason));
      return;
    }
    const onAbort = (): void => {
      cancel();
      reject(new AbortedError(operation, signal?.reason));
    };
    const cancel = clock.schedule(ms, () => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    });
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

interface VirtualTimer {
  at: number;
  seq: number;
  fn: () => void;
}

/**
 * Simulated time for tests and in-process simulations. Time stands still
 * until `run()` finds the event loop idle, then jumps to the next timer.
 * A run whose promise can never settle (nothing scheduled, nothing pending)
 * fails with a "stalled" error instead of hanging the test.
 */
export class VirtualClock implements Clock {
  private t = 0;
  private seq = 0;
  private readonly timers: VirtualTimer[] = [];
  private driving = false;

  constructor(start = 0) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  schedule(ms: number, fn: () => void): () => void {
    const timer: VirtualTimer = { at: this.t + Math.max(0, ms), seq: this.seq++, fn };
    this.insert(timer);
    return () => {
      const i = this.timers.indexOf(timer);
      if (i >= 0) this.timers.splice(i, 1);
    };
  }

  /** Number of timers waiting to fire. */
  get pending(): number {
    return this.timers.length;
  }

  /**
   * Drives the simulation until `work` settles and returns its result.
   * `limitMs` bounds simulated time (default one hour) so a livelock fails.
   */
  async run<T>(work: Promise<T>, limitMs = 3_600_000): Promise<T> {
    this.beginDriving("run");
    try {
      return await this.runLoop(work, limitMs);
    } finally {
      this.driving = false;
    }
  }

  private beginDriving(what: string): void {
    if (this.driving) {
      throw new Error(
        `VirtualClock.${what}() while the clock is already being driven (await advance() directly, not inside run())`,
      );
    }
    this.driving = true;
  }

  private async runLoop<T>(work: Promise<T>, limitMs: number): Promise<T> {
    let settled = false;
    const watched = work.finally(() => {
      settled = true;
    });
    watched.catch(() => undefined);
    const end = this.t + limitMs;
    for (;;) {
      await settleEventLoop();
      if (settled) return watched;
      const next = this.timers.shift();
      if (!next) {
        throw new Error(`virtual clock stalled at t=${this.t.toFixed(3)} ms: nothing scheduled`);
      }
      if (next.at > end) {
        this.insert(next);
        throw new Error(`virtual clock passed its limit of ${limitMs} ms`);
      }
      this.t = Math.max(this.t, next.at);
      next.fn();
    }
  }

  /** Fires every timer due within `ms` from now, in order, letting the event loop settle between them. */
  async advance(ms: number): Promise<void> {
    this.beginDriving("advance");
    try {
      await this.advanceLoop(ms);
    } finally {
      this.driving = false;
    }
  }

  private async advanceLoop(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settleEventLoop();
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.t = Math.max(this.t, next.at);
      next.fn();
    }
    this.t = end;
    await settleEventLoop();
  }

  private insert(timer: VirtualTimer): void {
    // Keep sorted by (at, seq); most timers land at the end.
    let i = this.timers.length;
    while (i > 0) {
      const prev = this.timers[i - 1]!;
      if (prev.at < timer.at || (prev.at === timer.at && prev.seq < timer.seq)) break;
      i--;
    }
    this.timers.splice(i, 0, timer);
  }
}

/** Lets pending promise chains and immediates run (a few event-loop turns). */
async function settleEventLoop(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((r) => setImmediate(r));
}
