// SegmentBuilder: the loaders' shared back end. Format parsers hand it pieces
// of data in file order; it joins pieces that continue each other, enforces
// the span and segment-count limits while reading (so a hostile file cannot
// make it allocate without bound), then sorts, detects overlaps and merges
// adjacent runs into the image's segments.

import { ImageTooLargeError, type ImageFormat } from "./errors.js";
import { MAX_IMAGE_SEGMENTS, MAX_IMAGE_SPAN, type ImageSegment } from "./model.js";

/**
 * Most pieces that do not continue the previous one (bounds the bookkeeping of
 * out-of-order input; a 16 MiB image written backwards in 16-byte records fits).
 */
const MAX_RUNS = 1 << 20;

interface Run {
  address: number;
  /** Where the run's bytes start in the builder's buffer. */
  at: number;
  length: number;
}

/**
 * Called with the lowest address written twice. Must throw the format's
 * OverlappingSegmentsError, after finding which parts of the file wrote it.
 */
export type OverlapHandler = (address: number) => never;

export class SegmentBuilder {
  private buf: Uint8Array;
  private used = 0;
  private readonly runs: Run[] = [];
  private lo = Infinity;
  private hi = -Infinity;

  constructor(
    private readonly source: string,
    private readonly format: ImageFormat,
    /** Expected number of data bytes; the buffer grows past it as needed. */
    sizeHint: number,
  ) {
    this.buf = new Uint8Array(Math.max(64, Math.min(sizeHint, MAX_IMAGE_SPAN)));
  }

  /** Bytes added so far. */
  get size(): number {
    return this.used;
  }

  /**
   * Records `data` at `address` (the caller has checked the 32-bit bound).
   * Empty pieces are ignored. Throws ImageTooLargeError when the data so far
   * spans more than MAX_IMAGE_SPAN or adds up to more than that.
   */
  add(address: number, data: Uint8Array): void {
    if (data.length === 0) return;
    const end = address + data.length;
    const lo = Math.min(this.lo, address);
    const hi = Math.max(this.hi, end);
    if (hi - lo > MAX_IMAGE_SPAN) {
      throw new ImageTooLargeError(this.source, this.format, "span", hi - lo, MAX_IMAGE_SPAN);
    }
    if (this.used + data.length > MAX_IMAGE_SPAN) {
      // Only overlapping data can add up to more than the span allows.
      throw new ImageTooLargeError(
        this.source,
        this.format,
        "span",
        this.used + data.length,
        MAX_IMAGE_SPAN,
      );
    }
    this.lo = lo;
    this.hi = hi;
    this.reserve(data.length);
    this.buf.set(data, this.used);
    const last = this.runs[this.runs.length - 1];
    // The buffer only grows at its end, so the last run always ends at `used`.
    if (last && last.address + last.length === address) {
      last.length += data.length;
    } else {
      if (this.runs.length >= MAX_RUNS) {
        throw new ImageTooLargeError(this.source, this.format, "segments", MAX_RUNS + 1, MAX_RUNS);
      }
      this.runs.push({ address, at: this.used, length: data.length });
    }
    this.used += data.length;
  }

  private reserve(extra: number): void {
    const need = this.used + extra;
    if (need <= this.buf.length) return;
    let cap = this.buf.length;
    while (cap < need) cap *= 2;
    const grown = new Uint8Array(Math.min(cap, MAX_IMAGE_SPAN));
    grown.set(this.buf.subarray(0, this.used));
    this.buf = grown;
  }

  /**
   * Sorted, merged segments (copies, not views of the input). Calls `onOverlap`
   * for the lowest address written twice; throws ImageTooLargeError when more
   * than MAX_IMAGE_SEGMENTS segments remain after merging.
   */
  finish(onOverlap: OverlapHandler): ImageSegment[] {
    const runs = [...this.runs].sort((a, b) => a.address - b.address);
    const groups: Run[][] = [];
    let group: Run[] = [];
    let groupEnd = -1;
    for (const run of runs) {
      const prev = group[group.length - 1];
      if (prev && run.address < groupEnd) onOverlap(run.address);
      if (prev && run.address === groupEnd) {
        group.push(run);
      } else {
        if (group.length) groups.push(group);
        group = [run];
      }
      groupEnd = run.address + run.length;
    }
    if (group.length) groups.push(group);
    if (groups.length > MAX_IMAGE_SEGMENTS) {
      throw new ImageTooLargeError(
        this.source,
        this.format,
        "segments",
        groups.length,
        MAX_IMAGE_SEGMENTS,
      );
    }
    return groups.map((g) => {
      const length = g.reduce((n, r) => n + r.length, 0);
      const data = new Uint8Array(length);
      let o = 0;
      for (const r of g) {
        data.set(this.buf.subarray(r.at, r.at + r.length), o);
        o += r.length;
      }
      return { address: g[0]!.address, data };
    });
  }
}
