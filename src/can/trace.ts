// A bus that records every frame it sends and receives (for --trace-file
// bug reports), in candump -l style: "(1732400000.123456) can0 TX 202#0188…".

import type { CanBus, CanReader, ReaderOptions, SendOptions } from "./bus.js";
import type { CanFilter } from "./filter.js";
import { formatFrame, type CanFrame } from "./frame.js";

export type TraceSink = (line: string) => void;

/** Epoch seconds with microseconds, as candump prints them. */
export function traceTimestamp(): string {
  const ms = performance.timeOrigin + performance.now();
  return `(${(ms / 1000).toFixed(6)})`;
}

export class TracedBus implements CanBus {
  private readonly tap: CanReader;

  constructor(
    private readonly inner: CanBus,
    private readonly sink: TraceSink,
  ) {
    const tap = inner.subscribe({ errors: true });
    this.tap = tap;
    void (async () => {
      try {
        for await (const f of tap)
          sink(`${traceTimestamp()} ${inner.channel} RX ${formatFrame(f)}`);
      } catch {
        // the bus closed
      }
    })();
  }

  get channel(): string {
    return this.inner.channel;
  }
  get clock() {
    return this.inner.clock;
  }
  get state() {
    return this.inner.state;
  }
  get closed(): boolean {
    return this.inner.closed;
  }

  async send(frame: CanFrame, options?: SendOptions): Promise<void> {
    await this.inner.send(frame, options);
    this.sink(`${traceTimestamp()} ${this.inner.channel} TX ${formatFrame(frame)}`);
  }

  subscribe(options?: ReaderOptions): CanReader {
    return this.inner.subscribe(options);
  }

  setFilters(filters: readonly CanFilter[]): void {
    this.inner.setFilters(filters);
  }

  recv(timeoutMs?: number, options?: { signal?: AbortSignal }): Promise<CanFrame | undefined> {
    return this.inner.recv(timeoutMs, options);
  }

  [Symbol.asyncIterator](): AsyncIterator<CanFrame> {
    return this.inner[Symbol.asyncIterator]();
  }

  async close(): Promise<void> {
    this.tap.close();
    await this.inner.close();
  }
}
