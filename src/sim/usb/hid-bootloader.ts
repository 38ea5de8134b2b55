// An STM32 in the HID bootloader (Serasidis / Arksine's Klipper fork), as
// hid-bootloader.md describes the firmware: 1209:beba, bcdDevice 3.00. The
// F1 build has no OUT endpoint: output reports arrive by SET_REPORT on EP0
// into a page buffer; a 64-byte "BTLDCMD" + command + 56 zeros at buffer
// offset 0 is a command, anything else is data; a full buffer is erased and
// written at the next page, and the 8-byte ack goes out whenever the buffer
// offset becomes 0 or 1024 (so also on RESET PAGES). The F4 build takes
// interrupt OUT reports, writes 1 KiB pages from 0x08004000, erases a
// sector when a page starts one, acks each KiB, and flushes a partial page
// on REBOOT. REBOOT resets the chip: the device leaves the bus. Flash
// programming holds the bus (the reply comes when the page is written).

import {
  decodeCommand,
  encodeAck,
  HidAck,
  HidCommand,
  REPORT_SIZE,
} from "../../bootloaders/hid-bootloader/codec.js";
import type { SetupPacket } from "../../usb/device.js";
import { UsbStatus } from "../../usb/errors.js";
import type { UsbReply } from "../../usb/wire.js";
import { delay, type Clock } from "../../util/clock.js";
import { buildDescriptors } from "./descriptors.js";
import { ok, STALL, UsbModelBase } from "./model-base.js";

export type HidBootloaderBuild =
  /** F103 medium density: 1 KiB pages. */
  | "f1"
  /** F103 high density, Klipper's fork: 2 KiB pages, acks 0x03. */
  | "f1-2k"
  /** F103 high density, the original build: 2 KiB pages, acks 0x02 (a trailing odd KiB is lost). */
  | "f1-2k-original"
  /** F405/F407: 1 KiB pages from 0x08004000, sector erases. */
  | "f4";

/** STM32F1 page erase and 1 KiB programming (datasheet typ.), ms. */
export const F1_PAGE_ERASE_MS = 20;
export const F1_KIB_PROGRAM_MS = 30;
/** STM32F4 sector erases by size (typ.), and 1 KiB programming, ms. */
export const F4_SECTOR_ERASE_MS = { 16: 250, 64: 550, 128: 1000 } as const;
export const F4_KIB_PROGRAM_MS = 4;
export const HID_REBOOT_DELAY_MS = 5;

export interface HidBootloaderFaults {
  /** Leave the bus when this many bytes were written to flash. */
  unplugAfterBytes?: number;
  /** STALL every output report once this many bytes were written. */
  stallAfterBytes?: number;
  /** Never ack (the device takes the reports, nothing comes back). */
  noAcks?: boolean;
  ignoreReboot?: boolean;
  bcdDevice?: number;
}

export interface HidBootloaderModelOptions {
  build: HidBootloaderBuild;
  clock: Clock;
  /** Flash size in bytes (default: 128 KiB on F1, 1 MiB on F4). */
  flashSize?: number;
  name?: string;
  portPath?: string;
  faults?: HidBootloaderFaults;
}

export class HidBootloaderModel extends UsbModelBase {
  readonly flash: Uint8Array;
  readonly build: HidBootloaderBuild;
  mode: "bootloader" | "application" = "bootloader";
  /** Bytes written to flash this session. */
  written = 0;
  private readonly pageSize: number;
  private readonly firstPage: number;
  private page: number;
  private buffer: Uint8Array;
  private offset = 0;
  private readonly acks: Uint8Array[] = [];
  private ackWaiter: (() => void) | undefined;
  private busy: Promise<unknown> = Promise.resolve();
  private readonly clock: Clock;
  private readonly faults: HidBootloaderFaults;

  constructor(o: HidBootloaderModelOptions) {
    const f4 = o.build === "f4";
    super(
      o.name ?? `hid-bootloader-${o.build}`,
      o.portPath ?? "1-1",
      buildDescriptors(
        {
          vendorId: 0x1209,
          productId: 0xbeba,
          bcdDevice: o.faults?.bcdDevice ?? 0x0300,
          maxPacketSize0: f4 ? 64 : 8,
          manufacturer: "www.serasidis.gr",
          product: f4 ? "STM32 HID bootloader" : "STM32F HID Bootloader",
        },
        [
          {
            iface: 0,
            alt: 0,
            class: 3,
            subClass: 0,
            protocol: 0,
            extra: Uint8Array.of(9, 0x21, 0x11, 0x01, 0, 1, 0x22, 32, 0),
            endpoints: [
              { address: 0x81, attributes: 3, maxPacketSize: 8, interval: 5 },
              ...(f4 ? [{ address: 0x01, attributes: 3, maxPacketSize: 64, interval: 5 }] : []),
            ],
          },
        ],
      ),
    );
    this.build = o.build;
    this.clock = o.clock;
    this.faults = o.faults ?? {};
    this.pageSize = o.build === "f1-2k" || o.build === "f1-2k-original" ? 2048 : 1024;
    this.firstPage = f4 ? 16 : 0x800 / this.pageSize;
    this.page = this.firstPage;
    this.buffer = new Uint8Array(this.pageSize);
    this.flash = new Uint8Array(o.flashSize ?? (f4 ? 0x10_0000 : 0x2_0000)).fill(0xff);
    const boot = this.firstPage * this.pageSize;
    for (let i = 0; i < boot; i++) this.flash[i] = (i * 13 + 0x21) & 0xff;
  }

  /** The application area from its start. */
  application(): Uint8Array {
    return this.flash.subarray(this.firstPage * (this.build === "f4" ? 1024 : this.pageSize));
  }

  protected override async classOrVendor(
    s: SetupPacket,
    data: Uint8Array | undefined,
  ): Promise<UsbReply> {
    if (this.build === "f4") return STALL; // its reports come on EP1 OUT
    if (s.bmRequestType !== 0x21 || s.bRequest !== 0x09 || !data || data.length !== REPORT_SIZE)
      return STALL;
    return this.serialised(() => this.f1Report(data));
  }

  protected override async transfer(
    endpoint: number,
    data: Uint8Array | undefined,
    _length: number,
    timeoutMs: number,
  ): Promise<UsbReply> {
    if (endpoint === 0x81) return this.nextAck(timeoutMs);
    if (endpoint === 0x01 && this.build === "f4" && data?.length === REPORT_SIZE)
      return this.serialised(() => this.f4Report(data));
    return STALL;
  }

  private serialised(f: () => Promise<UsbReply>): Promise<UsbReply> {
    const run = this.busy.then(f);
    this.busy = run.catch(() => undefined);
    return run;
  }

  private async nextAck(timeoutMs: number): Promise<UsbReply> {
    if (!this.acks.length) {
      let cancel = (): void => undefined;
      await new Promise<void>((resolve) => {
        this.ackWaiter = resolve;
        cancel = this.clock.schedule(timeoutMs, resolve);
      });
      cancel();
      this.ackWaiter = undefined;
    }
    if (this.generation === undefined) return { status: UsbStatus.NO_DEVICE };
    const a = this.acks.shift();
    return a ? ok(a) : { status: UsbStatus.TIMEOUT };
  }

  private ack(status: number): void {
    if (this.faults.noAcks) return;
    this.acks.push(encodeAck(status));
    this.ackWaiter?.();
  }

  private fault(): UsbReply | undefined {
    const f = this.faults;
    if (this.generation === undefined) return { status: UsbStatus.NO_DEVICE };
    if (f.stallAfterBytes !== undefined && this.written >= f.stallAfterBytes) return STALL;
    if (f.unplugAfterBytes !== undefined && this.written >= f.unplugAfterBytes) {
      this.unplug();
      return { status: UsbStatus.NO_DEVICE };
    }
    return undefined;
  }

  private ackStatus(): number {
    return this.build === "f1-2k" ? HidAck.NEXT_2K : HidAck.NEXT;
  }

  private async f1Report(r: Uint8Array): Promise<UsbReply> {
    const bad = this.fault();
    if (bad) return bad;
    if (this.offset === 0) {
      const cmd = decodeCommand(r, true);
      if (cmd !== undefined) return this.command(cmd);
    }
    this.buffer.set(r, this.offset);
    this.offset += r.length;
    if (this.offset === this.pageSize) {
      await this.programPage(this.page * this.pageSize, this.buffer, F1_PAGE_ERASE_MS);
      this.page++;
      this.offset = 0;
    }
    if (this.offset === 0 || this.offset === 1024) this.ack(this.ackStatus());
    return { status: r.length };
  }

  private async f4Report(r: Uint8Array): Promise<UsbReply> {
    const bad = this.fault();
    if (bad) return bad;
    const cmd = decodeCommand(r, false);
    if (cmd !== undefined) return this.command(cmd);
    this.buffer.set(r, this.offset);
    this.offset += r.length;
    if (this.offset === 1024) {
      await this.f4Page();
      this.ack(HidAck.NEXT);
    }
    return { status: r.length };
  }

  /** F4: erase the sector this page starts, then write the page. */
  private async f4Page(): Promise<void> {
    const p = this.page;
    const sectorKiB =
      p === 16 || p === 32 || p === 48 ? 16 : p === 64 ? 64 : p % 128 === 0 ? 128 : 0;
    const address = p * 1024;
    if (sectorKiB) {
      this.flash.fill(0xff, address, Math.min(this.flash.length, address + sectorKiB * 1024));
      await delay(this.clock, F4_SECTOR_ERASE_MS[sectorKiB]);
    }
    await this.programPage(address, this.buffer.subarray(0, 1024), 0);
    this.page++;
    this.offset = 0;
  }

  private async programPage(address: number, data: Uint8Array, eraseMs: number): Promise<void> {
    if (address + data.length > this.flash.length) return; // past the end: the real chip faults, we drop it
    this.flash.fill(0xff, address, address + data.length);
    if (eraseMs) await delay(this.clock, eraseMs);
    this.flash.set(data, address);
    this.written += data.length;
    await delay(
      this.clock,
      (data.length / 1024) * (this.build === "f4" ? F4_KIB_PROGRAM_MS : F1_KIB_PROGRAM_MS),
    );
  }

  private async command(cmd: number): Promise<UsbReply> {
    if (cmd === HidCommand.RESET_PAGES) {
      this.page = this.firstPage;
      this.offset = 0;
      this.buffer.fill(0);
      if (this.build !== "f4") this.ack(this.ackStatus());
      return { status: REPORT_SIZE };
    }
    if (cmd === HidCommand.REBOOT) {
      if (this.build === "f4" && this.offset > 0) {
        this.buffer.fill(0xff, this.offset);
        await this.f4Page();
      }
      if (!this.faults.ignoreReboot)
        this.clock.schedule(HID_REBOOT_DELAY_MS, () => {
          this.mode = "application";
          this.unplug();
          this.ackWaiter?.();
        });
      return { status: REPORT_SIZE };
    }
    return { status: REPORT_SIZE }; // unknown commands are ignored
  }
}
