// Katapult over USB CDC and UART. A board named by its tty is looked up in
// sysfs: its USB id is one of the row's (Katapult) → talk to it; it runs
// Klipper over USB → the row's USB entry (the 1200-baud touch), then follow
// the re-enumeration on the same USB port to the Katapult tty; a plain UART
// → talk at the given baud (Katapult's default 250000). USB replies get the
// "prime" write (katapult.md §8.2).

import { access } from "node:fs/promises";
import { ENTRIES, manualEntries, pickEntry } from "../../entry/index.js";
import { followUsbTo, usbText, type FollowOptions } from "../../entry/follow-usb.js";
import { touch1200 } from "../../entry/touch.js";
import type { FlashContext } from "../../flash-api/adapter.js";
import { DryRunStopError, NoEntryError } from "../../flash-api/errors.js";
import type { Target } from "../../targets/index.js";
import type { ByteTransport } from "../../transport/byte-transport.js";
import { PortNotFoundError } from "../../transport/serial-errors.js";
import { openSerial, type SerialTransport } from "../../transport/serial.js";
import { hasUsbId, isKlipperUsb, UsbTree, type UsbInfo } from "../../transport/usb-tree.js";
import { moduleLogger } from "../../util/log.js";
import { KatapultAdapter } from "./adapter.js";
import { DEVICE_RX_BUFFER_BYTES, type SessionTimeouts } from "./session.js";

const log = moduleLogger("katapult.serial");

/** Katapult's default UART speed. */
export const DEFAULT_KATAPULT_BAUD = 250000;

/** The USB device is this row's bootloader (by USB id; Katapult also says so as manufacturer). */
export const isKatapultUsb = (t: Target, u: UsbInfo): boolean =>
  hasUsbId(u, t.usbIds) || u.manufacturer.toLowerCase() === "katapult";

export interface SerialLinkOptions extends FollowOptions {
  tree?: UsbTree;
  procRoot?: string;
  /** Reports decisions (touch sent, device followed) for progress output. */
  onInfo?: (message: string) => void;
  /** Dry run: a board running Klipper stops with DryRunStopError instead of being touched. */
  dryRun?: boolean;
}

/**
 * Finds the Katapult tty behind `device`, getting a Klipper USB board into
 * its bootloader first (the row's USB entry). Returns the path to open and
 * whether it is USB.
 */
export async function reachKatapultSerial(
  device: string,
  target: Target,
  o: SerialLinkOptions = {},
): Promise<{ path: string; usb: boolean; entered: boolean }> {
  const tree = o.tree ?? new UsbTree();
  const tty = await tree.resolveTty(device);
  if (!tty) {
    // Not in sysfs (a pty, or an unusual driver): use it as a plain serial line.
    await access(device).catch(() => {
      throw new PortNotFoundError(device);
    });
    return { path: device, usb: false, entered: false };
  }
  if (!tty.usb) return { path: tty.devPath, usb: false, entered: false };
  if (isKatapultUsb(target, tty.usb)) return { path: tty.devPath, usb: true, entered: false };
  if (isKlipperUsb(tty.usb)) {
    const entry = pickEntry(target, "usb-cdc");
    if (!entry) throw new NoEntryError(device, target.id, manualEntries(target), "Klipper");
    if (o.dryRun) throw new DryRunStopError(device, ENTRIES[entry].wouldDo);
    o.onInfo?.(`${device} runs Klipper (${usbText(tty.usb)}): 1200-baud touch to enter Katapult`);
    await touch1200(tty.devPath, o.procRoot);
    const k = await followUsbTo(
      tree,
      {
        device,
        usbPath: tty.usb.usbPath,
        expected: "Katapult",
        accept: (u) => isKatapultUsb(target, u),
      },
      o,
    );
    o.onInfo?.(`USB port ${tty.usb.usbPath} came back as Katapult on ${k.name}`);
    return { path: k.devPath, usb: true, entered: true };
  }
  log.debug({ device, usb: usbText(tty.usb) }, "USB serial adapter: using it as a UART");
  return { path: tty.devPath, usb: false, entered: false };
}

export interface KatapultSerialOptions extends SerialLinkOptions {
  device: string;
  target: Target;
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
  let entered = false;
  return new KatapultAdapter({
    entered: () => entered,
    protocol: "katapult-serial",
    ...(o.timeouts ? { timeouts: o.timeouts } : {}),
    ...(o.flashEnd !== undefined ? { flashEnd: o.flashEnd } : {}),
    prime: () => usb,
    // A UART drops what overflows the device's buffer; USB CDC NAKs until there is room.
    rxBufferBytes: () => (usb ? undefined : DEVICE_RX_BUFFER_BYTES),
    ...(o.wrapTransport ? { wrapTransport: o.wrapTransport } : {}),
    async open(ctx: FlashContext): Promise<ByteTransport> {
      const reached = await reachKatapultSerial(o.device, o.target, {
        ...o,
        clock: ctx.clock,
        ...(ctx.dryRun ? { dryRun: true } : {}),
        ...(ctx.signal ? { signal: ctx.signal } : {}),
        onInfo: (m) => ctx.emit({ type: "info", message: m }),
      });
      usb = reached.usb;
      entered = reached.entered;
      const port: SerialTransport = await openSerial({
        path: reached.path,
        baudRate: o.baud ?? o.target.defaultBaud ?? DEFAULT_KATAPULT_BAUD,
        clock: ctx.clock,
        ...(o.procRoot ? { procRoot: o.procRoot } : {}),
      });
      await port.flush();
      return port;
    },
  });
}
