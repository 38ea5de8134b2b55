// Reaching a USB bootloader of its own (the HID bootloader, the RP2040's
// BOOTSEL ROM): a board already in it is taken as it is; a running Klipper
// on a tty is asked in with the 1200-baud touch (`request`) once nothing
// answers, and followed to the device that appears; without a request a
// person is asked to start the board in its bootloader. A dry run sends no
// touch. After a touch, a board with Katapult installed comes up as
// Katapult instead: that is said, not flashed (UsbOtherBootloaderError).

import type { FlashContext } from "../flash-api/adapter.js";
import {
  driverContext,
  type DriverEnv,
  type Link,
  type RequestReport,
} from "../flash-api/driver.js";
import { usbBackend } from "../usb/backends.js";
import type { UsbBackend, UsbDeviceInfo, UsbSelector } from "../usb/device.js";
import { label } from "../usb/request-host.js";
import { KATAPULT_INSTEAD, waitForDevicePrompting } from "../usb/presence.js";
import { describeSelector } from "../usb/wait.js";

export interface UsbBootloaderReach {
  backend: UsbBackend;
  selector: UsbSelector;
  /** The 1200-baud touch of the board's running Klipper (absent: the board must be started in its bootloader). */
  request?: () => Promise<void>;
  /** How long the device may take to appear, ms. */
  appearTimeoutMs: number;
  /** For messages: "the HID bootloader", "BOOTSEL mode". */
  bootloader: string;
  /** What is waited for, where it reads better than `bootloader`: "an RP2040 in BOOTSEL mode". */
  waitingFor?: string;
  /** What a person does to start the board in it: "start the board with BOOT1 high". */
  byHand: string;
}

/** Waits for the bootloader's device (touching first where asked); resolves with it and whether the touch was sent. */
export async function reachUsbBootloader(
  ctx: FlashContext,
  o: UsbBootloaderReach,
): Promise<{ device: UsbDeviceInfo; requested: boolean }> {
  const request = o.request;
  const ask = request && !ctx.dryRun;
  let requested = false;
  const found = await waitForDevicePrompting(o.backend, o.selector, {
    clock: ctx.clock,
    signal: ctx.signal,
    ...(request ? { instead: KATAPULT_INSTEAD } : {}),
    timeoutMs: request && ctx.dryRun ? 0 : o.appearTimeoutMs,
    onWaiting: async () => {
      if (ask) {
        ctx.emit({
          type: "info",
          message: `asking Klipper into ${o.bootloader} (1200-baud touch)`,
          data: { request: "1200-baud-touch" },
        });
        await request();
        requested = true;
      } else if (request)
        ctx.emit({
          type: "info",
          message:
            "dry run: the 1200-baud touch that would ask Klipper into its bootloader is not sent",
          data: { dryRun: true },
        });
      else
        ctx.emit({
          type: "info",
          message: `waiting for ${o.waitingFor ?? o.bootloader} (${describeSelector(o.selector)}): ${o.byHand}`,
          data: { waitingFor: describeSelector(o.selector) },
        });
    },
  });
  return { device: found[0]!, requested };
}

/** What a driver's -r and release need from a USB bootloader adapter (HID bootloader, PICOBOOT). */
export interface UsbBootloaderAdapter {
  enter(ctx: FlashContext): Promise<void>;
  connect(ctx: FlashContext): Promise<unknown>;
  /** REBOOT: the application that was there starts; true once the device left the bus. */
  rebootToApplication(ctx: FlashContext): Promise<boolean>;
  close(): Promise<void>;
  readonly device: UsbDeviceInfo | undefined;
  /** This run's touch took the board out of its application. */
  readonly touched: boolean;
}

/** -r: into the bootloader and left there (a running Klipper gets the touch; a board already in it stays). */
export async function requestUsbBootloader(
  adapter: UsbBootloaderAdapter,
  bootloader: string,
  link: Link,
  env: DriverEnv,
): Promise<RequestReport> {
  try {
    await adapter.enter(driverContext(env));
    return {
      bootloader,
      at: adapter.device ? `usb:${label(adapter.device)}` : link.kind,
      already: !adapter.touched,
      confirmed: true,
    };
  } finally {
    await adapter.close();
  }
}

/**
 * A board this run asked in but never flashed: REBOOT starts the application
 * it had. A tty link's board is looked for on the USB backend, where the
 * touch sent it.
 */
export async function releaseUsbBootloader(
  adapterFor: (link: Link) => UsbBootloaderAdapter,
  link: Link,
  env: DriverEnv,
): Promise<boolean> {
  const usbLink: Link =
    link.kind === "usb"
      ? link
      : { kind: "usb", selector: {}, backend: env.usbBackend ?? usbBackend(), label: "usb:" };
  const adapter = adapterFor(usbLink);
  const ctx = driverContext(env);
  try {
    await adapter.enter(ctx);
    await adapter.connect(ctx);
    return await adapter.rebootToApplication(ctx);
  } finally {
    await adapter.close();
  }
}
