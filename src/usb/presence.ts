// A bootloader entered by a person (a button) and a device that must leave
// the bus (a reboot): waiting for a device to appear while asking once for
// the button, and waiting for it to be gone; polls with a deadline on the
// given clock. (Until the seam's wait.ts lands here this file keeps its own
// appear-poll.)

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

/** How often a wait looks at the listing, ms (teensy_loader_cli -w looks every 250 ms). */
export const PRESENCE_POLL_MS = 250;

/** "16c0:0478 serial 123 at 1-1.4" for messages. */
export function selectorText(s: UsbSelector): string {
  const id =
    s.vendorId !== undefined && s.productId !== undefined
      ? formatUsbId(s.vendorId, s.productId)
      : s.vendorId !== undefined
        ? `${s.vendorId.toString(16).padStart(4, "0")}:*`
        : "device";
  return [
    id,
    s.serialNumber !== undefined ? `serial ${s.serialNumber}` : "",
    s.portPath !== undefined ? `at ${s.portPath}` : "",
    s.id !== undefined && s.portPath === undefined ? `(${s.id})` : "",
  ]
    .filter(Boolean)
    .join(" ");
}

export interface WaitOptions {
  clock: Clock;
  /** 0: look once. */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  pollMs?: number;
  /** Called once, when the first look finds nothing (to ask a person to press a button). */
  onWaiting?: () => void;
}

/**
 * The matching devices once at least one is listed. Throws
 * UsbDeviceNotFoundError (with what was listed instead) after the deadline.
 */
export async function waitForDevicePrompting(
  backend: UsbBackend,
  selector: UsbSelector,
  o: WaitOptions,
): Promise<UsbDeviceInfo[]> {
  const start = o.clock.now();
  let seen: UsbDeviceInfo[] = [];
  for (let first = true; ; first = false) {
    throwIfAborted(o.signal, "waiting for a USB device");
    seen = await backend.list();
    const found = seen.filter((d) => matchesSelector(d, selector));
    if (found.length) return found;
    if (first) o.onWaiting?.();
    const left = o.timeoutMs - (o.clock.now() - start);
    if (left <= 0) break;
    await delay(
      o.clock,
      Math.min(o.pollMs ?? PRESENCE_POLL_MS, left),
      o.signal,
      "waiting for a USB device",
    );
  }
  throw new UsbDeviceNotFoundError(
    selectorText(selector),
    seen.map((d) => `${formatUsbId(d.vendorId, d.productId)}${d.product ? ` ${d.product}` : ""}`),
    o.timeoutMs,
  );
}

/** Resolves true once no device matches (false when one still does at the deadline). */
export async function waitForDeparture(
  backend: UsbBackend,
  selector: UsbSelector,
  o: WaitOptions,
): Promise<boolean> {
  const start = o.clock.now();
  for (;;) {
    const listed = await backend.list();
    if (!listed.some((d) => matchesSelector(d, selector))) return true;
    const left = o.timeoutMs - (o.clock.now() - start);
    if (left <= 0) return false;
    await delay(
      o.clock,
      Math.min(o.pollMs ?? PRESENCE_POLL_MS, left),
      o.signal,
      "waiting for a USB device to leave",
    );
  }
}
