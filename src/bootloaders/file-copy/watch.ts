// After the copy: the bootloader takes the file and reboots, so its drive
// goes away; then the board comes back on the same USB port as Klipper (or
// Katapult). Both are polls with named deadlines. A drive that stays is an
// error; a board not seen on USB is not (a CAN or UART build never shows
// there).

import { isKlipperUsb, usbId, type UsbTree } from "../../transport/usb-tree.js";
import { delay, type Clock } from "../../util/clock.js";
import type { Drive, DriveTree } from "./drives.js";
import { DriveStayedError } from "./errors.js";

/** How long a bootloader may take to reboot after the copy (the MSC one waits 0.5 s after the last write). */
export const DRIVE_GONE_TIMEOUT_MS = 10_000;
/** How long the board may take to come back on USB as its application. */
export const BOARD_BACK_TIMEOUT_MS = 10_000;
/** Interval of the sysfs and mounts polls. */
export const DRIVE_POLL_MS = 100;
/** Katapult's USB id: a board whose Katapult starts first comes back as it. */
const KATAPULT_USB = "1d50:6177";

export interface WatchOptions {
  clock: Clock;
  signal?: AbortSignal;
  timeoutMs?: number;
  pollMs?: number;
}

/** Resolves once the drive is gone; throws DriveStayedError at the deadline. */
export async function waitDriveGone(
  tree: DriveTree,
  d: Drive,
  protocol: string,
  o: WatchOptions,
): Promise<void> {
  const timeoutMs = o.timeoutMs ?? DRIVE_GONE_TIMEOUT_MS;
  const deadline = o.clock.now() + timeoutMs;
  while (await tree.present(d)) {
    if (o.clock.now() >= deadline) throw new DriveStayedError(d.path, timeoutMs, protocol);
    await delay(o.clock, o.pollMs ?? DRIVE_POLL_MS, o.signal, "waiting for the drive to go away");
  }
}

/** What came back on the port: "Klipper (1d50:614e)", or undefined when nothing did in time. */
export async function waitBoardBack(
  usb: UsbTree,
  usbPath: string,
  o: WatchOptions,
): Promise<{ what: "Klipper" | "Katapult"; usbId: string } | undefined> {
  const deadline = o.clock.now() + (o.timeoutMs ?? BOARD_BACK_TIMEOUT_MS);
  for (;;) {
    const u = await usb.usbAt(usbPath);
    if (u && isKlipperUsb(u)) return { what: "Klipper", usbId: usbId(u) };
    if (u && usbId(u) === KATAPULT_USB) return { what: "Katapult", usbId: usbId(u) };
    if (o.clock.now() >= deadline) return undefined;
    await delay(o.clock, o.pollMs ?? DRIVE_POLL_MS, o.signal, "waiting for the board to come back");
  }
}
