// A Teensy in HalfKay (PJRC's closed bootloader) as the host sees it,
// halfkay.md: 16c0:0478 with one HID interface; every output report of the
// part's length is a block write, the first of a session erases the whole
// application area first (seconds on a Teensy++ 2.0), each block takes a
// page write; HalfKay's own area is never written; the boot report starts
// the program: the device leaves the bus. Nothing can be read back.

import { decodeReport, reportLength, type HalfKayPart } from "../../bootloaders/halfkay/codec.js";
import type { SetupPacket } from "../../usb/device.js";
import { UsbStatus } from "../../usb/errors.js";
import type { UsbReply } from "../../usb/wire.js";
import { delay, type Clock } from "../../util/clock.js";
import { buildDescriptors } from "./descriptors.js";
import { STALL, UsbModelBase } from "./model-base.js";

/** AVR self-programming times (datasheet typ. 3.7–4.5 ms per page), ms. */
export const AVR_PAGE_ERASE_MS = 4;
export const AVR_PAGE_WRITE_MS = 4;
/** Between the boot report and leaving the bus, ms. */
export const HALFKAY_BOOT_DELAY_MS = 5;
/** HalfKay's own code above the application area. */
export const HALFKAY_SIZE = 1024;

/** HID class descriptor: HID 1.11, one report descriptor. */
const HID_DESCRIPTOR = Uint8Array.of(9, 0x21, 0x11, 0x01, 0, 1, 0x22, 34, 0);

export interface HalfKayFaults {
  /** Leave the bus (unplugged) when this many blocks were taken. */
  unplugAfterBlocks?: number;
  /** STALL every write report from this block on. */
  stallFromBlock?: number;
  /** Ignore the boot report (stay in HalfKay). */
  ignoreBoot?: boolean;
}

export interface HalfKayModelOptions {
  part: HalfKayPart;
  clock: Clock;
  name?: string;
  portPath?: string;
  faults?: HalfKayFaults;
}

export class HalfKayModel extends UsbModelBase {
  /** The whole flash: the application area, then HalfKay. */
  readonly flash: Uint8Array;
  mode: "halfkay" | "program" = "halfkay";
  /** Write reports taken this session. */
  blocks = 0;
  private erased = false;
  private busy: Promise<unknown> = Promise.resolve();
  readonly part: HalfKayPart;
  private readonly clock: Clock;
  private readonly faults: HalfKayFaults;

  constructor(o: HalfKayModelOptions) {
    super(
      o.name ?? `halfkay-${o.part.name}`,
      o.portPath ?? "1-1",
      buildDescriptors(
        { vendorId: 0x16c0, productId: 0x0478, bcdDevice: 0x0100, maxPacketSize0: 64 },
        [
          {
            iface: 0,
            alt: 0,
            class: 3,
            subClass: 0,
            protocol: 0,
            extra: HID_DESCRIPTOR,
            endpoints: [{ address: 0x81, attributes: 3, maxPacketSize: 64, interval: 1 }],
          },
        ],
      ),
    );
    this.part = o.part;
    this.clock = o.clock;
    this.faults = o.faults ?? {};
    this.flash = new Uint8Array(o.part.codeSize + HALFKAY_SIZE).fill(0xff);
    for (let i = o.part.codeSize; i < this.flash.length; i++) this.flash[i] = (i * 7 + 0x5a) & 0xff;
  }

  /** The application area. */
  application(): Uint8Array {
    return this.flash.subarray(0, this.part.codeSize);
  }

  protected override async classOrVendor(
    s: SetupPacket,
    data: Uint8Array | undefined,
  ): Promise<UsbReply> {
    const isSetReport = s.bmRequestType === 0x21 && s.bRequest === 0x09 && s.wIndex === 0;
    if (!isSetReport || !data || data.length !== reportLength(this.part)) return STALL;
    // One report at a time: HalfKay NAKs while it erases or programs.
    const run = this.busy.then(() => this.report(data));
    this.busy = run.catch(() => undefined);
    return run;
  }

  private async report(data: Uint8Array): Promise<UsbReply> {
    if (this.generation === undefined) return { status: UsbStatus.NO_DEVICE };
    const r = decodeReport(this.part, data);
    if (!r) return STALL;
    if (r.kind === "boot") {
      if (!this.faults.ignoreBoot)
        this.clock.schedule(HALFKAY_BOOT_DELAY_MS, () => {
          this.mode = "program";
          this.unplug();
        });
      return { status: data.length };
    }
    const f = this.faults;
    if (f.stallFromBlock !== undefined && this.blocks >= f.stallFromBlock) return STALL;
    if (f.unplugAfterBlocks !== undefined && this.blocks >= f.unplugAfterBlocks) {
      this.unplug();
      return { status: UsbStatus.NO_DEVICE };
    }
    const bs = this.part.blockSize;
    if (!this.erased) {
      this.application().fill(0xff);
      this.erased = true;
      await delay(this.clock, (this.part.codeSize / bs) * AVR_PAGE_ERASE_MS);
    }
    if (r.address % bs === 0 && r.address + bs <= this.part.codeSize) {
      this.flash.set(r.data, r.address);
      await delay(this.clock, AVR_PAGE_WRITE_MS);
    }
    this.blocks++;
    return { status: data.length };
  }
}
