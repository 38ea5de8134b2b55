// An assigned CAN node as a byte stream: bytes to the device go out in
// order as ≤ 8-byte standard frames on its receive id (0x100 + 2n), bytes
// from it are the data of frames on 0x101 + 2n. Frame boundaries carry no
// meaning. Each fragment is awaited, so a fragment is never dropped: the bus
// either accepts it or the write fails. Concurrent writes are queued whole,
// so two frames never interleave.

import type { CanBus, CanReader } from "../can/bus.js";
import { canFrame } from "../can/frame.js";
import type { Clock } from "../util/clock.js";
import { concatBytes, type ByteTransport, type ReadOptions } from "./byte-transport.js";

/** The CAN ids of a node's byte stream. */
export interface NodeCanIds {
  /** Host → device. */
  toDevice: number;
  /** Device → host. */
  fromDevice: number;
}

export class CanNodeStream implements ByteTransport {
  readonly name: string;
  private readonly reader: CanReader;
  private closed = false;
  /** Tail of the write queue: concurrent writes go out one after another, never interleaved. */
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly bus: CanBus,
    readonly ids: NodeCanIds,
    /** For messages: "node 128". */
    label = `ids 0x${ids.toDevice.toString(16)}/0x${ids.fromDevice.toString(16)}`,
  ) {
    this.name = `${bus.channel} ${label}`;
    this.reader = bus.subscribe({
      filters: [{ id: this.ids.fromDevice, mask: 0x7ff, extended: false }],
    });
  }

  get clock(): Clock {
    return this.bus.clock;
  }

  write(data: Uint8Array): Promise<void> {
    const run = this.writing.then(async () => {
      for (let i = 0; i < data.length; i += 8) {
        await this.bus.send(canFrame(this.ids.toDevice, data.subarray(i, i + 8)));
      }
    });
    this.writing = run.catch(() => undefined);
    return run;
  }

  async read(timeoutMs: number, options: ReadOptions = {}): Promise<Uint8Array> {
    const first = await this.reader.recv(timeoutMs, options);
    if (!first) return new Uint8Array(0);
    const parts = [first.data];
    for (;;) {
      const more = await this.reader.recv(0);
      if (!more) break;
      parts.push(more.data);
    }
    return parts.length === 1 ? parts[0]! : concatBytes(parts);
  }

  discardInput(): void {
    this.reader.drain();
  }

  /** Stops listening; the bus stays open (it belongs to the caller). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.reader.close();
  }
}
