// Entries a person does (double-tap reset, boot pins): canflash says exactly
// what to press, as a prompt event, then polls with a named deadline until
// the bootloader shows up (the caller's `ready`: a USB id on the port, a
// monitor that answers). The board is never touched by canflash here.

import type { FlashEvent } from "../flash-api/progress.js";
import type { Entry } from "../targets/index.js";
import { delay, type Clock } from "../util/clock.js";
import { CanflashError } from "../util/errors.js";

declare module "../util/errors.js" {
  interface ErrorCodes {
    MANUAL_ENTRY_TIMEOUT: true;
  }
}

/** How long a person gets to press the buttons. */
export const MANUAL_ENTRY_TIMEOUT_MS = 30_000;
/** How often the bootloader is looked for meanwhile. */
export const MANUAL_ENTRY_POLL_MS = 250;

/** What to press, per manual entry, in the words of the prompt. */
export const MANUAL_PROMPTS: Partial<Record<Entry, string>> = {
  "double-reset": "double-tap the board's reset button now (two presses within half a second)",
  "boot-pins": "set the boot pins for the bootloader and reset the board now",
  button: "hold the bootloader button and reset the board now",
  "erase-pin": "close the ERASE jumper, reset the board, then open the jumper again",
  bootsel:
    "hold the BOOTSEL button, plug the board's USB in (or press reset), then let go of BOOTSEL",
  "card-insert": "put the SD card in this computer's card reader",
};

export class ManualEntryTimeoutError extends CanflashError {
  constructor(
    readonly board: string,
    readonly entry: Entry,
    readonly timeoutMs: number,
    /** What was awaited: "the Arduino Zero SAM-BA bootloader". */
    readonly expected: string,
  ) {
    super(
      "MANUAL_ENTRY_TIMEOUT",
      `${expected} did not show up on ${board} within ${Math.round(timeoutMs / 1000)} s of the prompt (${entry})`,
    );
  }
}

export interface ManualEntryOptions {
  board: string;
  entry: Entry;
  expected: string;
  clock: Clock;
  signal?: AbortSignal;
  emit: (e: FlashEvent) => void;
  /** True once the bootloader is there. */
  ready: () => Promise<boolean>;
  timeoutMs?: number;
  pollMs?: number;
}

/** Prompts, then waits for `ready`. Throws ManualEntryTimeoutError at the deadline. */
export async function awaitManualEntry(o: ManualEntryOptions): Promise<void> {
  const timeoutMs = o.timeoutMs ?? MANUAL_ENTRY_TIMEOUT_MS;
  const what = MANUAL_PROMPTS[o.entry] ?? `do "${o.entry}" to start the bootloader now`;
  o.emit({
    type: "info",
    message: `${o.board}: ${what}; canflash waits ${Math.round(timeoutMs / 1000)} s for ${o.expected}`,
    data: { prompt: o.entry, timeoutMs },
  });
  const deadline = o.clock.now() + timeoutMs;
  for (;;) {
    if (await o.ready()) return;
    if (o.clock.now() >= deadline)
      throw new ManualEntryTimeoutError(o.board, o.entry, timeoutMs, o.expected);
    await delay(
      o.clock,
      o.pollMs ?? MANUAL_ENTRY_POLL_MS,
      o.signal,
      "waiting for a manual bootloader entry",
    );
  }
}
