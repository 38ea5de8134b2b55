// The transmit side of a simulated Katapult CAN node (canserial_tx_task):
// the 96-byte transmit buffer drains in ≤ 8-byte frames into 3 mailboxes,
// and bytes leave the buffer only when a mailbox takes them, so a reply
// that arrives while an earlier one is still draining may not fit.
//
// Two pacings. "bus": the bus itself models wire time (a virtual channel
// with a bitrate), and a mailbox is a frame the endpoint has not finished
// transmitting. "model": the bus sends at
// once (SocketCAN — vcan has no wire; an untimed virtual channel), so this
// class holds each frame in its mailbox for the frame's exact wire time at
// the bit rate, one frame on the wire at a time, and hands it to the bus
// when its transmission would end. Frames of others seen on the bus (the
// host's, other nodes') took the wire meanwhile and push ours back.

import type { CanBus } from "../can/bus.js";
import { frameWireTimeMs } from "../can/bittime.js";
import { canFrame, type CanFrame } from "../can/frame.js";
import { VirtualCanBus } from "../can/virtual.js";

export type TxPacing = "bus" | "model";

/** How far back fits() can look (device passes run at most this late), ms. */
const HISTORY_MS = 200;

export interface CanTxOptions {
  pacing: TxPacing;
  mailboxes: number;
  /** Bit rate for "model" pacing, bit/s. */
  bitrate: number;
  /** The node's transmit id now (0 = unassigned: nothing may leave). */
  txId: () => number;
}

interface Mailbox {
  frame: CanFrame;
  /** Modelled start and end of its transmission. */
  start: number;
  end: number;
}

export class CanTxMailboxes {
  private bytes: number[] = [];
  private running = false;
  private stopped = false;
  private readonly boxes: Mailbox[] = [];
  /** When recent frames entered a mailbox (device time), for fits() at a past time. */
  private readonly entered: Array<{ at: number; bytes: number }> = [];
  private wireFreeAt = 0;
  private cancelTimer: (() => void) | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly bus: CanBus,
    private readonly o: CanTxOptions,
  ) {}

  /**
   * Would `n` more bytes fit a transmit buffer of `size` bytes at device
   * time `at` (default now)? Under "model" pacing `at` may lie a little in
   * the past (the host process ran the chip's pass late): bytes that only
   * entered a mailbox after `at` were still in the buffer then.
   */
  fits(n: number, size: number, at = this.bus.clock.now()): boolean {
    if (this.o.pacing !== "model") return this.bytes.length + n <= size;
    this.advance();
    let pending = this.bytes.length;
    for (const e of this.entered) if (e.at > at) pending += e.bytes;
    return pending + n <= size;
  }

  /** Bytes waiting for a mailbox. */
  get pending(): number {
    return this.bytes.length;
  }

  push(bytes: Uint8Array): void {
    for (const b of bytes) this.bytes.push(b);
  }

  /** Output without a node id is discarded (frames already in a mailbox still go). */
  clear(): void {
    this.bytes = [];
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    this.cancelTimer?.();
    this.cancelTimer = undefined;
  }

  /** canserial_tx_task at device time `at` (default now): move what fits into free mailboxes. */
  kick(at = this.bus.clock.now()): void {
    if (this.o.pacing === "model") this.advance(at);
    else this.kickBus();
  }

  /** A frame from someone else crossed the wire: ours waiting behind it start later. */
  sawForeignFrame(f: CanFrame): void {
    if (this.o.pacing !== "model" || this.boxes.length === 0) return;
    const d = frameWireTimeMs(f, this.o.bitrate);
    const began = this.bus.clock.now() - d;
    let shifted = false;
    for (const b of this.boxes) {
      if (b.start < began) continue;
      b.start += d;
      b.end += d;
      shifted = true;
    }
    if (shifted) {
      this.wireFreeAt = this.boxes[this.boxes.length - 1]!.end;
      this.arm();
    }
  }

  /**
   * "bus" pacing. On a virtual endpoint a mailbox is a frame the endpoint has
   * not finished transmitting (queued or on the wire); a finished frame frees
   * one and runs this again. Elsewhere send() waiting while the transmit
   * queue is full stands in for the mailboxes.
   */
  private kickBus(): void {
    const bus = this.bus;
    if (bus instanceof VirtualCanBus) {
      this.unsubscribe ??= bus.onTransmitted(() => this.kick());
      while (this.bytes.length > 0 && !this.stopped && bus.unsent < this.o.mailboxes) {
        const id = this.o.txId();
        if (!id) {
          this.bytes = [];
          break;
        }
        void bus.send(canFrame(id, this.bytes.splice(0, 8))).catch(() => undefined);
      }
      return;
    }
    if (this.running) return;
    this.running = true;
    void (async () => {
      try {
        while (this.bytes.length > 0 && !this.stopped) {
          const id = this.o.txId();
          if (!id) {
            this.bytes = [];
            break;
          }
          const chunk = this.bytes.slice(0, 8);
          await this.bus.send(canFrame(id, chunk));
          this.bytes.splice(0, chunk.length);
        }
      } catch {
        // bus gone
      } finally {
        this.running = false;
      }
    })();
  }

  /**
   * "model" pacing, brought up to now: frames whose transmission ended go to
   * the bus in order, and each freed mailbox is refilled at the moment it
   * freed (not when this runs), so a late timer does not slow the model.
   */
  private advance(fillAt?: number): void {
    if (this.stopped) return;
    const now = this.bus.clock.now();
    // Idle mailboxes take new bytes when they were queued (device time), never before.
    const idleFrom = Math.min(fillAt ?? now, now);
    for (;;) {
      if (this.boxes.length > 0 && this.boxes[0]!.end <= now) {
        const done = this.boxes.shift()!;
        void this.bus.send(done.frame).catch(() => undefined);
        this.fill(done.end);
      } else if (!(this.boxes.length < this.o.mailboxes && this.fill(idleFrom))) break;
    }
    while (this.entered.length > 0 && this.entered[0]!.at < now - HISTORY_MS) this.entered.shift();
    this.arm();
  }

  /** Puts the next ≤ 8 bytes into a mailbox freed at `at`; false when there is nothing to send. */
  private fill(at: number): boolean {
    const id = this.o.txId();
    if (!id) this.bytes = [];
    if (this.bytes.length === 0) return false;
    const frame = canFrame(id, this.bytes.splice(0, 8));
    this.entered.push({ at, bytes: frame.data.length });
    const start = Math.max(at, this.wireFreeAt);
    const end = start + frameWireTimeMs(frame, this.o.bitrate);
    this.wireFreeAt = end;
    this.boxes.push({ frame, start, end });
    return true;
  }

  private arm(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    const first = this.boxes[0];
    if (!first || this.stopped) return;
    this.cancelTimer = this.bus.clock.schedule(first.end - this.bus.clock.now(), () => {
      this.cancelTimer = undefined;
      this.advance();
    });
  }
}
