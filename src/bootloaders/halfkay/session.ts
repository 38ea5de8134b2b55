// One HalfKay session over a UsbDevice: write reports as HID SET_REPORT
// control transfers, each retried every few milliseconds until its
// allowance runs out (HalfKay holds the bus while it erases or programs),
// and the boot report. What teensy_loader_cli does, halfkay.md §4–5.

import type { UsbDevice } from "../../usb/device.js";
import { delay, type Clock } from "../../util/clock.js";
import { throwIfAborted } from "../../util/errors.js";
import { moduleLogger } from "../../util/log.js";
import { encodeBootReport, encodeWriteReport, SET_REPORT, type HalfKayPart } from "./codec.js";
import { HalfKayGoneError, HalfKayWriteError } from "./errors.js";

const log = moduleLogger("halfkay");

/** The first blocks of a session: HalfKay erases the whole application on the first one. */
export const HALFKAY_ERASE_BLOCKS = 5;
/** Allowance for each of those, ms (the erase of 127 KiB takes seconds). */
export const HALFKAY_ERASE_ALLOWANCE_MS = 45_000;
/** Allowance for every later block, ms. */
export const HALFKAY_WRITE_ALLOWANCE_MS = 500;
/** Pause between attempts at one report, ms. */
export const HALFKAY_RETRY_MS = 10;
/** The boot report's deadline, ms (HalfKay leaves the bus: errors are expected). */
export const HALFKAY_BOOT_TIMEOUT_MS = 500;

export class HalfKaySession {
  /** Write reports HalfKay took. */
  written = 0;

  constructor(
    private readonly dev: UsbDevice,
    readonly part: HalfKayPart,
    private readonly clock: Clock,
    private readonly signal?: AbortSignal,
  ) {}

  /** Writes one block; resolves when HalfKay took it. */
  async write(address: number, block: Uint8Array): Promise<void> {
    const report = encodeWriteReport(this.part, address, block);
    const allowance =
      this.written < HALFKAY_ERASE_BLOCKS ? HALFKAY_ERASE_ALLOWANCE_MS : HALFKAY_WRITE_ALLOWANCE_MS;
    const deadline = this.clock.now() + allowance;
    let attempts = 0;
    let last: unknown;
    for (;;) {
      throwIfAborted(this.signal, "HalfKay write");
      attempts++;
      const left = Math.max(1, deadline - this.clock.now());
      try {
        const n = await this.dev.controlOut(SET_REPORT, report, left);
        if (n === report.length) {
          this.written++;
          return;
        }
        last = new Error(`short write (${n} of ${report.length} bytes)`);
      } catch (e) {
        if ((e as { code?: string }).code === "USB_NO_DEVICE")
          throw new HalfKayGoneError(address, this.written);
        last = e;
      }
      log.debug({ address, attempts, err: String(last) }, "HalfKay write retry");
      if (this.clock.now() >= deadline)
        throw new HalfKayWriteError(address, attempts, allowance, this.written, last);
      await delay(this.clock, HALFKAY_RETRY_MS, this.signal, "HalfKay write");
    }
  }

  /** Sends the boot report. HalfKay starts the program and leaves the bus, so a failed transfer is no failure. */
  async boot(): Promise<void> {
    try {
      await this.dev.controlOut(SET_REPORT, encodeBootReport(this.part), HALFKAY_BOOT_TIMEOUT_MS);
    } catch (e) {
      log.debug(
        { err: String(e) },
        "HalfKay boot report: the device left as it started the program",
      );
    }
  }
}
