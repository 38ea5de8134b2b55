// Time for everything that waits: deadlines, polls, bus-time models, flash
// timings of simulated devices. Library code never calls setTimeout directly;
// it asks a Clock, so tests can run whole flashes on virtual time
// (VirtualClock) and the bus model can hold sub-millisecond deadlines on real
// time (realClock).

import { performance } from "node:perf_hooks";
import { AbortedError } from "./errors.js";
import { onAbort as subscribeAbort } from "./abort.js";

export interface Clock {
  /** Monotonic time in milliseconds (fractional). */
  now(): number;
  /** Runs `fn` once, `ms` milliseconds from now (0 = as soon as possible). Returns a cancel function. */
  schedule(ms: number, fn: () => void): () => void;
}

/** Below this many ms the precise clock finishes a wait by polling the event loop, not setTimeout. */
export const PRECISE_WINDOW_MS = 2;

interface RealTimer {
  due: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * Wall-clock time with ordered, sub-millisecond timers. All timers live in
 * one queue sorted by (due, creation); one driver reads the time once per
 * tick and fires everything due in that order — timers never overtake each
 * other (separate spinners can: a later one may read a later "now" in the
 * same tick). Far timers wait on setTimeout; the last couple of milliseconds
 * are finished by yielding to the event loop with setImmediate, so bus-time
 * models hold tens of microseconds. Polling happens only while a timer is
 * that close.
 */
class RealClock implements Clock {
  private readonly queue: RealTimer[] = [];
  private seq = 0;
  private timeout: NodeJS.Timeout | undefined;
  /** When the pending `timeout` fires (events-only clock): a timer due later needs no new one. */
  private timeoutAt = 0;
  private immediate: NodeJS.Immediate | undefined;

  /** `windowMs`: how close to a deadline it polls instead of sleeping (0: never polls). */
  constructor(private readonly windowMs: number) {}

  now(): number {
    return performance.now();
  }

  schedule(ms: number, fn: () => void): () => void {
    const now = performance.now();
    const timer: RealTimer = {
      due: now + Math.max(0, ms),
      seq: this.seq++,
      fn,
      cancelled: false,
    };
    let i = this.queue.length;
    while (i > 0) {
      const prev = this.queue[i - 1]!;
      if (prev.due < timer.due || (prev.due === timer.due && prev.seq < timer.seq)) break;
      i--;
    }
    this.queue.splice(i, 0, timer);
    if (i === 0) this.arm(now);
    return () => {
      timer.cancelled = true;
      const at = this.queue.indexOf(timer);
      if (at >= 0) this.queue.splice(at, 1);
      if (this.queue.length === 0) this.idle();
    };
  }

  /**
   * Nothing is queued. The events-only clock keeps its pending setTimeout,
   * unreferenced (it holds no process open), for the next timer: a reply
   * that cancels its timeout and the next request that schedules one cost
   * no clearTimeout/setTimeout pair each (on UML every one reads the clock
   * through a system call). The precise clock stops polling at once.
   */
  private idle(): void {
    if (this.windowMs === 0 && this.timeout) this.timeout.unref();
    else this.disarm();
  }

  private disarm(): void {
    if (this.timeout) clearTimeout(this.timeout);
    if (this.immediate) clearImmediate(this.immediate);
    this.timeout = undefined;
    this.immediate = undefined;
  }

  /** (Re)plans the driver for the earliest timer; `now` when the caller has just read it. */
  private arm(now = performance.now()): void {
    const first = this.queue[0];
    if (!first) return this.disarm();
    const left = first.due - now;
    if (this.windowMs === 0) {
      // Timers and events only: a due timer fires on the next turn, a later one on setTimeout.
      if (left <= 0) {
        if (this.timeout) clearTimeout(this.timeout);
        this.timeout = undefined;
        this.immediate ??= setImmediate(() => this.tick());
        return;
      }
      if (this.immediate) return; // a turn is coming: it re-plans
      // A pending setTimeout that fires no later than this timer is due will do: its tick re-plans.
      if (this.timeout && this.timeoutAt <= first.due) {
        this.timeout.ref();
        return;
      }
      if (this.timeout) clearTimeout(this.timeout);
      const wait = Math.ceil(left);
      this.timeoutAt = now + wait;
      this.timeout = setTimeout(() => this.tick(), wait);
      return;
    }
    this.disarm();
    if (left > this.windowMs) this.timeout = setTimeout(() => this.tick(), left - this.windowMs);
    else this.immediate = setImmediate(() => this.tick());
  }

  private tick(): void {
    this.timeout = undefined;
    this.immediate = undefined;
    const now = performance.now();
    while (this.queue.length > 0 && this.queue[0]!.due <= now) {
      const t = this.queue.shift()!;
      if (!t.cancelled) t.fn();
    }
    this.arm();
  }
}

/**
 * Wall-clock time on timers and events only (no polling): what talks to real
 * buses and ports. Timers fire in order, within about a millisecond.
 */
export const realClock: Clock = new RealClock(0);

/**
 * Wall-clock time that holds tens of microseconds by polling the event loop
 * in the last couple of milliseconds before a deadline: for the bus-time
 * model of the virtual CAN channel and device models paced byte by byte.
 * It keeps a core busy while timers are that close — never for real links.
 */
export const preciseClock: Clock = new RealClock(PRECISE_WINDOW_MS);

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
    let unsubscribeAbort = (): void => undefined;
    if (signal?.aborted) {
      reject(new AbortedError(operation, signal.reason));
      return;
    }
    const onAbort = (): void => {
      cancel();
      reject(new AbortedError(operation, signal?.reason));
    };
    const cancel = clock.schedule(ms, () => {
      unsubscribeAbort();
      resolve();
    });
    unsubscribeAbort = subscribeAbort(signal, onAbort);
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
