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
import { CanflashError } from "../util/errors.js";
import { label } from "./request-host.js";
import { describeSelector, waitForDevice } from "./wait.js";

declare module "../util/errors.js" {
  interface ErrorCodes {
    USB_OTHER_BOOTLOADER: true;
  }
}

/** Katapult's USB id (the targets table's katapult row): what a touched Klipper board with Katapult becomes. */
export const KATAPULT_INSTEAD = [
  { name: "Katapult", selector: { vendorId: 0x1d50, productId: 0x6177 } },
] as const;

/** The board came up as another bootloader than the one waited for (Katapult after a touch). */
export class UsbOtherBootloaderError extends CanflashError {
  constructor(
    /** What came up: "Katapult". */
    readonly bootloader: string,
    readonly device: string,
    /** What was waited for: "1209:beba". */
    readonly wanted: string,
  ) {
    super(
      "USB_OTHER_BOOTLOADER",
      `the board came up as ${bootloader} (${device}), not as ${wanted}: it has ${bootloader} installed`,
    );
  }
}

export interface WaitOptions {
  clock: Clock;
  /** 0: look once. */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  pollMs?: number;
  /** Called once, when the first look finds nothing (to ask a person to press a button, or to send a request); awaited. */
  onWaiting?: () => void | Promise<void>;
  /** Devices that, appearing while waiting, end the wait with UsbOtherBootloaderError. */
  instead?: ReadonlyArray<{ name: string; selector: UsbSelector }>;
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
  const others = o.instead ?? [];
  const found = await waitForDevice(
    backend,
    [selector, ...others.map((x) => x.selector)],
    opts(o, o.timeoutMs),
  );
  const wanted = found.filter((d) => matchesSelector(d, selector));
  if (wanted.length) return wanted;
  const other = others.find((x) => found.some((d) => matchesSelector(d, x.selector)))!;
  const d = found.find((x) => matchesSelector(x, other.selector))!;
  throw new UsbOtherBootloaderError(other.name, label(d), describeSelector(selector));
}

/** Between two listings while waiting for a device to leave, ms (a reboot takes milliseconds; a listing is cheap). */
export const DEPARTURE_POLL_MS = 25;

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
      Math.min(o.pollMs ?? DEPARTURE_POLL_MS, left),
      o.signal,
      "waiting for a USB device to leave",
    );
  }
}
