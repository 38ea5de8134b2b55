// RP2040 BOOTSEL through the flasher core (what Klipper's rp2040_flash and
// picotool load -v do over PICOBOOT): find 2e8a:0003 (after a 1200-baud
// touch of a running Klipper, where the driver gives one), claim the
// PICOBOOT interface, reset it, take exclusive access (the BOOTSEL drive
// cannot write meanwhile), exit XIP; check the image is laid out for where
// the row writes it (0x10000000: boot2 with a valid CRC, then the vector
// table; above Katapult: a vector table at the start, no boot2, and
// Katapult's boot2 really at 0x10000000); erase exactly the 4 KiB sectors
// the image touches, write 256-byte pages, READ them back to verify, and
// REBOOT only then; the device must leave the bus.

import type { DeviceInfo, FlashAdapter, FlashContext } from "../../flash-api/adapter.js";
import type { FlashPlan, PlannedBlock } from "../../flash-api/geometry.js";
import type { UsbBackend, UsbDevice, UsbDeviceInfo, UsbSelector } from "../../usb/device.js";
import { waitForDeparture } from "../../usb/presence.js";
import { reachUsbBootloader } from "../../entry/usb-bootloader.js";
import { label } from "../../usb/request-host.js";
import {
  BOOT2_SIZE,
  Exclusive,
  FLASH_START,
  hasBoot2,
  PAGE_SIZE,
  RP2040_BOOTSEL_USB,
  SECTOR_SIZE,
  sectorsCovering,
  vectorTable,
} from "./codec.js";
import {
  PicobootDidNotRebootError,
  PicobootImageLayoutError,
  PicobootNoBootloaderBelowError,
  PicobootNoInterfaceError,
} from "./errors.js";
import { PicobootSession } from "./session.js";

/** How long BOOTSEL may take to appear (after a touch the board resets), ms. */
export const PICOBOOT_APPEAR_TIMEOUT_MS = 10_000;
/** How long the device may stay on the bus after REBOOT (the ROM waits 500 ms first), ms. */
export const PICOBOOT_LEAVE_TIMEOUT_MS = 3_000;
/** The largest flash the RP2040 maps. */
export const RP2040_MAX_FLASH = 16 * 1024 * 1024;
/** Where Klipper is linked above Katapult. */
export const KATAPULT_OFFSET_START = FLASH_START + 0x4000;

export interface PicobootAdapterOptions {
  backend: UsbBackend;
  selector?: UsbSelector;
  target: { id: string; appStart: number; appEnd?: number };
  /** Asks a running Klipper into BOOTSEL (a 1200-baud touch); absent: the board must be in it already. */
  request?: () => Promise<void>;
  appearTimeoutMs?: number;
  leaveTimeoutMs?: number;
}

/** `n` bytes of the plan from `address` (0xFF where it has none). */
function planBytes(plan: FlashPlan, address: number, n: number): Uint8Array {
  const out = new Uint8Array(n).fill(0xff);
  for (const b of plan.blocks) {
    const lo = Math.max(address, b.address);
    const hi = Math.min(address + n, b.address + b.data.length);
    if (lo < hi) out.set(b.data.subarray(lo - b.address, hi - b.address), lo - address);
  }
  return out;
}

export class PicobootAdapter implements FlashAdapter {
  readonly protocol = "picoboot";
  readonly capabilities = {
    verify: "readback",
    erase: "pages",
    abandoned: "stays-in-bootloader",
  } as const;
  private dev: UsbDevice | undefined;
  private session: PicobootSession | undefined;
  private exclusive = false;
  private rebooted = false;
  private readonly selector: UsbSelector;
  /** This run's touch took the board out of its application. */
  private requested = false;

  constructor(readonly options: PicobootAdapterOptions) {
    this.selector = { ...RP2040_BOOTSEL_USB, ...options.selector };
  }

  private get s(): PicobootSession {
    if (!this.session) throw new Error("PICOBOOT adapter used before connect()");
    return this.session;
  }

  async enter(ctx: FlashContext): Promise<void> {
    const o = this.options;
    const { device, requested } = await reachUsbBootloader(ctx, {
      backend: o.backend,
      selector: this.selector,
      ...(o.request ? { request: o.request } : {}),
      appearTimeoutMs: o.appearTimeoutMs ?? PICOBOOT_APPEAR_TIMEOUT_MS,
      bootloader: "BOOTSEL mode",
      waitingFor: "an RP2040 in BOOTSEL mode",
      byHand: "hold BOOTSEL while plugging it in",
    });
    this.requested = requested;
    this.dev = await o.backend.open(device);
  }

  async connect(): Promise<DeviceInfo> {
    const dev = this.dev;
    if (!dev) throw new Error("PICOBOOT adapter used before enter()");
    const cfg = await dev.configDescriptor();
    const pb = cfg.interfaces.find(
      (i) =>
        i.bAlternateSetting === 0 &&
        i.bInterfaceClass === 0xff &&
        i.endpoints.length === 2 &&
        i.endpoints.every((e) => (e.bmAttributes & 3) === 2),
    );
    const out = pb?.endpoints.find((e) => !(e.bEndpointAddress & 0x80));
    const inn = pb?.endpoints.find((e) => e.bEndpointAddress & 0x80);
    if (!pb || !out || !inn) throw new PicobootNoInterfaceError(label(dev.info));
    await dev.claimInterface(pb.bInterfaceNumber);
    const s = new PicobootSession(dev, {
      iface: pb.bInterfaceNumber,
      out: out.bEndpointAddress,
      in: inn.bEndpointAddress,
    });
    this.session = s;
    await s.resetInterface();
    await s.exclusive(Exclusive.EXCLUSIVE);
    this.exclusive = true;
    await s.exitXip();
    const t = this.options.target;
    return {
      geometry: {
        start: t.appStart,
        end: t.appEnd ?? FLASH_START + RP2040_MAX_FLASH,
        blockSize: PAGE_SIZE,
        eraseUnit: SECTOR_SIZE,
        padByte: 0xff,
        addressUnit: "byte",
      },
      mcu: "rp2040",
      checksImageLayout: true,
      description: `RP2040 boot ROM (PICOBOOT) at ${label(dev.info)}: writing from 0x${t.appStart.toString(16)}${t.appStart === FLASH_START ? " (no bootloader)" : " (above Katapult)"}`,
    };
  }

  /** The image is laid out for where this row writes it, and something bootable sits below it. */
  async check(_ctx: FlashContext, plan: FlashPlan): Promise<void> {
    const start = plan.geometry.start;
    const head = planBytes(plan, plan.start, 2 * BOOT2_SIZE);
    const boot2 = hasBoot2(head);
    const vt0 = vectorTable(head, 0);
    if (start === FLASH_START) {
      if (plan.start !== start) {
        const found =
          plan.start === KATAPULT_OFFSET_START && vt0 ? "katapult-offset" : "starts-elsewhere";
        throw new PicobootImageLayoutError(start, found, plan.start);
      }
      if (!boot2)
        throw new PicobootImageLayoutError(
          start,
          vt0 ? "katapult-offset" : "no-vector-table",
          plan.start,
        );
      const vt = vectorTable(head, BOOT2_SIZE);
      if (!vt || vt.reset < start + BOOT2_SIZE || vt.reset >= plan.end)
        throw new PicobootImageLayoutError(start, "no-vector-table", plan.start);
      return;
    }
    if (plan.start !== start)
      throw new PicobootImageLayoutError(start, "starts-elsewhere", plan.start);
    if (boot2) throw new PicobootImageLayoutError(start, "no-bootloader", plan.start);
    if (!vt0 || vt0.reset < start || vt0.reset >= plan.end)
      throw new PicobootImageLayoutError(start, "no-vector-table", plan.start);
    if (!hasBoot2(await this.s.read(FLASH_START, BOOT2_SIZE)))
      throw new PicobootNoBootloaderBelowError(start);
  }

  /** Erases exactly the 4 KiB sectors the image's pages are in. */
  async erase(ctx: FlashContext, plan: FlashPlan): Promise<void> {
    const sectors = sectorsCovering(plan.blocks.map((b) => [b.address, b.data.length] as const));
    ctx.emit({
      type: "info",
      message: `erasing ${sectors.length} sectors (${(sectors.length * SECTOR_SIZE) / 1024} KiB) from 0x${sectors[0]!.toString(16)}`,
      data: { erase: "sectors", sectors: sectors.length },
    });
    for (const a of sectors) await this.s.erase(a, SECTOR_SIZE);
  }

  async writeBlock(_ctx: FlashContext, block: PlannedBlock): Promise<void> {
    await this.s.write(block.address, block.data);
  }

  async readBlock(_ctx: FlashContext, block: PlannedBlock): Promise<Uint8Array> {
    return this.s.read(block.address, block.data.length);
  }

  /** REBOOT (after verification); the boot ROM leaves the bus and the new firmware starts. */
  async finish(ctx: FlashContext): Promise<void> {
    await this.s.reboot();
    this.rebooted = true;
    const waited = this.options.leaveTimeoutMs ?? PICOBOOT_LEAVE_TIMEOUT_MS;
    const left = await waitForDeparture(
      this.options.backend,
      { ...this.selector, id: this.dev!.info.id },
      {
        clock: ctx.clock,
        signal: ctx.signal,
        timeoutMs: waited,
      },
    );
    if (!left) throw new PicobootDidNotRebootError(label(this.dev!.info), waited);
    ctx.emit({
      type: "info",
      message: "the RP2040 left BOOTSEL mode: the new firmware starts",
      data: { rebooted: true },
    });
  }

  /**
   * Nothing was written: a board this run touched into BOOTSEL goes back to
   * its (intact) application with REBOOT; one found in BOOTSEL stays.
   */
  async abandon(ctx: FlashContext): Promise<boolean> {
    if (!this.requested || !this.session || this.session.changed) return false;
    return this.rebootToApplication(ctx);
  }

  /** The device found by enter(), for reports. */
  get device(): UsbDeviceInfo | undefined {
    return this.dev?.info;
  }

  /** Did this run's touch take the board out of its application? */
  get touched(): boolean {
    return this.requested;
  }

  /** REBOOT (nothing written: the application that was there starts); resolves true once the device left. */
  async rebootToApplication(ctx: FlashContext): Promise<boolean> {
    if (!this.session) throw new Error("adapter used before connect()");
    await this.session.reboot();
    this.rebooted = true;
    return waitForDeparture(
      this.options.backend,
      { ...this.selector, id: this.dev!.info.id },
      {
        clock: ctx.clock,
        signal: ctx.signal,
        timeoutMs: this.options.leaveTimeoutMs ?? PICOBOOT_LEAVE_TIMEOUT_MS,
      },
    );
  }

  /** Gives the BOOTSEL drive back where the flash stops early; the board stays in BOOTSEL. */
  async close(): Promise<void> {
    const d = this.dev;
    this.dev = undefined;
    if (!d) return;
    if (this.exclusive && !this.rebooted)
      await this.session?.exclusive(Exclusive.NOT_EXCLUSIVE).catch(() => undefined);
    await d.close().catch(() => undefined);
  }
}
