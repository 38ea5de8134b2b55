// Test helpers for the image loaders: fixture access, small writers for HEX
// records and UF2 blocks (independent of the code under test), image
// invariants, and an assertion on typed errors and their messages.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";
import type { FirmwareImage } from "../../../src/flasher/image/index.js";

export const FIXTURES = fileURLToPath(new URL("../../fixtures/images/", import.meta.url));

export function fixture(name: string): Uint8Array {
  return new Uint8Array(readFileSync(FIXTURES + name));
}

export function text(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("latin1");
}

export function bytes(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, "latin1"));
}

/** One Intel HEX record line (no line end) with a correct checksum. */
export function hexRecord(type: number, offset: number, data: ArrayLike<number> = []): string {
  const body = [data.length, (offset >> 8) & 0xff, offset & 0xff, type, ...Array.from(data)];
  const sum = body.reduce((a, b) => a + b, 0);
  const all = [...body, -sum & 0xff];
  return ":" + all.map((b) => b.toString(16).toUpperCase().padStart(2, "0")).join("");
}

export const HEX_EOF = ":00000001FF";

export interface Uf2BlockSpec {
  flags?: number;
  target: number;
  payload: Uint8Array;
  /** Overrides of the header words, e.g. a wrong blockNo. */
  blockNo?: number;
  numBlocks?: number;
  familyId?: number;
  payloadSize?: number;
}

/** UF2 file from block specs; blockNo/numBlocks default to position/count. */
export function makeUf2(blocks: Uf2BlockSpec[], familyId?: number): Uint8Array {
  const out = new Uint8Array(blocks.length * 512);
  const dv = new DataView(out.buffer);
  blocks.forEach((b, i) => {
    const o = i * 512;
    const fam = b.familyId ?? familyId;
    dv.setUint32(o, 0x0a324655, true);
    dv.setUint32(o + 4, 0x9e5d5157, true);
    dv.setUint32(o + 8, (b.flags ?? 0) | (fam === undefined ? 0 : 0x2000), true);
    dv.setUint32(o + 12, b.target, true);
    dv.setUint32(o + 16, b.payloadSize ?? b.payload.length, true);
    dv.setUint32(o + 20, b.blockNo ?? i, true);
    dv.setUint32(o + 24, b.numBlocks ?? blocks.length, true);
    dv.setUint32(o + 28, fam ?? 0, true);
    out.set(b.payload.subarray(0, 476), o + 32);
    dv.setUint32(o + 508, 0x0ab16f30, true);
  });
  return out;
}

/** RP2040-style UF2 of `data` at `base`: 256-byte payloads, family id set. */
export function uf2FromBin(data: Uint8Array, base: number, familyId: number): Uint8Array {
  const blocks: Uf2BlockSpec[] = [];
  for (let o = 0; o < data.length; o += 256) {
    blocks.push({ target: base + o, payload: data.subarray(o, o + 256) });
  }
  return makeUf2(blocks, familyId);
}

/** The model's promises: sorted, non-overlapping, merged, non-empty, 32-bit. */
export function expectWellFormed(image: FirmwareImage): void {
  expect(image.segments.length).toBeGreaterThan(0);
  let prevEnd = -1;
  for (const s of image.segments) {
    expect(s.data.length).toBeGreaterThan(0);
    expect(Number.isInteger(s.address)).toBe(true);
    expect(s.address).toBeGreaterThan(prevEnd); // strictly: adjacent ones are merged
    prevEnd = s.address + s.data.length;
    expect(prevEnd).toBeLessThanOrEqual(2 ** 32);
  }
}

/** Plain [address, bytes] pairs, for readable equality checks. */
export function segmentsOf(image: FirmwareImage): [number, number[]][] {
  return image.segments.map((s) => [s.address, Array.from(s.data)]);
}

/**
 * Runs `fn`, expects it to throw an instance of `cls`, checks every pattern
 * against the message, and returns the error for field checks.
 */
export function expectError<T extends Error>(
  fn: () => unknown,
  cls: abstract new (...args: never[]) => T,
  ...patterns: (RegExp | string)[]
): T {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, "expected an error").toBeInstanceOf(cls);
  const err = caught as T;
  for (const p of patterns) expect(err.message).toMatch(p);
  return err;
}
