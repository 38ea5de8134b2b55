// Line settings as stm32flash's -m writes them: data bits, parity, stop
// bits — "8e1" (the STM32 ROM's 8E1), "8n1" (everything else; and ptys,
// which cannot do parity). Pure parse and format.

import { CanflashError } from "../util/errors.js";

declare module "../util/errors.js" {
  interface ErrorCodes {
    SERIAL_MODE: true;
  }
}

export interface SerialMode {
  dataBits: 8;
  parity: "none" | "even" | "odd";
  stopBits: 1 | 2;
}

export const MODE_8N1: SerialMode = { dataBits: 8, parity: "none", stopBits: 1 };
export const MODE_8E1: SerialMode = { dataBits: 8, parity: "even", stopBits: 1 };

export class SerialModeError extends CanflashError {
  constructor(readonly input: string) {
    super(
      "SERIAL_MODE",
      `"${input}" is not a serial line mode: expected 8n1, 8e1, 8o1, 8n2, 8e2 or 8o2`,
    );
  }
}

/** "8e1" → 8 data bits, even parity, 1 stop bit. Throws SerialModeError. */
export function parseSerialMode(text: string): SerialMode {
  const m = /^8([neo])([12])$/i.exec(text.trim());
  if (!m) throw new SerialModeError(text);
  const parity = ({ n: "none", e: "even", o: "odd" } as const)[
    m[1]!.toLowerCase() as "n" | "e" | "o"
  ];
  return { dataBits: 8, parity, stopBits: m[2] === "2" ? 2 : 1 };
}

export function formatSerialMode(m: SerialMode): string {
  return `${m.dataBits}${m.parity[0]}${m.stopBits}`;
}
