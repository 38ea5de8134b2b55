// A simulated Katapult bootloader on a serial link: UART (serial_irq.c:
// 192-byte receive buffer, bytes beyond it dropped, a small hardware FIFO
// that overruns while an erase stalls the CPU, 96-byte transmit buffer) or
// USB CDC (usb_cdc.c: 128-byte receive buffer read in 64-byte packets only
// when there is room, so the host is flow-controlled and nothing is lost;
// 192-byte transmit buffer). Same firmware and main loop as on CAN.

import type { SimEventListener } from "./events.js";
import type { KatapultFirmware } from "./katapult-firmware.js";
import { KatapultRunner, type RunnerOptions } from "./katapult-runner.js";
import type { Clock } from "../util/clock.js";

/** The device's end of a serial wire. */
export interface SerialLink {
  write(bytes: Uint8Array): void;
  onData(cb: (bytes: Uint8Array) => void): void;
}

export interface KatapultSerialOptions extends RunnerOptions {
  kind: "uart" | "usb";
  txBufferSize: number;
  /** UART receive FIFO in hardware (bytes held while an erase stalls the CPU). */
  uartHwFifo: number;
  /**
   * STM32 USBFS double buffering (F0/F1/G0/G4): the first bulk-IN packet
   * after reset leaves only once a second one is queued (src/stm32/usbfs.c).
   */
  usbHoldsFirstPacket?: boolean;
}

export const DEFAULT_KATAPULT_UART: KatapultSerialOptions = {
  kind: "uart",
  txBufferSize: 96,
  uartHwFifo: 8,
  loopLatencyMs: 0.01,
  completeDelayMs: 100,
};

export const DEFAULT_KATAPULT_USB: KatapultSerialOptions = {
  kind: "usb",
  txBufferSize: 192,
  uartHwFifo: 0,
  loopLatencyMs: 0.01,
  completeDelayMs: 100,
};

const USB_PACKET = 64;

export class KatapultSerialNode {
  private readonly runner: KatapultRunner;
  /** UART: bytes held by the hardware during a stall. USB: bytes the host may not send yet (NAKed). */
  private held: number[] = [];
  private stopped = false;
  /** USBFS: the first reply, held until another is queued. */
  private heldFirst: Uint8Array | undefined;
  private sentAny = false;

  constructor(
    private readonly link: SerialLink,
    readonly uuid: string,
    readonly firmware: KatapultFirmware,
    clock: Clock,
    private readonly options: KatapultSerialOptions,
    private readonly emit: SimEventListener,
    onComplete: () => void,
  ) {
    this.runner = new KatapultRunner(firmware, clock, uuid, emit, options, {
      queueResponses: (r) => this.queueResponses(r),
      stallEnded: () => this.feed(),
      onComplete,
    });
  }

  get isWedged(): boolean {
    return this.runner.wedged;
  }

  get writtenEnd(): number {
    return this.runner.writtenEnd;
  }

  /** Listens on the link itself (when nothing else routes its input). */
  start(): void {
    this.link.onData((bytes) => this.receive(bytes));
  }

  stop(): void {
    this.stopped = true;
    this.runner.stop();
  }

  /** Bytes arrived from the host. */
  receive(bytes: Uint8Array): void {
    if (this.stopped || this.runner.faulted) return;
    if (this.options.kind === "usb") {
      for (const b of bytes) this.held.push(b);
      this.feed();
      return;
    }
    if (this.runner.stalled) {
      const room = this.options.uartHwFifo - this.held.length;
      for (let i = 0; i < Math.min(room, bytes.length); i++) this.held.push(bytes[i]!);
      if (bytes.length > room)
        this.emit({
          type: "overrun",
          uuid: this.uuid,
          where: "hw-fifo",
          lost: bytes.length - Math.max(0, room),
        });
      return;
    }
    this.take(bytes);
  }

  /** Delivers held input: USB in 64-byte packets while a packet fits; UART all it can. */
  private feed(): void {
    if (this.options.kind === "usb") {
      while (this.held.length > 0) {
        const n = Math.min(USB_PACKET, this.held.length);
        if (this.firmware.space < n) break; // the endpoint NAKs: the host waits
        this.firmware.appendPartial(Uint8Array.from(this.held.splice(0, n)));
      }
      this.runner.wake();
      return;
    }
    const bytes = Uint8Array.from(this.held.splice(0));
    if (bytes.length) this.take(bytes);
  }

  private take(bytes: Uint8Array): void {
    const n = this.firmware.appendPartial(bytes);
    if (n < bytes.length)
      this.emit({ type: "overrun", uuid: this.uuid, where: "rx-buffer", lost: bytes.length - n });
    this.runner.wake();
  }

  private queueResponses(responses: Uint8Array[]): void {
    for (const r of responses) {
      // The link drains at once here, so only a reply larger than the whole buffer is
      // dropped (e.g. a CONNECT reply over 96 bytes on UART, katapult.md §3.1).
      if (r.length > this.options.txBufferSize) {
        this.emit({ type: "overrun", uuid: this.uuid, where: "tx-buffer", lost: r.length });
        continue;
      }
      if (this.options.usbHoldsFirstPacket && !this.sentAny) {
        if (!this.heldFirst) {
          this.heldFirst = r;
          continue;
        }
        this.sentAny = true;
        this.link.write(this.heldFirst);
        this.heldFirst = undefined;
      }
      this.sentAny = true;
      this.link.write(r); // the link takes bytes at once; no back-pressure toward the host
    }
    // USB: consuming a command frees buffer space, which lets NAKed packets in.
    if (this.options.kind === "usb" && this.held.length > 0) this.feed();
  }
}
