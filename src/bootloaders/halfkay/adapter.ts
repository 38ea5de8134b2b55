// HalfKay through the flasher core (teensy_loader_cli --mcu=… -w -v
// file.hex): wait for 16c0:0478 (the program button), claim its HID
// interface, write block 0 first (HalfKay erases the whole application on
// it), then every block that holds data, in order; blank blocks stay
// erased. HalfKay cannot read back: nothing is verified, and the result says
// so. Finish: the boot report, then the device must leave the bus.

import type { DeviceInfo, FlashAdapter, FlashContext } from "../../flash-api/adapter.js";
import type { PlannedBlock } from "../../flash-api/geometry.js";
import type { UsbBackend, UsbDevice, UsbSelector } from "../../usb/device.js";
import { label } from "../../usb/request-host.js";
import { waitForDeparture, waitForDevicePrompting } from "../../usb/presence.js";
import { describeSelector } from "../../usb/wait.js";
import { moduleLogger } from "../../util/log.js";
import { isBlank, type HalfKayPart } from "./codec.js";
import { HalfKayDidNotBootError } from "./errors.js";
import { HalfKaySession } from "./session.js";

const log = moduleLogger("halfkay");

/** How long canflash waits for HalfKay to appear (someone presses the button), ms. */
export const HALFKAY_APPEAR_TIMEOUT_MS = 60_000;
/** How long the device may stay on the bus after the boot report, ms. */
export const HALFKAY_LEAVE_TIMEOUT_MS = 3_000;

export const HALFKAY_USB = { vendorId: 0x16c0, productId: 0x0478 } as const;

export interface HalfKayAdapterOptions {
  backend: UsbBackend;
  /** Which device; default any 16c0:0478. */
  selector?: UsbSelector;
  part: HalfKayPart;
  appearTimeoutMs?: number;
  leaveTimeoutMs?: number;
}

export class HalfKayAdapter implements FlashAdapter {
  readonly protocol = "halfkay";
  readonly capabilities = {
    verify: "none",
    erase: "none",
    abandoned: "stays-in-bootloader",
  } as const;
  private dev: UsbDevice | undefined;
  private session: HalfKaySession | undefined;
  private readonly selector: UsbSelector;

  constructor(readonly options: HalfKayAdapterOptions) {
    this.selector = { ...HALFKAY_USB, ...options.selector };
  }

  /** Waits for HalfKay on the bus (asking for the program button when it is not there yet). */
  async enter(ctx: FlashContext): Promise<void> {
    const found = await waitForDevicePrompting(this.options.backend, this.selector, {
      clock: ctx.clock,
      signal: ctx.signal,
      timeoutMs: this.options.appearTimeoutMs ?? HALFKAY_APPEAR_TIMEOUT_MS,
      onWaiting: () =>
        ctx.emit({
          type: "info",
          message: `waiting for HalfKay (${describeSelector(this.selector)}): press the program button on the ${this.options.part.board}`,
          data: { waitingFor: describeSelector(this.selector) },
        }),
    });
    this.dev = await this.options.backend.open(found[0]!);
    await this.dev.claimInterface(0);
  }

  async connect(ctx: FlashContext): Promise<DeviceInfo> {
    if (!this.dev) throw new Error("HalfKay adapter used before enter()");
    const p = this.options.part;
    this.session = new HalfKaySession(this.dev, p, ctx.clock, ctx.signal);
    return {
      geometry: {
        start: 0,
        end: p.codeSize,
        blockSize: p.blockSize,
        padByte: 0xff,
        addressUnit: "byte",
      },
      mcu: p.name,
      description: `HalfKay on ${p.name} (${p.board}), ${label(this.dev.info)}: ${p.codeSize} bytes in ${p.blockSize}-byte blocks, no read-back`,
    };
  }

  async writeBlock(_ctx: FlashContext, block: PlannedBlock): Promise<void> {
    const s = this.session!;
    if (s.written === 0 && block.address !== 0) {
      log.debug("image has no data in block 0: sending it blank, so that HalfKay erases first");
      await s.write(0, new Uint8Array(s.part.blockSize).fill(0xff));
    }
    if (s.written > 0 && isBlank(block.data)) return;
    await s.write(block.address, block.data);
  }

  /** The boot report; the device must then leave the bus (the new program starts). */
  async finish(ctx: FlashContext): Promise<void> {
    await this.session!.boot();
    const waited = this.options.leaveTimeoutMs ?? HALFKAY_LEAVE_TIMEOUT_MS;
    const left = await waitForDeparture(
      this.options.backend,
      { ...this.selector, id: this.dev!.info.id },
      {
        clock: ctx.clock,
        signal: ctx.signal,
        timeoutMs: waited,
      },
    );
    if (!left) throw new HalfKayDidNotBootError(label(this.dev!.info), waited);
    ctx.emit({
      type: "info",
      message: "HalfKay left the bus: the new program runs",
      data: { booted: true },
    });
  }

  async close(): Promise<void> {
    const d = this.dev;
    this.dev = undefined;
    if (!d) return;
    await d.releaseInterface(0).catch(() => undefined);
    await d.close().catch(() => undefined);
  }
}
