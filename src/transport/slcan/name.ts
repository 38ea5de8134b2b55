// slcan interface names: "slcan:<port>[@<tty baud>][,bitrate=<bit/s>][,btr=<xxyy>]".
//   slcan:/dev/ttyACM0                 1 Mbit/s (Klipper's usual), 115200 baud
//   slcan:/dev/ttyUSB0@921600          a UART adapter at 921600 baud
//   slcan:COM4,bitrate=500000          500 kbit/s (S6)
//   slcan:/dev/ttyACM0,btr=001C        raw SJA1000 BTR0/BTR1 ("s001C")
// The "@<baud>" tail follows python-can's slcan channel names. USB CDC
// adapters (CANable, CANtact) ignore the tty baud.

import { bitrateOfBtr, SLCAN_BITRATES } from "./codec.js";
import { SlcanInterfaceError } from "./errors.js";

export const SLCAN_PREFIX = "slcan:";
export const SLCAN_DEFAULT_TTY_BAUD = 115_200;
export const SLCAN_DEFAULT_BITRATE = 1_000_000;

export interface SlcanName {
  /** The serial port: /dev/ttyACM0, COM4. */
  path: string;
  ttyBaud: number;
  /** The bus bitrate in bit/s (what `info.bitrate` reports). */
  bitrate: number;
  /** The setup command that sets it: "S8" or "s001C". */
  setup: string;
}

export function isSlcanInterface(iface: string): boolean {
  return iface.startsWith(SLCAN_PREFIX);
}

/** Parses an slcan interface name; throws SlcanInterfaceError naming what is wrong. */
export function parseSlcanInterface(iface: string): SlcanName {
  if (!isSlcanInterface(iface))
    throw new SlcanInterfaceError(iface, 'does not start with "slcan:"');
  const [head = "", ...opts] = iface.slice(SLCAN_PREFIX.length).split(",");
  const at = head.lastIndexOf("@");
  const path = at >= 0 ? head.slice(0, at) : head;
  if (!path) throw new SlcanInterfaceError(iface, "names no serial port (slcan:/dev/ttyACM0)");
  let ttyBaud = SLCAN_DEFAULT_TTY_BAUD;
  if (at >= 0) {
    const text = head.slice(at + 1);
    ttyBaud = Number(text);
    if (!/^\d+$/.test(text) || ttyBaud <= 0)
      throw new SlcanInterfaceError(iface, `"${text}" is no tty baud rate (e.g. @115200)`);
  }
  let bitrate: number | undefined;
  let btr: string | undefined;
  for (const opt of opts) {
    const m = /^(bitrate|btr)=(.*)$/.exec(opt);
    if (!m)
      throw new SlcanInterfaceError(
        iface,
        `unknown option "${opt}" (bitrate=<bit/s> or btr=<xxyy>)`,
      );
    if (m[1] === "bitrate") {
      bitrate = Number(m[2]);
      if (!/^\d+$/.test(m[2]!) || !SLCAN_BITRATES.has(bitrate)) {
        const rates = [...SLCAN_BITRATES.keys()].join(", ");
        throw new SlcanInterfaceError(
          iface,
          `bitrate ${m[2]} has no slcan S command (${rates}); other rates need btr=<BTR0BTR1>`,
        );
      }
    } else {
      btr = m[2]!.toUpperCase();
      if (!/^[0-9A-F]{4}$/.test(btr))
        throw new SlcanInterfaceError(iface, `btr=${m[2]} is not four hex digits (BTR0 BTR1)`);
    }
  }
  if (bitrate !== undefined && btr !== undefined)
    throw new SlcanInterfaceError(iface, "give bitrate= or btr=, not both");
  if (btr !== undefined) {
    const rate = bitrateOfBtr(parseInt(btr.slice(0, 2), 16), parseInt(btr.slice(2), 16));
    return { path, ttyBaud, bitrate: rate, setup: `s${btr}` };
  }
  const rate = bitrate ?? SLCAN_DEFAULT_BITRATE;
  return { path, ttyBaud, bitrate: rate, setup: SLCAN_BITRATES.get(rate)! };
}
