// The reset-and-listen rounds both Arduino bootloader protocols start with:
// reset the board (the row's dtr-rts-reset entry; otherwise ask a person to
// press reset), try to sync inside the listen window, and start a new round
// when it passes. The protocol's own sync (STK500v1 GET_SYNC, STK500v2
// SIGN_ON) is the `attempt`.

import { pulseReset } from "../../entry/reset-pulse.js";
import type { FlashContext } from "../../flash-api/adapter.js";
import type { ByteTransport } from "../../transport/byte-transport.js";
import { AvrNoAnswerError } from "./errors.js";

export interface RoundOptions {
  port: string;
  baud: number;
  bootloader: string;
  target: string;
  listenWindowMs: number;
  autoReset: boolean;
  rounds: number;
}

export interface Attempt<T> {
  /** The sync answered: its result. */
  value: T | undefined;
  attempts: number;
  /** What came back instead, if anything. */
  got?: string | undefined;
}

/** Runs reset + sync rounds until `attempt` succeeds. Throws AvrNoAnswerError after the last round. */
export async function syncRounds<T>(
  link: ByteTransport,
  o: RoundOptions,
  ctx: FlashContext,
  attempt: (listenWindowMs: number) => Promise<Attempt<T>>,
): Promise<T> {
  let attempts = 0;
  let got: string | undefined;
  let resetPulsed = false;
  for (let round = 1; round <= o.rounds; round++) {
    const pulsed = o.autoReset ? await pulseReset(link, ctx.signal) : false;
    resetPulsed ||= pulsed;
    ctx.emit({
      type: "info",
      message: !o.autoReset
        ? `press the reset button of the board on ${o.port} now (the ${o.bootloader} bootloader listens ${(o.listenWindowMs / 1000).toFixed(1)} s)`
        : pulsed
          ? `reset ${o.port} into the ${o.bootloader} bootloader (DTR/RTS pulse)`
          : `${o.port} takes no DTR/RTS: syncing without a reset pulse`,
      data: { round, ...(o.autoReset ? {} : { prompt: "press-reset" }) },
    });
    const r = await attempt(o.listenWindowMs);
    attempts += r.attempts;
    got = r.got ?? got;
    if (r.value !== undefined) return r.value;
  }
  throw new AvrNoAnswerError({
    port: o.port,
    baud: o.baud,
    bootloader: o.bootloader,
    target: o.target,
    listenWindowMs: o.listenWindowMs,
    attempts,
    resetPulsed,
    autoReset: o.autoReset,
    got,
  });
}
