// The image's first words, checked as the bootloader will read them (pure):
// an initial stack pointer in RAM and a Thumb reset handler inside the
// image. The MSC bootloader starts programming at the first sector whose
// word 0 passes its own stack-pointer test, so an image failing it would
// land at the wrong address. RP2040 images start with the 256-byte boot2
// stage; their vector table follows it.

import type { FlashPlan } from "../../flash-api/geometry.js";
import { CopyImageError } from "./errors.js";

/** The MSC bootloader's test of word 0 (mass-storage-and-sdcard.md §1). */
export const mscStackPointer = (w: number): boolean => ((w >>> 16) & 0x2ffe) === 0x2000;
/** Any Cortex-M here: SRAM at 0x2000_0000, LPC176x's at 0x1000_0000. */
const inRam = (w: number): boolean => w >>> 28 === 2 || w >>> 28 === 1;

/** Throws CopyImageError when the plan's first bytes are no vector table for its start. */
export function checkVectorTable(
  plan: FlashPlan,
  o: { vectorOffset?: number; strictMsc?: boolean } = {},
): void {
  const first = plan.blocks[0];
  const off = o.vectorOffset ?? 0;
  if (!first || first.address !== plan.geometry.start) return;
  const bytes = concatStart(plan, off + 8);
  if (bytes.length < off + 8) return;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const sp = dv.getUint32(off, true);
  const reset = dv.getUint32(off + 4, true);
  const spOk = o.strictMsc ? mscStackPointer(sp) : inRam(sp);
  if (!spOk) throw new CopyImageError(plan.start, sp, reset, "stack-pointer");
  const handler = (reset & ~1) >>> 0;
  if ((reset & 1) !== 1 || handler < plan.start || handler >= plan.end)
    throw new CopyImageError(plan.start, sp, reset, "reset-handler");
}

function concatStart(plan: FlashPlan, n: number): Uint8Array {
  const out = new Uint8Array(n);
  let at = 0;
  for (const b of plan.blocks) {
    if (at >= n) break;
    const take = Math.min(n - at, b.data.length);
    out.set(b.data.subarray(0, take), at);
    at += take;
  }
  return out.subarray(0, at);
}
