// The byte-stream contract shared by every link a bootloader session runs
// over: an assigned CAN node id pair, a serial port, USB CDC, a mock.
// Sessions (Katapult, STK500, …) are written once against this.

import type { Clock } from "../util/clock.js";

export interface ReadOptions {
  signal?: AbortSignal;
}

export interface ByteTransport {
  /** For messages and traces: "can0 node 129", "/dev/ttyACM0". */
  readonly name: string;
  readonly clock: Clock;
  /**
   * Sends all of `data`. Resolves when every byte was accepted by the link
   * (never a partial write on success); rejects when the link fails. Once
   * started, a write is not cut short: a half-sent frame would corrupt the
   * device's parser.
   */
  write(data: Uint8Array): Promise<void>;
  /**
   * Bytes that arrived, waiting at most `timeoutMs` for the first of them.
   * Resolves an empty array when nothing arrived in time; rejects with
   * AbortedError when `signal` fires, or when the link fails.
   */
  read(timeoutMs: number, options?: ReadOptions): Promise<Uint8Array>;
  /** Drops input received so far (between retries of a command). */
  discardInput(): void;
  close(): Promise<void>;
}

/** Concatenates byte arrays. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
