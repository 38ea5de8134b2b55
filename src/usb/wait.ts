// Waiting for a device to appear (a re-enumeration: runtime → DFU after
// DETACH, application → bootloader after a touch, bootloader → application
// after leave): polls the backend's listing until a match or the deadline.

import { delay, type Clock } from "../util/clock.js";
import { throwIfAborted } from "../util/errors.js";
import {
  formatUsbId,
  matchesSelector,
  type UsbBackend,
  type UsbDeviceInfo,
  type UsbSelector,
} from "./device.js";
import { UsbDeviceNotFoundError } from "./errors.js";

/** Between two listings while waiting for a device, ms. */
export const DEVICE_POLL_MS = 100;

/** "0483:df11 serial 123 at 1-1.4" for messages. */
export function describeSelector(s: UsbSelector): string {
  const parts: string[] = [];
  if (s.vendorId !== undefined)
    parts.push(
      s.productId !== undefined
        ? formatUsbId(s.vendorId, s.productId)
        : `vendor ${s.vendorId.toString(16).padStart(4, "0")}`,
    );
  if (s.serialNumber !== undefined) parts.push(`serial ${s.serialNumber}`);
  if (s.portPath !== undefined) parts.push(`at ${s.portPath}`);
  if (s.id !== undefined) parts.push(`(${s.id})`);
  return parts.join(" ") || "(any)";
}

const seenOf = (list: UsbDeviceInfo[]) =>
  list.map((d) => `${formatUsbId(d.vendorId, d.productId)}${d.product ? ` ${d.product}` : ""}`);

/**
 * The devices matching any of `selectors`, waiting up to `timeoutMs` for
 * one (0: look once). Throws UsbDeviceNotFoundError naming what was seen.
 */
export async function waitForDevice(
  backend: UsbBackend,
  selectors: readonly UsbSelector[],
  o: { timeoutMs: number; clock: Clock; signal?: AbortSignal; pollMs?: number },
): Promise<UsbDeviceInfo[]> {
  const start = o.clock.now();
  for (;;) {
    throwIfAborted(o.signal, "wait for the USB device");
    const list = await backend.list();
    const found = list.filter((d) => selectors.some((s) => matchesSelector(d, s)));
    if (found.length > 0) return found;
    if (o.clock.now() - start >= o.timeoutMs)
      throw new UsbDeviceNotFoundError(
        selectors.map(describeSelector).join(" or "),
        seenOf(list),
        o.timeoutMs,
      );
    await delay(o.clock, o.pollMs ?? DEVICE_POLL_MS, o.signal, "wait for the USB device");
  }
}
