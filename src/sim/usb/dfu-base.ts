// What every DFU device model shares (USB DFU 1.1, dfu.md): the state and
// status a GETSTATUS reports, CLRSTATUS / GETSTATE / ABORT, a STALL with
// dfuERROR + errSTALLEDPKT for a request the state does not allow, the
// flash (NOR semantics, src/sim/flash.ts), and leaving: the device drops
// off the bus and comes back as the application found in flash (Klipper's
// USB serial, when its vector table looks valid) or as itself again.
// Subclasses add DNLOAD and UPLOAD the way their firmware does.

import {
  DFU_IN,
  DFU_OUT,
  DfuRequest,
  DfuState,
  DfuStatus,
  encodeStatus,
} from "../../bootloaders/dfu/codec.js";
import type { SetupPacket } from "../../usb/device.js";
import type { UsbReply } from "../../usb/wire.js";
import { delay, realClock, type Clock } from "../../util/clock.js";
import type { SimFlash } from "../flash.js";
import { buildDescriptors, type DescriptorSet } from "./descriptors.js";
import { ok, STALL, UsbModelBase } from "./model-base.js";

/** Time from leaving the bootloader to the application enumerating, ms. */
export const APP_ENUMERATION_MS = 50;
/** Time from a USB reset to the bootloader enumerating again, ms. */
export const BOOTLOADER_ENUMERATION_MS = 30;

/** Klipper's USB serial build (targets.json applications.klipper-usb). */
export function klipperUsbDescriptors(serial: string): DescriptorSet {
  return buildDescriptors(
    {
      vendorId: 0x1d50,
      productId: 0x614e,
      manufacturer: "Klipper",
      product: "stm32",
      serialNumber: serial,
      deviceClass: 2,
    },
    [
      { iface: 0, alt: 0, class: 2, subClass: 2, protocol: 1 },
      { iface: 1, alt: 0, class: 10, subClass: 0, protocol: 0 },
    ],
  );
}

export interface DfuModelOptions {
  clock?: Clock;
  portPath?: string;
  serialNumber?: string;
}

export abstract class DfuModelBase extends UsbModelBase {
  state: number = DfuState.dfuIDLE;
  status: number = DfuStatus.OK;
  /** The bwPollTimeout the next GETSTATUS reports, ms. */
  protected pollTimeoutMs = 0;
  /** The device answers nothing before this time (an erase or write in progress: the chip NAKs). */
  protected busyUntil = 0;
  /** Class requests with the time they came, and whether before the device's bwPollTimeout ran out (tests). */
  readonly classLog: Array<{
    at: number;
    bRequest: number;
    wValue: number;
    length: number;
    early: boolean;
  }> = [];
  /** What the device is now: its bootloader or the application it left for. */
  running: "bootloader" | "application" = "bootloader";
  protected readonly clock: Clock;
  protected abstract readonly bootloaderDescriptors: DescriptorSet;

  constructor(
    name: string,
    descriptors: DescriptorSet,
    readonly flash: SimFlash,
    o: DfuModelOptions,
  ) {
    super(name, o.portPath ?? "1-1", descriptors);
    this.clock = o.clock ?? realClock;
  }

  /** The flash image from `address`, `length` bytes (dumps for the cross-checks). */
  dump(address: number, length: number): Uint8Array {
    return this.flash.read(address, length);
  }

  protected fail(status: number): UsbReply {
    this.state = DfuState.dfuERROR;
    this.status = status;
    return STALL;
  }

  protected override async classOrVendor(s: SetupPacket, data?: Uint8Array): Promise<UsbReply> {
    if (this.running !== "bootloader") return STALL;
    const wait = this.busyUntil - this.clock.now();
    this.classLog.push({
      at: this.clock.now(),
      bRequest: s.bRequest,
      wValue: s.wValue,
      length: s.bmRequestType & 0x80 ? s.wLength : (data?.length ?? 0),
      early: wait > 0,
    });
    if (wait > 0) await delay(this.clock, wait);
    if (s.bmRequestType === DFU_IN)
      switch (s.bRequest) {
        case DfuRequest.GETSTATUS:
          return this.getStatus();
        case DfuRequest.GETSTATE:
          return ok(Uint8Array.of(this.state));
        case DfuRequest.UPLOAD:
          return this.upload(s.wValue, s.wLength);
      }
    if (s.bmRequestType === DFU_OUT)
      switch (s.bRequest) {
        case DfuRequest.CLRSTATUS:
          if (this.state !== DfuState.dfuERROR) return this.fail(DfuStatus.errSTALLEDPKT);
          this.state = DfuState.dfuIDLE;
          this.status = DfuStatus.OK;
          return ok();
        case DfuRequest.ABORT:
          if (
            this.state !== DfuState.dfuIDLE &&
            this.state !== DfuState.dfuDNLOAD_IDLE &&
            this.state !== DfuState.dfuUPLOAD_IDLE
          )
            return this.fail(DfuStatus.errSTALLEDPKT);
          this.state = DfuState.dfuIDLE;
          return ok();
        case DfuRequest.DNLOAD:
          return this.download(s.wValue, data ?? new Uint8Array(0));
        case DfuRequest.DETACH:
          return this.detach();
      }
    return this.fail(DfuStatus.errSTALLEDPKT);
  }

  /** The GETSTATUS reply; subclasses run pending work here (the firmware does it then). */
  protected getStatus(): UsbReply {
    return ok(this.statusBytes());
  }

  protected statusBytes(): Uint8Array {
    return encodeStatus({
      status: this.status,
      pollTimeoutMs: this.pollTimeoutMs,
      state: this.state,
      iString: 0,
    });
  }

  protected abstract download(block: number, data: Uint8Array): UsbReply;
  protected abstract upload(block: number, length: number): UsbReply;

  protected detach(): UsbReply {
    return this.fail(DfuStatus.errSTALLEDPKT);
  }

  /** The application in flash at `address` looks runnable (its initial SP points into RAM). */
  protected appValid(address: number): boolean {
    const w = this.flash.read(address, 4);
    const sp = (w[0]! | (w[1]! << 8) | (w[2]! << 16) | (w[3]! << 24)) >>> 0;
    return (sp & 0xfff00000) === 0x20000000 || (sp & 0xfff00000) === 0x10000000;
  }

  /**
   * Leaves the bus once the reply in flight has gone out, then enumerates
   * as the application at `appAddress` (when valid) or as the bootloader again.
   */
  protected leave(appAddress: number | undefined): void {
    const toApp = appAddress !== undefined && this.appValid(appAddress);
    queueMicrotask(() => {
      this.unplug();
      this.clock.schedule(toApp ? APP_ENUMERATION_MS : BOOTLOADER_ENUMERATION_MS, () => {
        if (toApp) {
          this.running = "application";
          this.plug(klipperUsbDescriptors(this.name));
        } else this.reenterBootloader();
      });
    });
  }

  /** Comes back as the bootloader (after a reset with no valid application, or a button). */
  reenterBootloader(): void {
    this.running = "bootloader";
    this.state = DfuState.dfuIDLE;
    this.status = DfuStatus.OK;
    this.pollTimeoutMs = 0;
    this.onBootloaderStart();
    if (this.generation !== undefined) this.unplug();
    this.plug(this.bootloaderDescriptors);
  }

  protected onBootloaderStart(): void {}
}
