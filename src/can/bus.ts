// The CanBus contract every backend implements (virtual channel, SocketCAN),
// and BaseBus, which owns the parts they share: readers with their own
// filters and queues, dispatch of received frames, bus state from error
// frames, close/failure bookkeeping and the registry of open buses.

import type { Clock } from "../util/clock.js";
import { CanBusClosedError } from "./errors.js";
import type { CanFilter } from "./filter.js";
import { matchesAny } from "./filter.js";
import type { CanFrame } from "./frame.js";
import { busStateFromErrorFrame, type BusState } from "./errorframe.js";
import { FrameQueue, type CanReader, type FrameSource, type ReaderOptions } from "./reader.js";
import { trackBus, untrackBus } from "./registry.js";

export type { BusState } from "./errorframe.js";
export type { CanReader, FrameSource, ReaderOptions, RecvOptions } from "./reader.js";

/**
 * Frames bus.recv() keeps for a caller who reads late or never (about half a
 * second of a full 1 Mbit/s bus); beyond it the next recv reports the loss.
 */
const MAIN_READER_LIMIT = 4096;

export interface SendOptions {
  signal?: AbortSignal;
}

/** What a bus says about itself: its backend, whether it is simulated, its bitrate. */
export interface BusInfo {
  /** The backend that opened it: "socketcan", "virtual", "sim". */
  readonly backend: string;
  /** In-process (not a printer's bus): no Klipper to guard, no USB bridge behind it. */
  readonly simulated: boolean;
  /** Nominal bitrate in bit/s, where the backend knows it. */
  readonly bitrate?: number | undefined;
}

export interface CanBus extends FrameSource {
  /** The name it was opened by: "can0", "virtual:demo", … */
  readonly channel: string;
  readonly info: BusInfo;
  /** The clock this bus (and everything talking over it) keeps time with. */
  readonly clock: Clock;
  /**
   * Queues a frame for transmission. Resolves once the backend has accepted
   * it (kernel queue, virtual transmit queue, a USB adapter's transmit
   * window); waits while that queue is full; rejects (never drops silently)
   * when it cannot be sent. Where a backend learns only later that an
   * accepted frame was lost (a gs_usb adapter that never confirms it), every
   * reader's next recv rejects with that error.
   */
  send(frame: CanFrame, options?: SendOptions): Promise<void>;
  /** A separate reader with its own queue and filters; sees frames received after it was created. */
  subscribe(options?: ReaderOptions): CanReader;
  /** Endpoint-level receive filters (kernel filters on SocketCAN). Empty = everything. */
  setFilters(filters: readonly CanFilter[]): void;
  /** Controller state where the backend knows it, from error frames. */
  readonly state: BusState;
  readonly closed: boolean;
  /** Releases the endpoint. Pending receives end; later sends reject with CanBusClosedError. */
  close(): Promise<void>;
}

export abstract class BaseBus implements CanBus {
  private readonly readers = new Set<FrameQueue>();
  /** Reader behind bus.recv() and iteration: everything received since open. */
  private readonly mainReader: FrameQueue;
  private failure: Error | undefined;
  private isClosed = false;
  protected busState: BusState = "unknown";

  protected constructor(
    readonly channel: string,
    readonly clock: Clock,
    readonly info: BusInfo,
  ) {
    this.mainReader = new FrameQueue(channel, clock, { limit: MAIN_READER_LIMIT }, (r) =>
      this.readers.delete(r),
    );
    this.readers.add(this.mainReader);
    trackBus(this);
  }

  get state(): BusState {
    return this.busState;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  async send(frame: CanFrame, options: SendOptions = {}): Promise<void> {
    if (this.isClosed) throw new CanBusClosedError(this.channel);
    if (this.failure) throw this.failure;
    await this.transmit(frame, options);
  }

  subscribe(options: ReaderOptions = {}): CanReader {
    const reader = new FrameQueue(this.channel, this.clock, options, (r) => this.readers.delete(r));
    if (this.isClosed) reader.end();
    else if (this.failure) reader.fail(this.failure);
    else this.readers.add(reader);
    return reader;
  }

  recv(timeoutMs?: number, options?: { signal?: AbortSignal }): Promise<CanFrame | undefined> {
    return this.mainReader.recv(timeoutMs, options);
  }

  [Symbol.asyncIterator](): AsyncIterator<CanFrame> {
    return this.mainReader[Symbol.asyncIterator]();
  }

  abstract setFilters(filters: readonly CanFilter[]): void;

  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    try {
      await this.release();
    } finally {
      for (const r of [...this.readers]) r.end();
      this.readers.clear();
      untrackBus(this);
    }
  }

  /** Backend transmit; called only while open and healthy. */
  protected abstract transmit(frame: CanFrame, options: SendOptions): Promise<void>;

  /** Backend teardown; called once by close(). */
  protected abstract release(): Promise<void>;

  /** Hands a received frame to every reader whose filters accept it. */
  protected dispatch(frame: CanFrame): void {
    if (frame.error) {
      const next = busStateFromErrorFrame(frame);
      if (next) this.busState = next;
    }
    for (const r of this.readers) {
      if (frame.error ? r.wantsErrors : matchesAny(frame, r.filters)) r.push(frame);
    }
  }

  /** Frames were lost before reaching this endpoint (at an adapter): every reader's next recv says so, once. */
  protected reportLoss(error: Error): void {
    for (const r of this.readers) r.report(error);
  }

  /** The backend failed for good: every reader and later send sees `error`. */
  protected fail(error: Error): void {
    if (this.failure || this.isClosed) return;
    this.failure = error;
    for (const r of this.readers) r.fail(error);
  }

  protected get failed(): Error | undefined {
    return this.failure;
  }
}
