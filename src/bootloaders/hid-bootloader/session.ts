// One HID bootloader session over a UsbDevice, as hid-flash runs it:
// RESET PAGES, then the image in 1 KiB groups of 64-byte output reports,
// each group acked by an input report, then REBOOT. Output reports go as
// HID SET_REPORT control transfers on the F1 build (it has no OUT
// endpoint) and as interrupt OUT transfers on the F4 build; a report the
// device does not take (flash programming holds the bus) is retried.

import type { UsbDevice } from "../../usb/device.js";
import { delay, type Clock } from "../../util/clock.js";
import { throwIfAborted } from "../../util/errors.js";
import { moduleLogger } from "../../util/log.js";
import {
  chunkReports,
  CHUNK_SIZE,
  decodeAck,
  DOUBLE_CHUNK,
  encodeCommand,
  HidAck,
  HidCommand,
  ACK_SIZE,
  REPORT_SIZE,
} from "./codec.js";
import {
  HidBootloaderGoneError,
  HidBootloaderNoAckError,
  HidBootloaderWriteError,
} from "./errors.js";

const log = moduleLogger("hid-bootloader");

/** Deadline of one output report, ms (hid-flash: 1 s). */
export const HID_WRITE_TIMEOUT_MS = 1000;
/** Attempts at one report, and the pause between them, ms (hid-flash: 20 tries, 100 ms apart). */
export const HID_WRITE_TRIES = 20;
export const HID_RETRY_MS = 100;
/** How long the ack of one KiB may take, ms (an F4 128 KiB sector erase takes up to 2 s). */
export const HID_ACK_TIMEOUT_MS = 5000;
/** How long an ack of RESET PAGES (the F1 build sends one) is looked for, ms. */
export const HID_EARLY_ACK_MS = 100;
/** The REBOOT report's deadline, ms (the board resets: errors are expected). */
export const HID_REBOOT_TIMEOUT_MS = 500;

const SET_REPORT = { bmRequestType: 0x21, bRequest: 0x09, wValue: 0x0200, wIndex: 0 } as const;

/** How output reports reach the device. */
export type HidOut = { kind: "control" } | { kind: "interrupt"; endpoint: number };

export class HidBootloaderSession {
  /** Image bytes sent and acked. */
  sent = 0;
  acked = 0;
  /** An ack said 0x03: the build writes 2 KiB pages. */
  twoKiBPages = false;

  constructor(
    private readonly dev: UsbDevice,
    private readonly out: HidOut,
    private readonly inEndpoint: number,
    private readonly clock: Clock,
    private readonly signal?: AbortSignal,
  ) {}

  private async report(r: Uint8Array, address: number): Promise<void> {
    let last: unknown;
    for (let attempt = 1; attempt <= HID_WRITE_TRIES; attempt++) {
      throwIfAborted(this.signal, "HID bootloader write");
      try {
        const n =
          this.out.kind === "control"
            ? await this.dev.controlOut(SET_REPORT, r, HID_WRITE_TIMEOUT_MS)
            : await this.dev.transferOut(this.out.endpoint, r, HID_WRITE_TIMEOUT_MS);
        if (n === REPORT_SIZE) return;
        // a short write aborts (hid-flash does the same): the device holds part of a report
        throw new HidBootloaderWriteError(
          address,
          attempt,
          new Error(`short write (${n} of ${REPORT_SIZE} bytes)`),
        );
      } catch (e) {
        if (e instanceof HidBootloaderWriteError) throw e;
        if ((e as { code?: string }).code === "USB_NO_DEVICE")
          throw new HidBootloaderGoneError(address, this.acked);
        last = e;
      }
      log.debug({ address, attempt, err: String(last) }, "HID bootloader report retry");
      if (attempt < HID_WRITE_TRIES)
        await delay(this.clock, HID_RETRY_MS, this.signal, "HID bootloader write");
    }
    throw new HidBootloaderWriteError(address, HID_WRITE_TRIES, last);
  }

  /** The next ack; undefined when none came within `timeoutMs`. */
  private async ack(timeoutMs: number, address: number): Promise<number | undefined> {
    const deadline = this.clock.now() + timeoutMs;
    for (;;) {
      const left = deadline - this.clock.now();
      if (left <= 0) return undefined;
      let r: Uint8Array;
      try {
        r = await this.dev.transferIn(this.inEndpoint, ACK_SIZE, left);
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (code === "USB_TIMEOUT") return undefined;
        if (code === "USB_NO_DEVICE") throw new HidBootloaderGoneError(address, this.acked);
        throw e;
      }
      const a = decodeAck(r);
      if (a !== undefined) return a;
    }
  }

  /** RESET PAGES: the device's write pointer goes to the first application page. */
  async start(appStart: number): Promise<void> {
    await this.report(encodeCommand(HidCommand.RESET_PAGES), appStart);
    // the F1 build acks the empty buffer at once; take that ack so each KiB gets its own
    const early = await this.ack(HID_EARLY_ACK_MS, appStart);
    if (early === HidAck.NEXT_2K) this.twoKiBPages = true;
  }

  /** One KiB as 16 reports, then its ack. */
  async chunk(address: number, data: Uint8Array): Promise<void> {
    if (data.length !== CHUNK_SIZE)
      throw new RangeError(`HID bootloader chunks are ${CHUNK_SIZE} bytes`);
    for (const r of chunkReports(data)) await this.report(r, address);
    this.sent += data.length;
    const a = await this.ack(HID_ACK_TIMEOUT_MS, address);
    if (a === undefined) throw new HidBootloaderNoAckError(address, HID_ACK_TIMEOUT_MS, this.acked);
    if (a === HidAck.NEXT_2K) this.twoKiBPages = true;
    this.acked += data.length;
  }

  /** A 2 KiB-page build holds an odd last KiB until its page fills: send one more zero KiB. */
  async pad(nextAddress: number): Promise<boolean> {
    if (!this.twoKiBPages || this.sent % DOUBLE_CHUNK === 0) return false;
    await this.chunk(nextAddress, new Uint8Array(CHUNK_SIZE));
    return true;
  }

  /** REBOOT: the F4 build flushes a partial page, then the chip resets (errors expected). */
  async reboot(): Promise<void> {
    try {
      const r = encodeCommand(HidCommand.REBOOT);
      if (this.out.kind === "control")
        await this.dev.controlOut(SET_REPORT, r, HID_REBOOT_TIMEOUT_MS);
      else await this.dev.transferOut(this.out.endpoint, r, HID_REBOOT_TIMEOUT_MS);
    } catch (e) {
      log.debug({ err: String(e) }, "HID bootloader REBOOT: the board left as it reset");
    }
  }
}
