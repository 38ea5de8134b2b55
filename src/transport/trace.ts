// A ByteTransport that records every byte written and read (for
// --trace-file): "(1732400000.123456) /dev/ttyACM0 TX 01 88 11 00 …".

import type { ByteTransport, ReadOptions } from "./byte-transport.js";
import { hasBaudControl, hasModemControl, type ModemLines } from "./modem.js";

export type TraceSink = (line: string) => void;

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join(" ");
const stamp = () => `(${((performance.timeOrigin + performance.now()) / 1000).toFixed(6)})`;

export class TracedTransport implements ByteTransport {
  constructor(
    private readonly inner: ByteTransport,
    private readonly sink: TraceSink,
  ) {}

  get name(): string {
    return this.inner.name;
  }
  get clock() {
    return this.inner.clock;
  }

  async write(data: Uint8Array): Promise<void> {
    await this.inner.write(data);
    this.sink(`${stamp()} ${this.inner.name} TX ${hex(data)}`);
  }

  async read(timeoutMs: number, options?: ReadOptions): Promise<Uint8Array> {
    const data = await this.inner.read(timeoutMs, options);
    if (data.length > 0) this.sink(`${stamp()} ${this.inner.name} RX ${hex(data)}`);
    return data;
  }

  discardInput(): void {
    this.inner.discardInput();
  }

  /** Modem lines pass through (a traced serial port can still be reset). */
  async setLines(lines: ModemLines): Promise<boolean> {
    if (!hasModemControl(this.inner)) return false;
    const ok = await this.inner.setLines(lines);
    this.sink(
      `${stamp()} ${this.inner.name} LINES ${JSON.stringify(lines)}${ok ? "" : " (refused)"}`,
    );
    return ok;
  }

  async setBaud(baud: number): Promise<void> {
    if (!hasBaudControl(this.inner)) throw new RangeError(`${this.inner.name} has no baud control`);
    await this.inner.setBaud(baud);
    this.sink(`${stamp()} ${this.inner.name} BAUD ${baud}`);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
