// Does a row go over this kind of link? Its driver must take the link, and
// the row's own transports must include one the link is: a CAN UUID needs
// "can", a tty "uart" or "usb-cdc", a drive "usb-msc" or "sdcard", a USB
// device in its bootloader "usb-dfu" or "usb-hid" — or a tty, when the
// row's bootloader is reached from the running application by the
// 1200-baud touch.

import type { BootloaderDriver, LinkKind } from "../flash-api/driver.js";
import {
  LineSequenceNotSupportedError,
  LinkNotSupportedError,
  SerialModeNotSupportedError,
} from "../flash-api/errors.js";
import type { LineSequence } from "../transport/line-sequence.js";
import { formatSerialMode, type SerialMode } from "../transport/serial-mode.js";
import type { Target, Transport } from "../targets/index.js";

const TRANSPORTS: Readonly<Record<LinkKind, readonly Transport[]>> = {
  can: ["can"],
  serial: ["uart", "usb-cdc"],
  drive: ["usb-msc", "sdcard"],
  usb: ["usb-dfu", "usb-hid", "usb-picoboot"],
  openocd: ["swd"],
};

/**
 * Throws LinkNotSupportedError when `target` is not flashed over a `kind`
 * link, SerialModeNotSupportedError for a line mode its bootloader does not speak.
 */
export function checkLink(
  target: Target,
  driver: BootloaderDriver,
  kind: LinkKind,
  mode?: SerialMode,
  lines?: LineSequence,
): void {
  if (lines && !driver.lineSequences)
    throw new LineSequenceNotSupportedError(target.id, target.protocol);
  if (mode) {
    const modes = driver.serialModes ?? ["8n1"];
    if (!modes.includes(formatSerialMode(mode)))
      throw new SerialModeNotSupportedError(target.id, formatSerialMode(mode), modes);
  }
  // A tty in front of a USB bootloader row: the running application, touched at 1200 baud into it.
  const touched =
    kind === "serial" &&
    target.entry.includes("1200-baud-touch") &&
    TRANSPORTS.usb.some((t) => target.transports.includes(t));
  const fits = touched || TRANSPORTS[kind].some((t) => target.transports.includes(t));
  if (!driver.links.includes(kind) || !fits)
    throw new LinkNotSupportedError(
      target.id,
      target.protocol,
      kind,
      driver.links.filter((k) => TRANSPORTS[k].some((t) => target.transports.includes(t))),
    );
}
