// Robustness: for each reader, 10,000 reproducibly corrupted variants of the
// golden files (bit flips, byte stores, truncations, splices, random bytes and,
// per format, structure-aware edits that keep checksums valid so the deeper
// checks run). Every call must either return a well-formed image or throw an
// ImageError subclass, and finish quickly.
import { describe, expect, it } from "vitest";
import {
  ImageError,
  parseElf,
  parseImage,
  parseIntelHex,
  parseUf2,
  type FirmwareImage,
} from "../../../src/flasher/image/index.js";
import { seededRandom, type Random } from "../../../src/util/random.js";
import { bytes, fixture, text } from "./helpers.js";

const RUNS = 10_000;
const GOLDEN = {
  hex: ["avr-blink.hex", "multi.hex"].map(fixture),
  elf: ["avr-blink.elf", "multi32.elf", "multi64.elf"].map(fixture),
  uf2: [fixture("multi.uf2")],
  bin: ["avr-blink.bin", "multi-flash.bin"].map(fixture),
};
const ALL = [...GOLDEN.hex, ...GOLDEN.elf, ...GOLDEN.uf2, ...GOLDEN.bin];
const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 512, 476];

type Mutator = (input: Uint8Array, rnd: Random) => Uint8Array;

const int = (rnd: Random, n: number) => Math.floor(rnd() * n);
const pick = <T>(rnd: Random, xs: readonly T[]): T => xs[int(rnd, xs.length)]!;

const generic: Mutator[] = [
  function bitFlips(input, rnd) {
    const out = input.slice();
    for (let k = 1 + int(rnd, 8); k > 0 && out.length; k--)
      out[int(rnd, out.length)]! ^= 1 << int(rnd, 8);
    return out;
  },
  function byteStores(input, rnd) {
    const out = input.slice();
    for (let k = 1 + int(rnd, 4); k > 0 && out.length; k--) {
      out[int(rnd, out.length)] = rnd() < 0.5 ? int(rnd, 256) : pick(rnd, INTERESTING) & 0xff;
    }
    return out;
  },
  function truncate(input, rnd) {
    return input.slice(0, int(rnd, input.length + 1));
  },
  function splice(input, rnd) {
    const other = pick(rnd, ALL);
    const from = int(rnd, other.length);
    const piece = other.subarray(from, from + int(rnd, 600));
    const at = int(rnd, input.length + 1);
    const cut = rnd() < 0.5 ? at : Math.min(input.length, at + int(rnd, 600));
    return Uint8Array.from([...input.subarray(0, at), ...piece, ...input.subarray(cut)]);
  },
  function duplicateRange(input, rnd) {
    const from = int(rnd, input.length);
    const piece = input.subarray(from, from + 1 + int(rnd, 1024));
    const at = int(rnd, input.length + 1);
    return Uint8Array.from([...input.subarray(0, at), ...piece, ...input.subarray(at)]);
  },
  function randomBytes(input, rnd) {
    const n = int(rnd, 2048);
    const keep = rnd() < 0.5 ? input.subarray(0, int(rnd, Math.min(64, input.length + 1))) : [];
    const out = Uint8Array.from({ length: n }, () => int(rnd, 256));
    return Uint8Array.from([...keep, ...out]);
  },
];

/** Rewrites one record's fields and repairs its checksum, so record logic is exercised. */
const hexRecordEdit: Mutator = (input, rnd) => {
  const lines = text(input).split(/\r?\n/);
  for (let k = 1 + int(rnd, 3); k > 0; k--) {
    const i = int(rnd, lines.length);
    const line = lines[i]!;
    if (!/^:([0-9A-Fa-f]{2})+$/.test(line)) continue;
    const rec = Array.from({ length: (line.length - 1) / 2 }, (_, j) =>
      parseInt(line.substr(1 + 2 * j, 2), 16),
    );
    const choice = int(rnd, 5);
    if (choice === 0)
      rec[3] = int(rnd, 8); // record type
    else if (choice === 1)
      rec[1 + int(rnd, 2)] = int(rnd, 256); // address
    else if (choice === 2 && rec.length > 5)
      rec[4 + int(rnd, rec.length - 5)] = pick(rnd, INTERESTING) & 0xff;
    else if (choice === 3)
      lines.splice(int(rnd, lines.length), 0, line); // duplicate record
    else lines.splice(i, 1); // drop record
    if (choice < 3) {
      const sum = rec.slice(0, -1).reduce((a, b) => a + b, 0);
      rec[rec.length - 1] = -sum & 0xff;
      lines[i] = ":" + rec.map((b) => b.toString(16).padStart(2, "0")).join("");
    }
  }
  return bytes(lines.join("\n"));
};

/** Stores interesting values into header-sized words (ELF headers, UF2 block headers). */
const wordStores: Mutator = (input, rnd) => {
  const out = input.slice();
  const dv = new DataView(out.buffer);
  for (let k = 1 + int(rnd, 3); k > 0; k--) {
    const region = Math.min(out.length, rnd() < 0.7 ? 256 : out.length);
    const at = int(rnd, Math.max(1, region - 8)) & ~3;
    if (at + 8 > out.length) continue;
    const v =
      rnd() < 0.5
        ? pick(rnd, INTERESTING)
        : rnd() < 0.5
          ? out.length + int(rnd, 64) - 32
          : int(rnd, 2 ** 32);
    if (rnd() < 0.3) dv.setBigUint64(at, BigInt(v) * (rnd() < 0.2 ? 2n ** 32n : 1n), true);
    else if (rnd() < 0.5) dv.setUint32(at, v >>> 0, true);
    else dv.setUint16(at, v & 0xffff, true);
  }
  return out;
};

/** UF2-aware: change one block's header field to an interesting or neighbouring value. */
const uf2Fields: Mutator = (input, rnd) => {
  const out = input.slice();
  const dv = new DataView(out.buffer);
  const blocks = Math.floor(out.length / 512);
  if (!blocks) return out;
  const o = int(rnd, blocks) * 512 + 8 + 4 * int(rnd, 6); // flags..familyID
  const old = dv.getUint32(o, true);
  dv.setUint32(o, (rnd() < 0.5 ? pick(rnd, INTERESTING) : old + int(rnd, 512) - 256) >>> 0, true);
  return out;
};

interface Outcome {
  ok: number;
  errors: Map<string, number>;
  bad: string[];
  slowestMs: number;
}

function fuzz(
  name: string,
  seed: number,
  goldens: Uint8Array[],
  mutators: Mutator[],
  parse: (b: Uint8Array) => FirmwareImage,
): Outcome {
  const rnd = seededRandom(seed);
  const result: Outcome = { ok: 0, errors: new Map(), bad: [], slowestMs: 0 };
  for (let run = 0; run < RUNS; run++) {
    let input = pick(rnd, goldens);
    const used: string[] = [];
    for (let k = 1 + int(rnd, 2); k > 0; k--) {
      const m = pick(rnd, mutators);
      used.push(m.name);
      input = m(input, rnd);
    }
    const t0 = performance.now();
    try {
      const image = parse(input);
      const problem = checkImage(image);
      if (problem) result.bad.push(`${name} run ${run} (${used.join("+")}): ${problem}`);
      else result.ok++;
    } catch (err) {
      if (err instanceof ImageError && err.message.length > 0) {
        result.errors.set(err.name, (result.errors.get(err.name) ?? 0) + 1);
      } else {
        result.bad.push(`${name} run ${run} (${used.join("+")}): threw ${String(err)}`);
      }
    }
    result.slowestMs = Math.max(result.slowestMs, performance.now() - t0);
  }
  return result;
}

function checkImage(image: FirmwareImage): string | undefined {
  if (image.segments.length === 0) return "no segments";
  let prevEnd = -1;
  for (const s of image.segments) {
    if (s.data.length === 0) return "empty segment";
    if (!Number.isInteger(s.address) || s.address <= prevEnd)
      return `segment at ${s.address} not sorted/merged`;
    prevEnd = s.address + s.data.length;
    if (prevEnd > 2 ** 32) return "segment past 4 GiB";
  }
  return undefined;
}

function expectRobust(o: Outcome, minimumErrorKinds: number): void {
  expect(o.bad.slice(0, 5)).toEqual([]);
  expect(o.ok + [...o.errors.values()].reduce((a, b) => a + b, 0)).toBe(RUNS);
  expect(o.errors.size).toBeGreaterThanOrEqual(minimumErrorKinds);
  expect(o.slowestMs).toBeLessThan(1000);
}

describe(`randomized robustness (${RUNS} corrupted inputs per reader)`, () => {
  it("Intel HEX", () => {
    const o = fuzz("ihex", 0x1e5, GOLDEN.hex, [...generic, hexRecordEdit, hexRecordEdit], (b) =>
      parseIntelHex(b, "fuzz.hex"),
    );
    expectRobust(o, 3);
    expect(o.errors.get("OverlappingSegmentsError")).toBeGreaterThan(0);
    expect(o.ok).toBeGreaterThan(0);
  });

  it("ELF", () => {
    const o = fuzz("elf", 0xe1f, GOLDEN.elf, [...generic, wordStores, wordStores], (b) =>
      parseElf(b, "fuzz.elf"),
    );
    expectRobust(o, 4);
    expect(o.ok).toBeGreaterThan(0);
  });

  it("UF2", () => {
    const o = fuzz("uf2", 0x0f2, GOLDEN.uf2, [...generic, wordStores, uf2Fields, uf2Fields], (b) =>
      parseUf2(b, "fuzz.uf2"),
    );
    expectRobust(o, 3);
    expect(o.ok).toBeGreaterThan(0);
  });

  it("auto-detection over every format (parseImage)", () => {
    const names = ["fuzz.hex", "fuzz.elf", "fuzz.uf2", "fuzz.bin", "fuzz"];
    let n = 0;
    const o = fuzz("auto", 0xa0702, ALL, [...generic, wordStores, hexRecordEdit], (b) =>
      parseImage(b, { source: names[n++ % names.length]!, base: 0x08000000 }),
    );
    expectRobust(o, 4);
    expect(o.ok).toBeGreaterThan(0);
  });
});
