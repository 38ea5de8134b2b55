// A bus that records every frame it sends and receives (for --trace-file
// bug reports), in candump -l style: "(1732400000.123456) can0 TX 202#0188…".

import type { CanBus, CanReader, SendOptions } from "./bus.js";
import { DelegatingBus } from "./delegate.js";
import { formatFrame, type CanFrame } from "./frame.js";

export type TraceSink = (line: string) => void;

/** Epoch seconds with microseconds, as candump prints them. */
export function traceTimestamp(): string {
  const ms = performance.timeOrigin + performance.now();
  return `(${(ms / 1000).toFixed(6)})`;
}

export class TracedBus extends DelegatingBus {
  private readonly tap: CanReader;

  constructor(
    inner: CanBus,
    private readonly sink: TraceSink,
  ) {
    super(inner);
    // Stamped as the frame arrives (a reader's loop would stamp it when it got round to it,
    // after whatever the other readers did with it first); nothing is queued for reading.
    this.tap = inner.subscribe({
      errors: true,
      limit: 0,
      onFrame: (f) => sink(`${traceTimestamp()} ${inner.channel} RX ${formatFrame(f)}`),
    });
  }

  override async send(frame: CanFrame, options?: SendOptions): Promise<void> {
    await this.inner.send(frame, options);
    this.sink(`${traceTimestamp()} ${this.inner.channel} TX ${formatFrame(frame)}`);
  }

  override async close(): Promise<void> {
    this.tap.close();
    await this.inner.close();
  }
}
