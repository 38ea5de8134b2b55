// Which rows of the device table the Arduino bootloader drivers flash: an
// STK500 protocol on one of the table's AVR parts (the Arduino M0 speaks
// STK500v2 framing on a SAMD21 — not an AVR, not these drivers).

import type { Target } from "../../targets/index.js";
import { findAvrPart } from "./parts.js";

export const AVR_PROTOCOLS = ["stk500v1", "stk500v2"] as const;
export type AvrProtocol = (typeof AVR_PROTOCOLS)[number];

/** How the protocols are named in messages. */
export const AVR_PROTOCOL_NAMES: Readonly<Record<AvrProtocol, string>> = {
  stk500v1: "STK500v1",
  stk500v2: "STK500v2",
};

/** The Arduino bootloaders' usual speed when a row has none. */
export const DEFAULT_AVR_BAUD = 115200;
/** A listen window when the table has none: the shortest seen (Mega 2560). */
export const DEFAULT_LISTEN_WINDOW_MS = 830;

export function isAvrRow(t: Target): t is Target & { protocol: AvrProtocol } {
  return (AVR_PROTOCOLS as readonly string[]).includes(t.protocol) && !!findAvrPart(t.chip);
}
