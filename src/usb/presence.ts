// A bootloader entered by a person (a button) and a device that must leave
// the bus (a reboot): waiting for a device to appear while asking once for
// the button, and waiting for it to be gone; polls with a deadline on the
// given clock (the appear-poll is wait.ts's).

import { delay, type Clock } from "../util/clock.js";
import {
  matchesSelector,
  type UsbBackend,
  type UsbDeviceInfo,
  type UsbSelector,
} from "./device.js";
import { DEVICE_POLL_MS, waitForDevice } from "./wait.js";

export interface WaitOptions {
  clock: Clock;
  /** 0: look once. */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  pollMs?: number;
  /** Called once, when the first look finds nothing (to ask a person to press a button, or to send a request); awaited. */
  onWaiting?: () => void | Promise<void>;
}

const opts = (o: WaitOptions, timeoutMs: number) => ({
  clock: o.clock,
  timeoutMs,
  ...(o.signal ? { signal: o.signal } : {}),
  ...(o.pollMs !== undefined ? { pollMs: o.pollMs } : {}),
});

/**
 * The matching devices once at least one is listed; when the first look
 * finds none, `onWaiting` is called before the wait. Throws
 * UsbDeviceNotFoundError (with what was listed instead) after the deadline.
 */
export async function waitForDevicePrompting(
  backend: UsbBackend,
  selector: UsbSelector,
  o: WaitOptions,
): Promise<UsbDeviceInfo[]> {
  const now = (await backend.list()).filter((d) => matchesSelector(d, selector));
  if (now.length) return now;
  await o.onWaiting?.();
  return waitForDevice(backend, [selector], opts(o, o.timeoutMs));
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
      Math.min(o.pollMs ?? DEVICE_POLL_MS, left),
      o.signal,
      "waiting for a USB device to leave",
    );
  }
}
