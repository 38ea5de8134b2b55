// A board whose BOOT0 and RESET pins are wired to a USB-serial adapter's
// modem lines (what stm32flash's -i drives): BOOT0 follows one line, RESET is
// held while the other is in its active state, and releasing RESET restarts
// the chip — into the ROM when BOOT0 is high, else into the application.

import type { ModemLines } from "../../transport/modem.js";
import type { Stm32Rom } from "./rom.js";

export interface BootWiring {
  /** The line BOOT0 follows, and whether BOOT0 is high when the line is asserted. */
  boot0: { line: "rts" | "dtr"; highWhenAsserted: boolean };
  /** The line on RESET, and whether RESET is held when the line is asserted. */
  reset: { line: "rts" | "dtr"; heldWhenAsserted: boolean };
}

/** The wiring of the example in line-sequence.ts: RTS asserted = BOOT0 high, DTR released = RESET held. */
export const RTS_BOOT0_DTR_RESET: BootWiring = {
  boot0: { line: "rts", highWhenAsserted: true },
  reset: { line: "dtr", heldWhenAsserted: false },
};

/** Returns the setLines of the host's port: drives the ROM's pins. Lines start asserted (a fresh port). */
export function wireBootLines(
  rom: Stm32Rom,
  w: BootWiring,
): (lines: ModemLines) => Promise<boolean> {
  const state = { dtr: true, rts: true };
  const held = () => state[w.reset.line] === w.reset.heldWhenAsserted;
  rom.boot0 = state[w.boot0.line] === w.boot0.highWhenAsserted;
  let wasHeld = held();
  return async (lines) => {
    if (lines.dtr !== undefined) state.dtr = lines.dtr;
    if (lines.rts !== undefined) state.rts = lines.rts;
    rom.boot0 = state[w.boot0.line] === w.boot0.highWhenAsserted;
    const now = held();
    if (now) rom.mode = "app"; // held in reset: nothing answers (the application does not speak the ROM's protocol)
    if (wasHeld && !now) rom.reset();
    wasHeld = now;
    return true;
  };
}
