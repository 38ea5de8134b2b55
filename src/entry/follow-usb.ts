// Following a USB board across re-enumeration: after a touch or a request
// the board drops off USB and comes back as its bootloader, on the same USB
// port path ("1-1.3") but with another id and tty. Polls sysfs until a
// device the caller accepts has a tty there, or the named deadline passes.

import { access } from "node:fs/promises";
import { UsbTree, usbId, type TtyInfo, type UsbInfo } from "../transport/usb-tree.js";
import { delay, realClock, type Clock } from "../util/clock.js";
import { CanflashError } from "../util/errors.js";

declare module "../util/errors.js" {
  interface ErrorCodes {
    USB_REENUMERATION_TIMEOUT: true;
  }
}

/** How long a USB board may take to re-enumerate as its bootloader (flashtool: 8 × 0.5 s). */
export const USB_REENUMERATE_TIMEOUT_MS = 5000;
/** Interval of the sysfs poll while waiting. */
export const USB_POLL_MS = 100;

export const usbText = (u: UsbInfo): string => `${usbId(u)} ${u.manufacturer} ${u.product}`.trim();

export class UsbReenumerationError extends CanflashError {
  constructor(
    readonly device: string,
    readonly usbPath: string,
    /** What was awaited: "Katapult". */
    readonly expected: string,
    readonly timeoutMs: number,
    /** What sat on the port at the deadline ("1d50:614e Klipper"), or undefined: nothing. */
    readonly seen: string | undefined,
  ) {
    super(
      "USB_REENUMERATION_TIMEOUT",
      `the board on USB port ${usbPath} did not come back as ${expected} within ${timeoutMs} ms` +
        (seen ? ` (it is now ${seen})` : " (nothing re-appeared)"),
    );
  }
}

export interface FollowOptions {
  timeoutMs?: number;
  pollMs?: number;
  signal?: AbortSignal;
  clock?: Clock;
}

/** Waits until a device `accept`s on `usbPath` with an openable tty; returns that tty. */
export async function followUsbTo(
  tree: UsbTree,
  o: { device: string; usbPath: string; expected: string; accept: (u: UsbInfo) => boolean },
  opts: FollowOptions = {},
): Promise<TtyInfo> {
  const clock = opts.clock ?? realClock;
  const timeoutMs = opts.timeoutMs ?? USB_REENUMERATE_TIMEOUT_MS;
  const deadline = clock.now() + timeoutMs;
  let last: UsbInfo | undefined;
  for (;;) {
    last = await tree.usbAt(o.usbPath);
    if (last && o.accept(last)) {
      const tty = await tree.ttyOfUsb(o.usbPath);
      if (
        tty &&
        (await access(tty.devPath).then(
          () => true,
          () => false,
        ))
      )
        return tty;
    }
    if (clock.now() >= deadline)
      throw new UsbReenumerationError(
        o.device,
        o.usbPath,
        o.expected,
        timeoutMs,
        last ? usbText(last) : undefined,
      );
    await delay(clock, opts.pollMs ?? USB_POLL_MS, opts.signal, "waiting for USB re-enumeration");
  }
}
