// Getting to the STM32 ROM bootloader: BOOT0 high plus a reset, which on
// the boards of the device table only a person can do. canflash first tries
// the sync byte briefly (the ROM may be waiting already, or synced by an
// earlier session: then 0x7F is read as a command byte and a second one
// draws a NACK — stm32flash's rule), then says exactly what to do and keeps
// sending the sync byte until the ROM answers or the deadline passes.

import { ENTRIES } from "../../entry/index.js";
import type { FlashContext } from "../../flash-api/adapter.js";
import { DryRunStopError } from "../../flash-api/errors.js";
import { describeAnswer } from "./codec.js";
import { Stm32NoAnswerError } from "./errors.js";
import type { Stm32UsartSession, SyncAnswer } from "./session.js";

/** Sync attempts before asking a person: covers a waiting ROM and an already synced one (two bytes). */
export const QUICK_SYNC_MS = 1500;
/** How long a person gets to set BOOT0 and press reset. */
export const ENTRY_WAIT_MS = 60_000;

export interface EntryOptions {
  port: string;
  baud: number;
  mode: string;
  /** Ask a person and wait (false: a probe — only the quick attempts). */
  prompt: boolean;
  quickSyncMs?: number;
  entryWaitMs?: number;
  /** What a dry run says a real run would do (default: ask for BOOT0 and reset). */
  wouldDo?: string;
}

/** Syncs with the ROM; resolves with how it answered. Throws Stm32NoAnswerError, or DryRunStopError in a dry run. */
export async function reachRom(
  s: Stm32UsartSession,
  ctx: FlashContext,
  o: EntryOptions,
): Promise<"ack" | "nack"> {
  const clock = s.link.clock;
  const t0 = clock.now();
  const quickEnd = t0 + (o.quickSyncMs ?? QUICK_SYNC_MS);
  const waitMs = o.entryWaitMs ?? ENTRY_WAIT_MS;
  let attempts = 0;
  let got: string | undefined;
  let prompted = false;
  const attempt = async (): Promise<"ack" | "nack" | undefined> => {
    attempts++;
    const a: SyncAnswer = await s.syncOnce();
    if (a.kind === "ack" || a.kind === "nack") return a.kind;
    if (a.kind === "other") got = describeAnswer(a.byte);
    return undefined;
  };
  while (clock.now() < quickEnd) {
    const r = await attempt();
    if (r) return r;
  }
  if (o.prompt && ctx.dryRun)
    throw new DryRunStopError(o.port, o.wouldDo ?? ENTRIES["boot-pins"].wouldDo, "no-answer");
  if (o.prompt) {
    prompted = true;
    ctx.emit({
      type: "info",
      message:
        `no STM32 ROM bootloader answers on ${o.port} yet: set BOOT0 high (BOOT1 low) and press reset on the board; ` +
        `waiting up to ${Math.round(waitMs / 1000)} s (${o.baud} baud, ${o.mode})`,
      data: { prompt: "boot-pins", timeoutMs: waitMs },
    });
    const end = clock.now() + waitMs;
    while (clock.now() < end) {
      const r = await attempt();
      if (r) return r;
    }
  }
  throw new Stm32NoAnswerError({
    port: o.port,
    baud: o.baud,
    mode: o.mode,
    waitedMs: clock.now() - t0,
    attempts,
    prompted,
    got,
  });
}
