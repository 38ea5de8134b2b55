// The serial link to an AVR board with Arduino auto-reset: DTR and RTS
// drive the RESET pin through a capacitor, so a release–assert–release
// pulse restarts the chip into its bootloader (avrdude 7.3's sequence,
// stk500v1.md §2). Ports that refuse modem-control calls (a pty, some
// adapters) are fine: the pulse is then reported as not sent.

import type { ByteTransport } from "../../transport/byte-transport.js";
import { openSerial } from "../../transport/serial.js";
import { delay } from "../../util/clock.js";

/** Lines released this long first: discharges the reset capacitor. */
export const RESET_RELEASE_MS = 250;
/** The pulse itself; user space cannot time much below 1 ms reliably. */
export const RESET_PULSE_MS = 1;
/** From the end of the pulse until the bootloader runs (reset, start-up delay). */
export const RESET_SETTLE_MS = 100;

export interface AvrLink extends ByteTransport {
  /** Sets DTR/RTS; false when the port refuses. */
  setLines?(lines: { dtr?: boolean; rts?: boolean }): Promise<boolean>;
}

/** Resets the board into its bootloader; true when the port took the DTR/RTS calls. */
export async function pulseReset(link: AvrLink, signal?: AbortSignal): Promise<boolean> {
  if (!link.setLines) return false;
  const clock = link.clock;
  if (!(await link.setLines({ dtr: false, rts: false }))) return false;
  await delay(clock, RESET_RELEASE_MS, signal, "reset pulse");
  await link.setLines({ dtr: true, rts: true });
  await delay(clock, RESET_PULSE_MS, signal, "reset pulse");
  await link.setLines({ dtr: false, rts: false });
  await delay(clock, RESET_SETTLE_MS, signal, "reset pulse");
  link.discardInput();
  return true;
}

/** Opens a tty for an AVR bootloader (8N1). */
export function openAvrSerial(path: string, baud: number, procRoot?: string): Promise<AvrLink> {
  return openSerial({ path, baudRate: baud, ...(procRoot ? { procRoot } : {}) });
}
