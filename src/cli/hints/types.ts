// The shape of a hint: for one error code, the exit code, the likely causes
// and the next commands — worded from the error's fields, never parsed out
// of its message.

import type { CanflashError, ErrorCode } from "../../util/errors.js";
import type { ExitCodeValue } from "../exit-codes.js";

export interface Explained {
  exitCode: ExitCodeValue;
  message: string;
  causes: string[];
  next: string[];
}

export interface HintContext {
  /** The CAN interface in use (for commands in the hint). */
  iface: string;
  /** The command line that retries, e.g. "canflash -i can0 -u aabbccddeeff klipper.bin". */
  retry?: string;
}

/** The error as a hint sees it: its code and its fields. */
export type ErrorFacts = CanflashError & Record<string, unknown>;

export interface Hint {
  exitCode: ExitCodeValue;
  /** Replaces the error's own message (rare: interrupted). */
  message?: string;
  causes?: string[];
  next?: string[];
}

export type HintFn = (e: ErrorFacts, ctx: HintContext) => Hint;

/** A domain's hints; the CLI's table must cover every ErrorCode. */
export type HintTable = Partial<Record<ErrorCode, HintFn>>;

/** "then retry: …", when the command knows how to retry. */
export const retryLine = (ctx: HintContext): string[] =>
  ctx.retry ? [`then retry: ${ctx.retry}`] : [];

export const str = (e: ErrorFacts, k: string): string | undefined =>
  typeof e[k] === "string" ? e[k] : undefined;
export const num = (e: ErrorFacts, k: string): number | undefined =>
  typeof e[k] === "number" ? e[k] : undefined;
export const list = <T = string>(e: ErrorFacts, k: string): T[] =>
  Array.isArray(e[k]) ? (e[k] as T[]) : [];
