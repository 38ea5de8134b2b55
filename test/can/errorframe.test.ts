import { describe, expect, it } from "vitest";
import { busStateFromErrorFrame, errorClasses, errorCounters } from "../../src/can/errorframe.js";
import { canFrame } from "../../src/can/frame.js";

const err = (id: number, data: number[] = [0, 0, 0, 0, 0, 0, 0, 0]) =>
  canFrame(id, data, { error: true, extended: false });

describe("error frames", () => {
  it("maps controller reports to bus states", () => {
    expect(busStateFromErrorFrame(err(0x40))).toBe("bus-off");
    expect(busStateFromErrorFrame(err(0x100))).toBe("error-active");
    expect(busStateFromErrorFrame(err(0x4, [0, 0x10, 0, 0, 0, 0, 0, 0]))).toBe("error-passive");
    expect(busStateFromErrorFrame(err(0x4, [0, 0x08, 0, 0, 0, 0, 0, 0]))).toBe("error-warning");
    expect(busStateFromErrorFrame(err(0x4, [0, 0x40, 0, 0, 0, 0, 0, 0]))).toBe("error-active");
    expect(busStateFromErrorFrame(err(0x20))).toBeUndefined();
    expect(busStateFromErrorFrame(canFrame(0x40, []))).toBeUndefined();
  });

  it("names error classes and reads counters", () => {
    expect(errorClasses(err(0x20 | 0x80))).toEqual(["no-ack", "bus-error"]);
    expect(errorCounters(err(0x200, [0, 0, 0, 0, 0, 0, 96, 3]))).toEqual({ tx: 96, rx: 3 });
    expect(errorCounters(err(0x20))).toBeUndefined();
  });
});
