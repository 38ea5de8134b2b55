// The STM32 HID bootloader through the flasher core (what `hid-flash
// klipper.bin` does): find 1209:beba (after a 1200-baud touch of a running
// Klipper, where the driver gives one), refuse a bootloader older than
// 3.00, RESET PAGES, stream every KiB from the application start in order
// (the device writes pages by its own counter; the image is padded with
// zeros, to 2 KiB where the build says it writes 2 KiB pages), REBOOT, and
// the device must leave the bus. The protocol cannot read back: nothing is
// verified, and the result says so.

import type { DeviceInfo, FlashAdapter, FlashContext } from "../../flash-api/adapter.js";
import type { PlannedBlock } from "../../flash-api/geometry.js";
import type { UsbBackend, UsbDevice, UsbDeviceInfo, UsbSelector } from "../../usb/device.js";
import { waitForDeparture } from "../../usb/presence.js";
import { reachUsbBootloader } from "../../entry/usb-bootloader.js";
import { label } from "../../usb/request-host.js";
import { CHUNK_SIZE, MIN_BCD_DEVICE } from "./codec.js";
import { HidBootloaderDidNotRebootError, HidBootloaderTooOldError } from "./errors.js";
import { HidBootloaderSession, type HidOut } from "./session.js";

export const HID_BOOTLOADER_USB = { vendorId: 0x1209, productId: 0xbeba } as const;
/** How long the bootloader may take to appear (after a touch: the board resets), ms. */
export const HID_APPEAR_TIMEOUT_MS = 10_000;
/** How long it may stay on the bus after REBOOT, ms. */
export const HID_LEAVE_TIMEOUT_MS = 3_000;

export interface HidBootloaderAdapterOptions {
  backend: UsbBackend;
  selector?: UsbSelector;
  /** The row: its id, chip, application start and end. */
  target: { id: string; chip: string; appStart: number; appEnd: number };
  /** Asks a running Klipper into the bootloader (a 1200-baud touch); absent: the board must be in it already. */
  request?: () => Promise<void>;
  appearTimeoutMs?: number;
  leaveTimeoutMs?: number;
}

const bcd = (v: number) => `${(v >> 8).toString(16)}.${(v & 0xff).toString(16).padStart(2, "0")}`;

export class HidBootloaderAdapter implements FlashAdapter {
  readonly protocol = "hid-bootloader";
  readonly capabilities = {
    verify: "none",
    erase: "none",
    abandoned: "stays-in-bootloader",
  } as const;
  private dev: UsbDevice | undefined;
  private session: HidBootloaderSession | undefined;
  private started = false;
  private readonly selector: UsbSelector;
  /** This run's touch took the board out of its application. */
  private requested = false;

  constructor(readonly options: HidBootloaderAdapterOptions) {
    this.selector = { ...HID_BOOTLOADER_USB, ...options.selector };
  }

  async enter(ctx: FlashContext): Promise<void> {
    const o = this.options;
    const { device, requested } = await reachUsbBootloader(ctx, {
      backend: o.backend,
      selector: this.selector,
      ...(o.request ? { request: o.request } : {}),
      appearTimeoutMs: o.appearTimeoutMs ?? HID_APPEAR_TIMEOUT_MS,
      bootloader: "the HID bootloader",
      byHand: "start the board with BOOT1 high",
    });
    this.requested = requested;
    this.dev = await o.backend.open(device);
  }

  async connect(ctx: FlashContext): Promise<DeviceInfo> {
    const dev = this.dev;
    if (!dev) throw new Error("HID bootloader adapter used before enter()");
    const d = dev.deviceDescriptor;
    if (d.bcdDevice < MIN_BCD_DEVICE)
      throw new HidBootloaderTooOldError(label(dev.info), d.bcdDevice);
    const cfg = await dev.configDescriptor();
    const hid = cfg.interfaces.find((i) => i.bInterfaceClass === 3) ?? cfg.interfaces[0];
    const iface = hid?.bInterfaceNumber ?? 0;
    const epIn = hid?.endpoints.find((e) => e.bEndpointAddress & 0x80)?.bEndpointAddress ?? 0x81;
    const epOut = hid?.endpoints.find((e) => !(e.bEndpointAddress & 0x80))?.bEndpointAddress;
    await dev.claimInterface(iface);
    const out: HidOut =
      epOut !== undefined ? { kind: "interrupt", endpoint: epOut } : { kind: "control" };
    this.session = new HidBootloaderSession(dev, out, epIn, ctx.clock, ctx.signal);
    const t = this.options.target;
    const product = dev.info.product ? `"${dev.info.product}" ` : "";
    return {
      geometry: {
        start: t.appStart,
        end: t.appEnd,
        blockSize: CHUNK_SIZE,
        padByte: 0x00,
        addressUnit: "byte",
        contiguousFromStart: true,
      },
      bootloaderVersion: bcd(d.bcdDevice),
      description: `STM32 HID bootloader ${product}${bcd(d.bcdDevice)} (${out.kind === "control" ? "F1 build, SET_REPORT" : "F4 build, interrupt OUT"}), ${label(dev.info)}: application at 0x${t.appStart.toString(16)}, no read-back`,
    };
  }

  async writeBlock(_ctx: FlashContext, block: PlannedBlock): Promise<void> {
    const s = this.session!;
    if (!this.started) {
      await s.start(this.options.target.appStart);
      this.started = true;
    }
    await s.chunk(block.address, block.data);
  }

  async endWrite(ctx: FlashContext): Promise<void> {
    const s = this.session!;
    const next = this.options.target.appStart + s.sent;
    if (await s.pad(next))
      ctx.emit({
        type: "info",
        message: "padded the image with a zero KiB to fill the bootloader's last 2 KiB page",
        data: { padded: CHUNK_SIZE },
      });
  }

  async finish(ctx: FlashContext): Promise<void> {
    await this.session!.reboot();
    const waited = this.options.leaveTimeoutMs ?? HID_LEAVE_TIMEOUT_MS;
    const left = await waitForDeparture(
      this.options.backend,
      { ...this.selector, id: this.dev!.info.id },
      {
        clock: ctx.clock,
        signal: ctx.signal,
        timeoutMs: waited,
      },
    );
    if (!left) throw new HidBootloaderDidNotRebootError(label(this.dev!.info), waited);
    ctx.emit({
      type: "info",
      message: "the HID bootloader left the bus: the new firmware starts",
      data: { rebooted: true },
    });
  }

  /**
   * Nothing was written: a board this run touched into the bootloader goes
   * back to its (intact) application with REBOOT; one found there stays.
   */
  async abandon(ctx: FlashContext): Promise<boolean> {
    if (!this.requested || !this.session || this.started) return false;
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
    return waitForDeparture(
      this.options.backend,
      { ...this.selector, id: this.dev!.info.id },
      {
        clock: ctx.clock,
        signal: ctx.signal,
        timeoutMs: this.options.leaveTimeoutMs ?? HID_LEAVE_TIMEOUT_MS,
      },
    );
  }

  async close(): Promise<void> {
    const d = this.dev;
    this.dev = undefined;
    if (!d) return;
    await d.close().catch(() => undefined);
  }
}
