// Pure checks of an image against what the chip holds, before anything is
// written through the ROM: where a Cortex-M image is linked (its vector
// table), whether a bootloader sits below an image that starts above the
// flash start, and which flash the option bytes write-protect.

import type { FlashPlan } from "../../flash-api/geometry.js";
import { Stm32LinkedForOffsetError } from "./errors.js";
import { eraseUnits, type Stm32Part } from "./parts.js";

/** Application offsets of the STM32 bootloaders Klipper builds for (Kconfig "Bootloader offset"). */
export const KNOWN_OFFSETS = [
  0x800, 0x1000, 0x2000, 0x4000, 0x5000, 0x7000, 0x8000, 0x8800, 0x9000, 0xc000, 0x10000, 0x20000,
] as const;

/** Words 0..15 are the Cortex-M exceptions every vector table has. */
const EXCEPTION_WORDS = 16;

const u32 = (b: Uint8Array, at: number): number =>
  (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;

export interface Region {
  start: number;
  end: number;
}

/** Does (sp, reset) look like a Cortex-M vector table's first two words for this part? */
export function looksLikeVectors(
  sp: number,
  reset: number,
  part: Stm32Part,
  flash: Region,
): boolean {
  const inRam = sp > part.ram.start && sp <= part.ram.start + 0x80000;
  const inCcm = sp > 0x10000000 && sp <= 0x10010000; // F4 core-coupled memory
  return (inRam || inCcm) && sp % 4 === 0 && (reset & 1) === 1 && isCode(reset, flash);
}

const isCode = (v: number, flash: Region): boolean =>
  (v & 1) === 1 && v - 1 >= flash.start && v - 1 < flash.end;

/**
 * The handler addresses of the vector table at the start of `bytes` (Thumb
 * bit cleared): the exceptions, then IRQ entries while they still look like
 * handlers or are zero, up to the part's table size. Undefined when the
 * start does not look like a vector table.
 */
export function vectorHandlers(
  bytes: Uint8Array,
  part: Stm32Part,
  flash: Region,
): number[] | undefined {
  if (bytes.length < 8) return undefined;
  const sp = u32(bytes, 0);
  const reset = u32(bytes, 4);
  if (!looksLikeVectors(sp, reset, part, flash)) return undefined;
  const out: number[] = [];
  const words = Math.min(part.vectorWords, Math.floor(bytes.length / 4));
  for (let i = 1; i < words; i++) {
    const v = u32(bytes, i * 4);
    if (isCode(v, flash)) out.push(v - 1);
    else if (i >= EXCEPTION_WORDS && v !== 0) break; // past the table: code or data
  }
  return out;
}

/** The plan's bytes from its start, as far as blocks follow each other without a gap. */
export function leadingBytes(plan: FlashPlan, max: number): Uint8Array {
  const parts: Uint8Array[] = [];
  let at = plan.start;
  let n = 0;
  for (const b of plan.blocks) {
    if (b.address !== at || n >= max) break;
    parts.push(b.data);
    at += b.data.length;
    n += b.data.length;
  }
  const out = new Uint8Array(Math.min(n, max));
  let o = 0;
  for (const p of parts) {
    const take = Math.min(p.length, out.length - o);
    out.set(p.subarray(0, take), o);
    o += take;
  }
  return out;
}

/**
 * An image written at the flash start must be linked there: every vector
 * lies inside it. A vector past its end means the image was linked for a
 * bootloader offset (named when one of the usual ones fits all vectors:
 * the largest at or below the lowest handler). Throws
 * Stm32LinkedForOffsetError. An image whose vectors all fall inside it
 * passes, even if it was linked higher: from a .bin alone that cannot be
 * told.
 */
export function checkLinkedAtStart(plan: FlashPlan, part: Stm32Part, flash: Region): void {
  if (plan.start !== flash.start) return;
  const handlers = vectorHandlers(leadingBytes(plan, part.vectorWords * 4), part, flash);
  if (!handlers || handlers.length === 0) return;
  const imageEnd = plan.end;
  const outside = handlers.find((h) => h >= imageEnd);
  if (outside === undefined) return;
  const lo = Math.min(...handlers);
  const hi = Math.max(...handlers);
  const size = imageEnd - plan.start;
  // Code follows the vector table: the largest usual offset at or below the lowest handler that holds them all.
  const offset = [...KNOWN_OFFSETS]
    .reverse()
    .find((o) => lo >= flash.start + o && hi < flash.start + o + size);
  throw new Stm32LinkedForOffsetError({
    placedAt: plan.start,
    imageEnd,
    vector: outside,
    offset,
  });
}

export type BelowFinding = "bootloader" | "erased" | "an application" | "no vector table";

/**
 * What the chip's first 8 flash bytes say about an image that starts at
 * `imageStart` above them: a bootloader (its reset handler below the
 * image), erased flash, an application (its reset handler inside or above
 * the image: the old vector table would start overwritten code), or no
 * vector table at all.
 */
export function findBelow(
  first8: Uint8Array,
  imageStart: number,
  part: Stm32Part,
  flash: Region,
): BelowFinding {
  if (first8.every((b) => b === 0xff)) return "erased";
  const sp = u32(first8, 0);
  const reset = u32(first8, 4);
  if (!looksLikeVectors(sp, reset, part, flash)) return "no vector table";
  return reset - 1 < imageStart ? "bootloader" : "an application";
}

/** 4 KiB per write-protection bit on F0/F1. */
const F1_WRP_UNIT = 4096;

/**
 * The write-protected [start, end) ranges the option bytes (16 bytes from
 * the part's option byte address) declare, or undefined when they cannot be
 * decoded (F4 PCROP mode).
 */
export function protectedRanges(
  option: Uint8Array,
  part: Stm32Part,
  flash: Region,
): Array<[number, number]> | undefined {
  const out: Array<[number, number]> = [];
  if (part.wrp === "f1") {
    const bits = option[8]! | (option[10]! << 8) | (option[12]! << 16) | (option[14]! << 24);
    for (let i = 0; i < 32; i++) {
      if ((bits >>> i) & 1) continue;
      const start = flash.start + i * F1_WRP_UNIT;
      if (start >= flash.end) break;
      const end = i === 31 ? flash.end : Math.min(flash.end, start + F1_WRP_UNIT);
      out.push([start, end]);
    }
    return merge(out);
  }
  const nwrp = option[8]! | (option[9]! << 8);
  if (nwrp & 0x8000) return undefined;
  return merge(
    eraseUnits(part, flash.end - flash.start)
      .filter((u) => u.index < 12 && ((nwrp >>> u.index) & 1) === 0)
      .map((u): [number, number] => [u.start, u.start + u.size]),
  );
}

function merge(ranges: Array<[number, number]>): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const r of ranges) {
    const last = out.at(-1);
    if (last && last[1] === r[0]) last[1] = r[1];
    else out.push([r[0], r[1]]);
  }
  return out;
}

/** The parts of `ranges` that overlap any of `protectedR`. */
export function overlaps(
  ranges: ReadonlyArray<readonly [number, number]>,
  protectedR: ReadonlyArray<readonly [number, number]>,
): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const [ps, pe] of protectedR)
    for (const [s, e] of ranges) {
      const a = Math.max(s, ps);
      const b = Math.min(e, pe);
      if (a < b) out.push([a, b]);
    }
  return merge(out.sort((x, y) => x[0] - y[0]));
}
