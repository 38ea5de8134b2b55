// Modem-control lines of a serial link (DTR, RTS) and the line speed, as an
// optional capability of a ByteTransport: serial ports have them, a CAN node
// stream or a mock usually not, and a pty refuses them (setLines resolves
// false). Entry strategies (reset pulse, 1200-baud touch) are built on this.

import { delay, type Clock } from "../util/clock.js";
import type { ByteTransport } from "./byte-transport.js";

export interface ModemLines {
  dtr?: boolean;
  rts?: boolean;
}

/** A link whose modem-control lines can be driven. */
export interface ModemControl {
  /** Sets DTR/RTS; false when the port refuses modem-control calls (a pty). Never throws for that. */
  setLines(lines: ModemLines): Promise<boolean>;
}

/** A link whose line speed can change while open. */
export interface BaudControl {
  setBaud(baud: number): Promise<void>;
}

export function hasModemControl(t: ByteTransport): t is ByteTransport & ModemControl {
  return typeof (t as Partial<ModemControl>).setLines === "function";
}

export function hasBaudControl(t: ByteTransport): t is ByteTransport & BaudControl {
  return typeof (t as Partial<BaudControl>).setBaud === "function";
}

/** One step of a line sequence: set the lines, then hold them `holdMs`. */
export interface LineStep extends ModemLines {
  holdMs: number;
}

/**
 * Drives a sequence of line states (a reset pulse, a bootloader entry
 * dance). Returns false, having changed nothing, when the first step is
 * refused or the link has no modem lines.
 */
export async function runLineSequence(
  link: ByteTransport,
  steps: readonly LineStep[],
  clock: Clock,
  signal?: AbortSignal,
): Promise<boolean> {
  if (!hasModemControl(link)) return false;
  for (const [i, { holdMs, ...lines }] of steps.entries()) {
    const ok = await link.setLines(lines);
    if (!ok && i === 0) return false;
    if (holdMs > 0) await delay(clock, holdMs, signal, "modem line sequence");
  }
  return true;
}
