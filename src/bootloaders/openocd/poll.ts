// Reading a register through OpenOCD again until bits are set, against a
// deadline: the chip erase's done bit (DSU STATUSA.DONE on a SAM D/C),
// which openocd 0.12's chip-erase command does not wait for. Between two
// reads ERASE_DONE_POLL_MS on the caller's clock; never a fixed sleep.

import { delay, type Clock } from "../../util/clock.js";
import { OperationTimeoutError } from "../../util/errors.js";
import type { EraseDone } from "./chips.js";
import { OpenOcdCommandError } from "./errors.js";

/** Between two reads of the chip-erase-done register (each read is a round trip over SWD as well). */
export const ERASE_DONE_POLL_MS = 10;

/**
 * Calls `read` (one `read_memory`, its reply "0x1" or "1") until
 * `value & until.mask` is set; resolves how many reads it took. Past
 * `timeoutMs` an OperationTimeoutError naming the register; a reply that is
 * no number an OpenOcdCommandError of `command`.
 */
export async function pollUntilSet(
  read: (attempt: number) => Promise<string>,
  o: {
    until: EraseDone;
    command: string;
    timeoutMs: number;
    clock: Clock;
    signal?: AbortSignal | undefined;
  },
): Promise<number> {
  const deadline = o.clock.now() + o.timeoutMs;
  for (let reads = 1; ; reads++) {
    const reply = (await read(reads)).trim();
    const value = Number(reply.split(/\s+/)[0]);
    if (!Number.isInteger(value))
      throw new OpenOcdCommandError(o.command, `not a number: ${reply}`, 0);
    if ((value & o.until.mask) !== 0) return reads;
    if (o.clock.now() >= deadline)
      throw new OperationTimeoutError(`the chip erase (${o.until.name})`, o.timeoutMs);
    await delay(o.clock, ERASE_DONE_POLL_MS, o.signal, `waiting for ${o.until.name}`);
  }
}
