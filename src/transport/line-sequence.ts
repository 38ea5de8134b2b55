// DTR/RTS sequences that put a board into its ROM bootloader and back, in
// stm32flash's `-i` notation, for boards whose BOOT0 and RESET are wired to
// a USB-serial adapter's modem lines: `entry[:exit]`, each a list of
// signals — `rts`, `dtr` (assert the line), `-rts`, `-dtr` (release it) —
// joined by `&` (at once) or `,` (then wait 100 ms; an empty item between
// commas waits again). Example: `-dtr&rts,dtr,-rts:-dtr&-rts,dtr` (hold
// BOOT0 via RTS while DTR pulses RESET, then the same with BOOT0 released).
// "Assert" is the line's logical state; most adapters drive an asserted
// line's pin low. Pure.

import { CanflashError } from "../util/errors.js";
import type { LineStep } from "./modem.js";

declare module "../util/errors.js" {
  interface ErrorCodes {
    LINE_SEQUENCE: true;
  }
}

/** The wait a `,` stands for (stm32flash's). */
export const LINE_SEQUENCE_STEP_MS = 100;

export interface LineSequence {
  /** As given, for messages and the retry line. */
  text: string;
  /** Runs before the first sync byte. */
  entry: LineStep[];
  /** Runs after a verified flash (starts the new firmware), or to send an untouched board back. */
  exit: LineStep[];
}

export class LineSequenceError extends CanflashError {
  constructor(
    readonly input: string,
    /** 0-based offset of the bad item. */
    readonly position: number,
    readonly item: string,
    readonly reason: "unknown-signal" | "gpio" | "break" | "empty" | "too-many-colons",
  ) {
    const why = {
      "unknown-signal": `"${item}" is not a signal: expected rts, dtr, -rts or -dtr`,
      gpio: `"${item}" is a GPIO number: canflash drives only the adapter's rts and dtr lines`,
      break: `"${item}": a serial break is not supported, only rts and dtr`,
      empty: "the sequence drives no line",
      "too-many-colons": "more than one ':' (the sequence is entry[:exit])",
    }[reason];
    super("LINE_SEQUENCE", `bad line sequence "${input}" at ${position + 1}: ${why}`);
  }
}

/** Lines as a freshly opened port leaves them on Linux: both asserted. */
const OPEN_STATE = { dtr: true, rts: true };

function parsePart(
  text: string,
  offset: number,
  whole: string,
): { steps: LineStep[]; named: number } {
  const steps: LineStep[] = [];
  const state = { ...OPEN_STATE };
  let pending = false;
  let named = 0;
  let i = 0;
  const flush = (holdMs: number) => {
    if (pending) steps.push({ ...state, holdMs });
    else if (holdMs > 0 && steps.length) steps[steps.length - 1]!.holdMs += holdMs;
    else if (holdMs > 0) steps.push({ ...state, holdMs });
    pending = false;
  };
  while (i <= text.length) {
    let j = i;
    while (j < text.length && text[j] !== "," && text[j] !== "&") j++;
    const item = text.slice(i, j).trim().toLowerCase();
    const sep = text[j];
    if (item) {
      const neg = item.startsWith("-");
      const name = neg ? item.slice(1) : item;
      if (/^\d+$/.test(name)) throw new LineSequenceError(whole, offset + i, item, "gpio");
      if (name === "brk") throw new LineSequenceError(whole, offset + i, item, "break");
      if (name !== "rts" && name !== "dtr")
        throw new LineSequenceError(whole, offset + i, item, "unknown-signal");
      state[name] = !neg;
      pending = true;
      named++;
    }
    if (sep === ",") flush(LINE_SEQUENCE_STEP_MS);
    i = j + 1;
  }
  flush(0);
  return { steps, named };
}

/** Parses `entry[:exit]`. Throws LineSequenceError. */
export function parseLineSequence(text: string): LineSequence {
  const parts = text.split(":");
  if (parts.length > 2)
    throw new LineSequenceError(
      text,
      parts[0]!.length + parts[1]!.length + 1,
      ":",
      "too-many-colons",
    );
  const entry = parsePart(parts[0]!, 0, text);
  const exit = parts.length > 1 ? parsePart(parts[1]!, parts[0]!.length + 1, text) : undefined;
  if (entry.named + (exit?.named ?? 0) === 0) throw new LineSequenceError(text, 0, text, "empty");
  return { text, entry: entry.named ? entry.steps : [], exit: exit?.named ? exit.steps : [] };
}
