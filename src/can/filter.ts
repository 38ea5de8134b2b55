// Receive filters with SocketCAN semantics: a frame passes when
// (frame.id & mask) === (filter.id & mask), optionally restricted to the
// standard or extended format. An empty filter list passes everything.

import type { CanFrame } from "./frame.js";

export interface CanFilter {
  id: number;
  mask: number;
  /** true: only 29-bit frames; false: only 11-bit frames; undefined: both formats. */
  extended?: boolean;
}

/** A filter that passes exactly one standard id. */
export function exactStd(id: number): CanFilter {
  return { id, mask: 0x7ff, extended: false };
}

export function frameMatches(frame: CanFrame, filter: CanFilter): boolean {
  if (filter.extended !== undefined && filter.extended !== frame.extended) return false;
  return (frame.id & filter.mask) >>> 0 === (filter.id & filter.mask) >>> 0;
}

export function matchesAny(frame: CanFrame, filters: readonly CanFilter[]): boolean {
  if (filters.length === 0) return true;
  for (const f of filters) if (frameMatches(frame, f)) return true;
  return false;
}

const CAN_EFF_FLAG = 0x80000000;

/** The Linux `struct can_filter` values (can_id, can_mask) for a filter. */
export function toKernelFilter(filter: CanFilter): { id: number; mask: number } {
  let id = filter.id >>> 0;
  let mask = filter.mask >>> 0;
  if (filter.extended !== undefined) {
    mask = (mask | CAN_EFF_FLAG) >>> 0;
    if (filter.extended) id = (id | CAN_EFF_FLAG) >>> 0;
  }
  return { id, mask };
}
