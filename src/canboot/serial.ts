// Katapult over USB CDC and UART. A board named by its tty is looked up in
// sysfs: running Katapult (1d50:6177) → talk to it; running Klipper over
// USB (1d50:614e) → 1200-baud touch, then follow the re-enumeration on the
// same USB port to the Katapult tty; a plain UART → talk at the given baud
// (Katapult's default 250000; ask a Klipper UART board in with the request
// string first). USB replies get the "prime" write (katapult.md §8.2).

import { access } from "node:fs/promises";
import type { FlashContext } from "../flash-api/adapter.js";
import { delay, realClock, type Clock } from "../util/clock.js";
import { CanflashError } from "../util/errors.js";
import { moduleLogger } from "../util/log.js";
import type { ByteTransport } from "../transport/byte-transport.js";
import { PortNotFoundError } from "../transport/serial-errors.js";
import { openSerial, type SerialTransport } from "../transport/serial.js";
import {
  isKatapultUsb,
  isKlipperUsb,
  UsbTree,
  type TtyInfo,
  type UsbInfo,
} from "../transport/usb-tree.js";
import { KatapultAdapter } from "./adapter.js";
import type { SessionTimeouts } from "./session.js";
import { DryRunStopError } from "../flash-api/errors.js";

const log = moduleLogger("canboot.serial");

/** Katapult's default UART speed. */
export const DEFAULT_KATAPULT_BAUD = 250000;
/** How long a USB board may take to re-enumerate as Katapult (flashtool: 8 × 0.5 s). */
export const USB_REENUMERATE_TIMEOUT_MS = 5000;
export const USB_POLL_MS = 100;

/** `~ <FS> Request Serial Bootloader!! ~`: Klipper's UART bootloader request (33 bytes). */
export const SERIAL_BOOTLOADER_REQUEST = Uint8Array.from([
  0x7e,
  0x20,
  0x1c,
  0x20,
  ...new TextEncoder().encode("Request Serial Bootloader!!"),
  0x20,
  0x7e,
]);

export class UsbReenumerationError extends CanflashError {
  constructor(
    readonly device: string,
    readonly usbPath: string,
    readonly timeoutMs: number,
    /** What sat on the port at the deadline ("1d50:614e Klipper", or undefined = nothing). */
    readonly seen: string | undefined,
  ) {
    super(
      "USB_REENUMERATION_TIMEOUT",
      `the board on USB port ${usbPath} did not come back as Katapult within ${timeoutMs} ms` +
        (seen ? ` (it is now ${seen})` : " (nothing re-appeared)"),
    );
  }
}

const usbText = (u: UsbInfo): string => `${u.vid}:${u.pid} ${u.manufacturer} ${u.product}`.trim();

export interface SerialLinkOptions {
  tree?: UsbTree;
  reenumerateTimeoutMs?: number;
  pollMs?: number;
  procRoot?: string;
  /** Reports decisions (touch sent, device followed) for progress output. */
  onInfo?: (message: string) => void;
  signal?: AbortSignal;
  /** Dry run: a board running Klipper stops with DryRunStopError instead of being touched. */
  dryRun?: boolean;
}

/** The "1200-baud touch": open, DTR on, 1200 baud, DTR off, close. Refused DTR calls (pty) are fine. */
export async function touch1200(path: string, procRoot?: string): Promise<void> {
  const port = await openSerial({ path, baudRate: 115200, ...(procRoot ? { procRoot } : {}) });
  try {
    await port.setLines({ dtr: true });
    await port.setBaud(1200);
    await port.setLines({ dtr: false });
  } finally {
    await port.close();
  }
}

/** Sends Klipper's UART bootloader request at the baud Klipper runs at. */
export async function sendSerialBootloaderRequest(
  path: string,
  baud: number,
  procRoot?: string,
): Promise<void> {
  const port = await openSerial({ path, baudRate: baud, ...(procRoot ? { procRoot } : {}) });
  try {
    await port.write(SERIAL_BOOTLOADER_REQUEST);
  } finally {
    await port.close();
  }
}

/** Polls the USB port until a Katapult device with a tty is there; returns that tty. */
export async function waitForKatapultUsb(
  tree: UsbTree,
  device: string,
  usbPath: string,
  o: SerialLinkOptions,
  clock: Clock = realClock,
): Promise<TtyInfo> {
  const timeoutMs = o.reenumerateTimeoutMs ?? USB_REENUMERATE_TIMEOUT_MS;
  const deadline = clock.now() + timeoutMs;
  let last: UsbInfo | undefined;
  for (;;) {
    last = await tree.usbAt(usbPath);
    if (last && isKatapultUsb(last)) {
      const tty = await tree.ttyOfUsb(usbPath);
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
      throw new UsbReenumerationError(device, usbPath, timeoutMs, last ? usbText(last) : undefined);
    await delay(clock, o.pollMs ?? USB_POLL_MS, o.signal, "waiting for USB re-enumeration");
  }
}

/**
 * Finds the Katapult tty behind `device`, touching a Klipper USB board into
 * its bootloader first. Returns the path to open and whether it is USB.
 */
export async function reachKatapultSerial(
  device: string,
  o: SerialLinkOptions = {},
): Promise<{ path: string; usb: boolean }> {
  const tree = o.tree ?? new UsbTree();
  const tty = await tree.resolveTty(device);
  if (!tty) {
    // Not in sysfs (a pty, or an unusual driver): use it as a plain serial line.
    await access(device).catch(() => {
      throw new PortNotFoundError(device);
    });
    return { path: device, usb: false };
  }
  if (!tty.usb) return { path: tty.devPath, usb: false };
  if (isKatapultUsb(tty.usb)) return { path: tty.devPath, usb: true };
  if (isKlipperUsb(tty.usb)) {
    if (o.dryRun) throw new DryRunStopError(device, "do a 1200-baud touch to enter Katapult");
    o.onInfo?.(`${device} runs Klipper (${usbText(tty.usb)}): 1200-baud touch to enter Katapult`);
    await touch1200(tty.devPath, o.procRoot);
    const k = await waitForKatapultUsb(tree, device, tty.usb.usbPath, o);
    o.onInfo?.(`USB port ${tty.usb.usbPath} came back as Katapult on ${k.name}`);
    return { path: k.devPath, usb: true };
  }
  log.debug({ device, usb: usbText(tty.usb) }, "USB serial adapter: using it as a UART");
  return { path: tty.devPath, usb: false };
}

export interface KatapultSerialOptions extends SerialLinkOptions {
  device: string;
  /** Wraps the opened port (e.g. to trace every byte). */
  wrapTransport?: (t: ByteTransport) => ByteTransport;
  /** UART speed (ignored by USB CDC). */
  baud?: number;
  timeouts?: Partial<SessionTimeouts>;
  flashEnd?: number;
}

/** A FlashAdapter for Katapult on a tty (USB CDC or UART). */
export function katapultSerialAdapter(o: KatapultSerialOptions): KatapultAdapter {
  let usb = false;
  return new KatapultAdapter({
    protocol: "katapult-serial",
    ...(o.timeouts ? { timeouts: o.timeouts } : {}),
    ...(o.flashEnd !== undefined ? { flashEnd: o.flashEnd } : {}),
    prime: () => usb,
    ...(o.wrapTransport ? { wrapTransport: o.wrapTransport } : {}),
    async open(ctx: FlashContext): Promise<ByteTransport> {
      const reached = await reachKatapultSerial(o.device, {
        ...o,
        ...(ctx.dryRun ? { dryRun: true } : {}),
        ...(ctx.signal ? { signal: ctx.signal } : {}),
        onInfo: (m) => ctx.emit({ type: "info", message: m }),
      });
      usb = reached.usb;
      const port: SerialTransport = await openSerial({
        path: reached.path,
        baudRate: o.baud ?? DEFAULT_KATAPULT_BAUD,
        clock: ctx.clock,
        ...(o.procRoot ? { procRoot: o.procRoot } : {}),
      });
      await port.flush();
      return port;
    },
  });
}
