import { describe, expect, it } from "vitest";
import {
  canFrame,
  formatFrame,
  framesEqual,
  InvalidFrameError,
  parseFrame,
} from "../../src/can/frame.js";

describe("CanFrame", () => {
  it("formats standard and extended frames like candump", () => {
    expect(formatFrame(canFrame(0x3f0, [0]))).toBe("3F0#00");
    expect(formatFrame(canFrame(0x12345678, [0xde, 0xad, 0xbe, 0xef]))).toBe("12345678#DEADBEEF");
    expect(formatFrame(canFrame(0x1, [], { extended: true }))).toBe("00000001#");
    expect(formatFrame(canFrame(0x7ff, []))).toBe("7FF#");
    expect(formatFrame(canFrame(0x123, [], { rtr: true }))).toBe("123#R");
    expect(formatFrame(canFrame(0x123, [], { rtr: true, dlc: 4 }))).toBe("123#R4");
  });

  it("picks the 29-bit format only when the id needs it", () => {
    expect(canFrame(0x7ff).extended).toBe(false);
    expect(canFrame(0x800).extended).toBe(true);
  });

  it("rejects ids and data that do not fit", () => {
    expect(() => canFrame(0x800, [], { extended: false })).toThrow(InvalidFrameError);
    expect(() => canFrame(0x20000000)).toThrow(/does not fit 29 bits/);
    expect(() => canFrame(-1)).toThrow(InvalidFrameError);
    expect(() => canFrame(1, new Array(9).fill(0))).toThrow(/at most 8/);
    expect(() => canFrame(1, [1], { rtr: true })).toThrow(/remote frame/);
    expect(() => canFrame(1, [], { rtr: true, dlc: 9 })).toThrow(/DLC/);
    expect(() => canFrame(1.5)).toThrow(InvalidFrameError);
  });

  it("parses what it formats", () => {
    for (const text of [
      "3F0#00",
      "12345678#DEADBEEF",
      "123#R",
      "123#R4",
      "000#",
      "7FF#0102030405060708",
    ]) {
      expect(formatFrame(parseFrame(text))).toBe(text);
    }
    expect(parseFrame("123#de.ad").data).toEqual(Uint8Array.from([0xde, 0xad]));
  });

  it("round-trips error frames through the CAN_ERR_FLAG id", () => {
    const f = parseFrame("20000040#0000000000000000");
    expect(f.error).toBe(true);
    expect(f.id).toBe(0x40);
    expect(formatFrame(f)).toBe("20000040#0000000000000000");
  });

  it("names the expected form when text is not a frame", () => {
    expect(() => parseFrame("12#00")).toThrow(/expected <3 or 8 hex digit id>#<hex data>/);
    expect(() => parseFrame("123#0")).toThrow(/odd number/);
    expect(() => parseFrame("123#001122334455667788")).toThrow(/at most 8/);
  });

  it("compares frames by content", () => {
    expect(framesEqual(canFrame(1, [1, 2]), parseFrame("001#0102"))).toBe(true);
    expect(framesEqual(canFrame(1, [1, 2]), canFrame(1, [1, 3]))).toBe(false);
    expect(framesEqual(canFrame(1, [1]), canFrame(1, [1], { extended: true }))).toBe(false);
  });
});
