// A reader of received frames: a bounded queue with recv(timeout, signal)
// and async iteration. Buses create one per subscriber so that the admin
// channel, several nodes' streams and a trace can all read one bus.

import type { Clock } from "../util/clock.js";
import { AbortedError } from "../util/errors.js";
import { CanBusClosedError, CanReceiveOverflowError } from "./errors.js";
import type { CanFilter } from "./filter.js";
import type { CanFrame } from "./frame.js";
import { onAbort as subscribeAbort } from "../util/abort.js";

export interface ReaderOptions {
  /** Frames this reader wants (userland filter on top of the bus's own). Empty = all. */
  filters?: readonly CanFilter[];
  /** Also deliver controller error frames. Default false. */
  errors?: boolean;
  /** Queue bound; beyond it frames are counted as lost and the next recv reports it. Default 65536. */
  limit?: number;
  /**
   * Called synchronously as each frame reaches this reader, before anyone
   * reads it: when it was received, not when a consumer got round to it
   * (a trace's timestamps).
   */
  onFrame?: (frame: CanFrame) => void;
}

export interface RecvOptions {
  signal?: AbortSignal;
}

/** Something frames can be read from: a bus or one of its readers. */
export interface FrameSource extends AsyncIterable<CanFrame> {
  /**
   * The next frame. Resolves `undefined` when `timeoutMs` passes first
   * (0 = only what is already queued; omitted = wait indefinitely).
   * Rejects with AbortedError on abort, CanBusClosedError once the bus is
   * closed and drained, or the bus's failure.
   */
  recv(timeoutMs?: number, options?: RecvOptions): Promise<CanFrame | undefined>;
}

export interface CanReader extends FrameSource {
  /** Drops the frames queued so far; returns how many. */
  drain(): number;
  /** Stops this reader; its queue is dropped. */
  close(): void;
}

interface Waiter {
  resolve(frame: CanFrame | undefined): void;
  reject(error: Error): void;
  cleanup(): void;
}

const DEFAULT_LIMIT = 65536;

export class FrameQueue implements CanReader {
  readonly filters: readonly CanFilter[];
  readonly wantsErrors: boolean;
  private readonly limit: number;
  private readonly onFrame: ((frame: CanFrame) => void) | undefined;
  private queue: CanFrame[] = [];
  private head = 0;
  private readonly waiters: Waiter[] = [];
  private lost = 0;
  private ended = false;
  private failure: Error | undefined;
  /** A loss upstream of this reader (at an adapter), reported by the next recv. */
  private reported: Error | undefined;

  constructor(
    private readonly channel: string,
    private readonly clock: Clock,
    options: ReaderOptions,
    private readonly onClose: (q: FrameQueue) => void,
  ) {
    this.filters = options.filters ?? [];
    this.wantsErrors = options.errors ?? false;
    this.limit = options.limit ?? DEFAULT_LIMIT;
    this.onFrame = options.onFrame;
  }

  /** Frames waiting to be read. */
  get size(): number {
    return this.queue.length - this.head;
  }

  push(frame: CanFrame): void {
    if (this.ended) return;
    this.onFrame?.(frame);
    const w = this.waiters.shift();
    if (w) {
      w.cleanup();
      w.resolve(frame);
      return;
    }
    if (this.size >= this.limit) {
      this.lost++;
      return;
    }
    this.queue.push(frame);
  }

  /** The bus closed: queued frames can still be read, then recv rejects and iteration ends. */
  end(): void {
    this.ended = true;
    this.onClose(this);
    for (const w of this.waiters.splice(0)) {
      w.cleanup();
      w.reject(new CanBusClosedError(this.channel));
    }
  }

  fail(error: Error): void {
    this.failure = error;
    for (const w of this.waiters.splice(0)) {
      w.cleanup();
      w.reject(error);
    }
  }

  /**
   * Frames were lost before they reached this bus (an adapter's receive
   * FIFO overran): a waiting recv rejects with `error` now, otherwise the
   * next one does. Once; the reader keeps working.
   */
  report(error: Error): void {
    if (this.ended || this.failure) return;
    const w = this.waiters.shift();
    if (w) {
      w.cleanup();
      w.reject(error);
      return;
    }
    this.reported ??= error;
  }

  drain(): number {
    const n = this.size;
    this.queue = [];
    this.head = 0;
    this.lost = 0;
    return n;
  }

  close(): void {
    this.drain();
    this.end();
  }

  recv(timeoutMs?: number, options: RecvOptions = {}): Promise<CanFrame | undefined> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(new AbortedError("CAN receive", signal.reason));
    if (this.reported) {
      const e = this.reported;
      this.reported = undefined;
      return Promise.reject(e);
    }
    if (this.lost > 0) {
      const lost = this.lost;
      this.lost = 0;
      return Promise.reject(new CanReceiveOverflowError(this.channel, lost));
    }
    if (this.size > 0) return Promise.resolve(this.take());
    if (this.failure) return Promise.reject(this.failure);
    if (this.ended) return Promise.reject(new CanBusClosedError(this.channel));
    if (timeoutMs === 0) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      let unsubscribeAbort = (): void => undefined;
      let cancelTimer: (() => void) | undefined;
      const onAbort = (): void => {
        remove();
        reject(new AbortedError("CAN receive", signal?.reason));
      };
      const waiter: Waiter = {
        resolve,
        reject,
        cleanup: () => {
          cancelTimer?.();
          unsubscribeAbort();
        },
      };
      const remove = (): void => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        waiter.cleanup();
      };
      if (timeoutMs !== undefined) {
        cancelTimer = this.clock.schedule(timeoutMs, () => {
          remove();
          resolve(undefined);
        });
      }
      unsubscribeAbort = subscribeAbort(signal, onAbort);
      this.waiters.push(waiter);
    });
  }

  async *[Symbol.asyncIterator](): AsyncIterator<CanFrame> {
    for (;;) {
      let frame: CanFrame | undefined;
      try {
        frame = await this.recv();
      } catch (e) {
        if (e instanceof CanBusClosedError) return;
        throw e;
      }
      if (frame) yield frame;
    }
  }

  private take(): CanFrame {
    const frame = this.queue[this.head++]!;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return frame;
  }
}
