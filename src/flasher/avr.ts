// The AVR serial bootloaders as flasher adapters, from a target row: the
// part (signature, pages), the bootloader's start, baud and listen window.

import type { AvrLink } from "../bootloaders/avr/link.js";
import { openAvrSerial } from "../bootloaders/avr/link.js";
import { findAvrPart } from "../bootloaders/avr/parts.js";
import { Stk500v1Adapter } from "../bootloaders/stk500v1/adapter.js";
import { Stk500v2Adapter } from "../bootloaders/stk500v2/adapter.js";
import type { FlashAdapter } from "../flash-api/adapter.js";
import type { ByteTransport } from "../transport/byte-transport.js";
import type { Target } from "./targets.js";

/** A listen window when the table has none: the shortest seen (Mega 2560). */
export const DEFAULT_LISTEN_WINDOW_MS = 830;

export interface AvrAdapterOptions {
  device: string;
  baud?: number;
  procRoot?: string;
  /** Wraps the opened link (traces). */
  wrapTransport?: (t: ByteTransport) => ByteTransport;
  /** Opens the link instead of a tty (tests). */
  open?: () => Promise<AvrLink>;
}

export const isAvrTarget = (t: Target | undefined): t is Target =>
  !!t &&
  (t.protocol === "stk500v1" || t.protocol === "stk500v2") &&
  findAvrPart(t.chip) !== undefined;

export function avrAdapterFor(t: Target, o: AvrAdapterOptions): FlashAdapter {
  const part = findAvrPart(t.chip);
  if (!part || !isAvrTarget(t))
    throw new RangeError(`target ${t.id} is not an AVR serial bootloader`);
  const baud = o.baud ?? t.defaultBaud ?? 115200;
  const open = async (): Promise<AvrLink> => {
    const link = o.open ? await o.open() : await openAvrSerial(o.device, baud, o.procRoot);
    if (!o.wrapTransport) return link;
    // Keep the reset lines reachable through a wrapping transport.
    const wrapped = o.wrapTransport(link) as AvrLink;
    if (link.setLines && !wrapped.setLines) wrapped.setLines = (l) => link.setLines!(l);
    return wrapped;
  };
  const common = {
    port: o.device,
    baud,
    part,
    bootloader: t.bootloader.split(" (")[0]!,
    bootStart: t.appEnd ?? part.flashSize,
    listenWindowMs: t.listenWindowMs ?? DEFAULT_LISTEN_WINDOW_MS,
    open,
  };
  return t.protocol === "stk500v2" ? new Stk500v2Adapter(common) : new Stk500v1Adapter(common);
}
