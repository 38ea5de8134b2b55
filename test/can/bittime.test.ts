import { describe, expect, it } from "vitest";
import {
  arbitrationKey,
  countStuffBits,
  frameBitsBeforeStuffing,
  frameWireBits,
  frameWireTimeMs,
} from "../../src/can/bittime.js";
import { canFrame } from "../../src/can/frame.js";

describe("frame bit time", () => {
  it("counts the stuff bits of an all-zero frame by hand", () => {
    // id 0, DLC 0: 19 zero bits, CRC-15 of zeros is 0 -> 34 zeros before stuffing.
    const f = canFrame(0, []);
    const bits = frameBitsBeforeStuffing(f);
    expect(bits).toHaveLength(34);
    expect(bits.every((b) => b === 0)).toBe(true);
    // A stuff bit after every five equal bits: after zeros 5, 10, ..., 30.
    expect(countStuffBits(bits)).toBe(6);
    // + CRC delimiter, ACK slot/delimiter, EOF (10) and intermission (3).
    expect(frameWireBits(f)).toBe(34 + 6 + 13);
  });

  it("treats the stuff bit as the start of the next run", () => {
    // 00000 [1] 1111 -> the inserted 1 plus four 1s make five: one more stuff bit.
    expect(countStuffBits([0, 0, 0, 0, 0, 1, 1, 1, 1])).toBe(2);
    expect(countStuffBits([0, 1, 0, 1, 0, 1])).toBe(0);
  });

  it("computes the CAN CRC-15 (a known frame)", () => {
    // Standard frame 0x123, DLC 1, data 0x01. CRC-15 checked with an independent bitwise implementation.
    const bits = frameBitsBeforeStuffing(canFrame(0x123, [1]));
    const crc = parseInt(bits.slice(-15).join(""), 2);
    expect(crc).toBe(
      crc15Reference([0, ...toBits(0x123, 11), 0, 0, 0, ...toBits(1, 4), ...toBits(1, 8)]),
    );
  });

  it("keeps 8-byte standard frames between the unstuffed length and the worst case", () => {
    for (let seed = 0; seed < 200; seed++) {
      const data = Array.from({ length: 8 }, (_, i) => (seed * 37 + i * 91) & 0xff);
      const bits = frameWireBits(canFrame((seed * 13) & 0x7ff, data));
      expect(bits).toBeGreaterThanOrEqual(111);
      expect(bits).toBeLessThanOrEqual(135); // 8n + 47 + floor((34 + 8n - 1) / 4)
    }
  });

  it("costs extended frames their 20 extra header bits", () => {
    const std = frameBitsBeforeStuffing(canFrame(0x100, [0x55]));
    const ext = frameBitsBeforeStuffing(canFrame(0x100, [0x55], { extended: true }));
    expect(ext.length - std.length).toBe(20);
  });

  it("converts bits to time at the bitrate", () => {
    const f = canFrame(0, []);
    expect(frameWireTimeMs(f, 1_000_000)).toBeCloseTo(0.053, 9);
    expect(frameWireTimeMs(f, 500_000)).toBeCloseTo(0.106, 9);
  });

  it("orders arbitration: lower id first, standard before extended with the same base, data before remote", () => {
    const key = (id: number, o: { extended?: boolean; rtr?: boolean } = {}) =>
      arbitrationKey(canFrame(id, [], o));
    expect(key(0x100)).toBeLessThan(key(0x101));
    expect(key(0x100)).toBeLessThan(key(0x100 << 18, { extended: true }));
    expect(key(0x100)).toBeLessThan(key(0x100, { rtr: true }));
    expect(key(0x0ff << 18, { extended: true })).toBeLessThan(key(0x100));
  });
});

function toBits(v: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => (v >> (n - 1 - i)) & 1);
}

// Reference CRC-15/CAN written as the polynomial division of the standard.
function crc15Reference(bits: number[]): number {
  const poly = [1, 1, 0, 0, 0, 1, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1]; // x^15+x^14+x^10+x^8+x^7+x^4+x^3+1
  const reg = [...bits, ...new Array(15).fill(0)];
  for (let i = 0; i < bits.length; i++) {
    if (reg[i]) for (let j = 0; j < 16; j++) reg[i + j] ^= poly[j]!;
  }
  return parseInt(reg.slice(-15).join(""), 2);
}
