// The ROM side of the wire, for the STM32 model: bytes arrive one character
// time apart however fast the host wrote them (a pty passes them at once),
// and the ROM has one receive register: a byte that arrives while the ROM
// is busy (erasing, programming, sending a long reply) waits there, and any
// further byte is lost (overrun), as on the chip. Replies leave one
// character time per byte. Times are computed, not slept: a chunk of host
// bytes is processed at once with the times each byte would have arrived.

import type { Clock } from "../../util/clock.js";
import type { SerialLink } from "../katapult-serial.js";

export interface RomLine {
  baud: number;
  /** Bits per character: 11 for 8E1, 10 for a pty's 8N1. */
  frameBits: number;
}

export type ByteHandler = (byte: number, at: number) => void;

export class RomUart {
  private lastArrival = -Infinity;
  private busyUntil = -Infinity;
  private held: { byte: number; at: number } | undefined;
  private txFree = -Infinity;
  private handler: ByteHandler = () => undefined;
  /** Bytes lost to overrun. */
  overruns = 0;
  /** Bytes sent to the host. */
  sent = 0;

  constructor(
    private readonly link: SerialLink,
    readonly clock: Clock,
    public line: RomLine,
  ) {
    link.onData((bytes) => this.receive(bytes));
  }

  /** One character on the wire, ms. */
  get charMs(): number {
    return (this.line.frameBits * 1000) / this.line.baud;
  }

  onByte(h: ByteHandler): void {
    this.handler = h;
  }

  /** The ROM does not read the receive register until `until` (computed time). */
  busy(until: number): void {
    this.busyUntil = Math.max(this.busyUntil, until);
    const target = this.busyUntil;
    this.clock.schedule(Math.max(0, target - this.clock.now()), () => {
      // A later busy() armed its own timer; this one flushes at its own end only.
      if (this.busyUntil <= target) this.flushHeld(target);
    });
  }

  /** Sends `bytes` no earlier than `at`; returns when the last one has left. */
  send(bytes: readonly number[], at: number): number {
    const start = Math.max(at, this.txFree);
    const end = start + bytes.length * this.charMs;
    this.txFree = end;
    this.sent += bytes.length;
    const copy = Uint8Array.from(bytes);
    this.clock.schedule(Math.max(0, end - this.clock.now()), () => this.link.write(copy));
    return end;
  }

  /** Forgets the line state (a reset: the ROM starts reading afresh). */
  reset(): void {
    this.held = undefined;
    this.busyUntil = -Infinity;
  }

  private receive(bytes: Uint8Array): void {
    const now = this.clock.now();
    for (const b of bytes) {
      const at = Math.max(now, this.lastArrival + this.charMs);
      this.lastArrival = at;
      this.flushHeld(at);
      if (at < this.busyUntil) {
        if (this.held) this.overruns++;
        else this.held = { byte: b, at };
        continue;
      }
      this.handler(b, at);
    }
  }

  /** Hands the held byte to the ROM once it reads again (at `at` or later). */
  private flushHeld(at: number): void {
    const h = this.held;
    if (!h || at < this.busyUntil) return;
    this.held = undefined;
    this.handler(h.byte, Math.max(h.at, this.busyUntil));
  }
}
