// The AVR parts Klipper's serial bootloaders serve, as the STK500 sessions
// need them: signature, flash and page sizes, the STK500 device code. The
// facts live once, in the device table's `chips` (targets.json); this is
// the typed view of its AVR entries.

import { chips } from "../../targets/index.js";

export interface AvrPart {
  name: string;
  signature: readonly [number, number, number];
  flashSize: number;
  pageSize: number;
  eepromSize: number;
  /** STK500 SET_DEVICE device code (ignored by the Arduino bootloaders). */
  stk500DevCode: number;
}

let parts: AvrPart[] | undefined;

/** Every AVR part of the device table. */
export function avrParts(): readonly AvrPart[] {
  parts ??= [...chips().values()]
    .filter((c) => c.family === "avr" && c.signature)
    .map((c) => ({
      name: c.name,
      signature: c.signature as unknown as readonly [number, number, number],
      flashSize: c.flashSize,
      pageSize: c.pageSize,
      eepromSize: c.eepromSize ?? 0,
      stk500DevCode: c.stk500DevCode ?? 0,
    }));
  return parts;
}

export function findAvrPart(name: string): AvrPart | undefined {
  return avrParts().find((p) => p.name === name.toLowerCase());
}

/** The part a signature belongs to. */
export function partBySignature(sig: ArrayLike<number>): AvrPart | undefined {
  return avrParts().find((p) => p.signature.every((b, i) => b === sig[i]));
}

export const formatSignature = (sig: ArrayLike<number>) =>
  Array.from(sig, (b) => b.toString(16).padStart(2, "0")).join(" ");
