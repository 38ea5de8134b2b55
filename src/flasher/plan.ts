// The pure planner: a firmware image and a device geometry in, the exact
// blocks to write out (addresses, padded data). Dry runs, the executor and
// edge-case tests all use the same plan.

import { CanflashError } from "../util/errors.js";
import type { FlashGeometry, FlashPlan, PlanInput, PlannedBlock } from "../flash-api/geometry.js";

declare module "../util/errors.js" {
  interface ErrorCodes {
    BAD_GEOMETRY: true;
    IMAGE_BELOW_APP_START: true;
    IMAGE_DOES_NOT_FIT: true;
    IMAGE_EMPTY: true;
  }
}

export type { FlashGeometry, FlashPlan, PlanInput, PlannedBlock } from "../flash-api/geometry.js";

const hex = (a: number) => `0x${a.toString(16)}`;

export class EmptyPlanError extends CanflashError {
  constructor() {
    super("IMAGE_EMPTY", "the image holds no data: nothing to flash");
  }
}

/** The image starts below the bootloader's application area. */
export class ImageBelowStartError extends CanflashError {
  constructor(
    readonly imageStart: number,
    readonly start: number,
  ) {
    super(
      "IMAGE_BELOW_APP_START",
      `the image starts at ${hex(imageStart)}, below the application area at ${hex(start)} (built for a different bootloader offset?)`,
    );
  }
}

/** The image runs past the end of the writable space. */
export class ImageDoesNotFitError extends CanflashError {
  constructor(
    readonly imageEnd: number,
    readonly end: number,
    readonly start: number,
  ) {
    super(
      "IMAGE_DOES_NOT_FIT",
      `the image ends at ${hex(imageEnd)}, past the end of the application area at ${hex(end)} (${imageEnd - end} bytes too many; ${end - start} bytes available)`,
    );
  }
}

export class BadGeometryError extends CanflashError {
  constructor(message: string) {
    super("BAD_GEOMETRY", message);
  }
}

/** Plans the blocks that write `image` to a device with `geometry`. Pure. */
export function planFlash(image: PlanInput, geometry: FlashGeometry): FlashPlan {
  const bs = geometry.blockSize;
  if (!Number.isInteger(bs) || bs <= 0)
    throw new BadGeometryError(`block size ${bs} is not a positive integer`);
  const segments = image.segments.filter((s) => s.data.length > 0);
  if (segments.length === 0) throw new EmptyPlanError();
  const imageStart = Math.min(...segments.map((s) => s.address));
  const imageEnd = Math.max(...segments.map((s) => s.address + s.data.length));
  if (imageStart < geometry.start) throw new ImageBelowStartError(imageStart, geometry.start);
  const blockOf = (a: number) => geometry.start + Math.floor((a - geometry.start) / bs) * bs;
  const lastBlockEnd = blockOf(imageEnd - 1) + bs;
  if (geometry.end !== undefined && imageEnd > geometry.end)
    throw new ImageDoesNotFitError(imageEnd, geometry.end, geometry.start);
  if (geometry.end !== undefined && lastBlockEnd > geometry.end) {
    throw new ImageDoesNotFitError(lastBlockEnd, geometry.end, geometry.start);
  }

  const blocks = new Map<number, PlannedBlock>();
  const blockAt = (address: number): PlannedBlock => {
    let b = blocks.get(address);
    if (!b) {
      b = { address, data: new Uint8Array(bs).fill(geometry.padByte), payload: 0 };
      blocks.set(address, b);
    }
    return b;
  };
  let imageBytes = 0;
  for (const s of segments) {
    imageBytes += s.data.length;
    let offset = 0;
    while (offset < s.data.length) {
      const addr = s.address + offset;
      const b = blockAt(blockOf(addr));
      const at = addr - b.address;
      const n = Math.min(bs - at, s.data.length - offset);
      b.data.set(s.data.subarray(offset, offset + n), at);
      b.payload += n;
      offset += n;
    }
  }
  if (geometry.contiguousFromStart) {
    for (let a = geometry.start; a < lastBlockEnd; a += bs) blockAt(a);
  }
  const sorted = [...blocks.values()].sort((a, b) => a.address - b.address);
  return {
    geometry,
    blocks: sorted,
    imageBytes,
    start: sorted[0]!.address,
    end: sorted[sorted.length - 1]!.address + bs,
  };
}
