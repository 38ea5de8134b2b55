// Does a row go over this kind of link? Its driver must take the link, and
// the row's own transports must include one the link is: a CAN UUID needs
// "can", a tty "uart" or "usb-cdc", a USB device in its bootloader "usb-dfu"
// or "usb-hid".

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
  usb: ["usb-dfu", "usb-hid"],
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
  const fits = TRANSPORTS[kind].some((t) => target.transports.includes(t));
  if (!driver.links.includes(kind) || !fits)
    throw new LinkNotSupportedError(
      target.id,
      target.protocol,
      kind,
      driver.links.filter((k) => TRANSPORTS[k].some((t) => target.transports.includes(t))),
    );
}
