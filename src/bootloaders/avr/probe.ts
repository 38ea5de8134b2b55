// When the bootloader a target names does not answer, the usual cause is the
// wrong target (a Mega 2560 flashed as a 1280, an old 57600-baud Melzi): try
// the other AVR bootloaders of the table, each once inside its listen window,
// and name what answers. Only sign-on and the signature are read; nothing is
// written.

import type { FlashAdapter, FlashContext } from "../../flash-api/adapter.js";
import { targets, type Target } from "../../targets/index.js";
import { AVR_PROTOCOL_NAMES, DEFAULT_AVR_BAUD, isAvrRow, type AvrProtocol } from "./rows.js";
import { AvrSignatureMismatchError } from "./errors.js";
import { findAvrPart, partBySignature } from "./parts.js";

/** How one bootloader listens: protocol and line speed. */
export interface AvrLinkKind {
  protocol: AvrProtocol;
  baud: number;
}

export interface AvrProbeHit extends AvrLinkKind {
  signature: number[];
  part: string | undefined;
  /** Table rows with this protocol, speed and chip. */
  targets: string[];
}

export interface AvrProbeResult {
  hit: AvrProbeHit | undefined;
  /** What was tried without an answer, in order. */
  tried: AvrLinkKind[];
}

export const describeLink = (k: AvrLinkKind): string =>
  `${AVR_PROTOCOL_NAMES[k.protocol]} at ${k.baud} baud`;

/** The distinct (protocol, baud) pairs of the table's AVR rows, in table order, except `skip`. */
export function avrLinkKinds(skip?: AvrLinkKind): { kind: AvrLinkKind; row: Target }[] {
  const seen = new Set<string>();
  const out: { kind: AvrLinkKind; row: Target }[] = [];
  if (skip) seen.add(`${skip.protocol}@${skip.baud}`);
  for (const t of targets()) {
    if (!isAvrRow(t)) continue;
    const kind = { protocol: t.protocol, baud: t.defaultBaud ?? DEFAULT_AVR_BAUD };
    const key = `${kind.protocol}@${kind.baud}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ kind, row: t });
  }
  return out;
}

/**
 * Tries each other AVR bootloader kind with a fresh adapter (one reset round
 * each) until one answers with a signature.
 */
export async function probeAvrBootloaders(
  ctx: FlashContext,
  skip: AvrLinkKind,
  adapterFor: (row: Target, kind: AvrLinkKind) => FlashAdapter,
): Promise<AvrProbeResult> {
  const tried: AvrLinkKind[] = [];
  for (const { kind, row } of avrLinkKinds(skip)) {
    ctx.signal?.throwIfAborted();
    ctx.emit({ type: "info", message: `probing for a bootloader speaking ${describeLink(kind)}` });
    const adapter = adapterFor(row, kind);
    let signature: number[] | undefined;
    try {
      await adapter.enter?.(ctx);
      await adapter.connect(ctx);
      signature = [...(row.signature ?? findAvrPart(row.chip)!.signature)];
    } catch (e) {
      if (e instanceof AvrSignatureMismatchError) signature = [...e.found];
      else if (ctx.signal?.aborted) throw e;
      // No answer or a garbled one: not this kind.
    } finally {
      await adapter.close();
    }
    if (!signature) {
      tried.push(kind);
      continue;
    }
    const part = partBySignature(signature)?.name;
    const fits = targets()
      .filter(
        (t) =>
          isAvrRow(t) &&
          t.protocol === kind.protocol &&
          (t.defaultBaud ?? DEFAULT_AVR_BAUD) === kind.baud &&
          t.chip === part,
      )
      .map((t) => t.id);
    return { hit: { ...kind, signature, part, targets: fits }, tried };
  }
  return { hit: undefined, tried };
}
