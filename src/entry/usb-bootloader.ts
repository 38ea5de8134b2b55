// Reaching a USB bootloader of its own (the HID bootloader, the RP2040's
// BOOTSEL ROM): a board already in it is taken as it is; a running Klipper
// on a tty is asked in with the 1200-baud touch (`request`) once nothing
// answers, and followed to the device that appears; without a request a
// person is asked to start the board in its bootloader. A dry run sends no
// touch. After a touch, a board with Katapult installed comes up as
// Katapult instead: that is said, not flashed (UsbOtherBootloaderError).

import type { FlashContext } from "../flash-api/adapter.js";
import type { UsbBackend, UsbDeviceInfo, UsbSelector } from "../usb/device.js";
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
