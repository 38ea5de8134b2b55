// The "dtr-rts-reset" entry (Arduino auto-reset): DTR and RTS drive the
// RESET pin through a capacitor, so a release–assert–release pulse on an
// open port restarts the chip into its bootloader (avrdude 7.3's sequence,
// stk500v1.md §2). Ports that refuse modem-control calls (a pty, some
// adapters) are fine: the pulse is then reported as not sent.

import type { ByteTransport } from "../transport/byte-transport.js";
import { runLineSequence, type LineStep } from "../transport/modem.js";

/** Lines released this long first: discharges the reset capacitor. */
export const RESET_RELEASE_MS = 250;
/** The pulse itself; user space cannot time much below 1 ms reliably. */
export const RESET_PULSE_MS = 1;
/** From the end of the pulse until the bootloader runs (reset, start-up delay). */
export const RESET_SETTLE_MS = 100;

export const RESET_PULSE: readonly LineStep[] = [
  { dtr: false, rts: false, holdMs: RESET_RELEASE_MS },
  { dtr: true, rts: true, holdMs: RESET_PULSE_MS },
  { dtr: false, rts: false, holdMs: RESET_SETTLE_MS },
];

/** Resets the board into its bootloader; true when the port took the DTR/RTS calls. */
export async function pulseReset(link: ByteTransport, signal?: AbortSignal): Promise<boolean> {
  const pulsed = await runLineSequence(link, RESET_PULSE, link.clock, signal);
  if (pulsed) link.discardInput();
  return pulsed;
}
