import { describe, expect, it } from "vitest";
import { JtagTap } from "../../../src/sim/jtag/tap.js";

/** Clocks TMS bits; returns TDO as sampled before each rising edge (as OpenOCD's bitbang does). */
function clock(tap: JtagTap, tms: number[], tdi: number[] = []): number[] {
  return tms.map((m, i) => {
    const out = tap.tdo;
    tap.clock(m as 0 | 1, (tdi[i] ?? 0) as 0 | 1);
    return out;
  });
}
const bitsOf = (v: number, n: number): number[] =>
  Array.from({ length: n }, (_, i) => (v >>> i) & 1);
const valueOf = (bits: number[]): number => bits.reduce((v, b, i) => (v | (b << i)) >>> 0, 0);

describe("JTAG TAP model", () => {
  it("walks the IEEE 1149.1 state machine and resets with five TMS=1", () => {
    const tap = new JtagTap({ idcode: 0x4ba00477 });
    clock(tap, [0]);
    expect(tap.state).toBe("run-test-idle");
    clock(tap, [1, 0, 0]);
    expect(tap.state).toBe("shift-dr");
    clock(tap, [1, 0, 1, 0]);
    expect(tap.state).toBe("shift-dr"); // exit1 → pause → exit2 → shift
    clock(tap, [1, 1, 1, 1, 1]);
    expect(tap.state).toBe("test-logic-reset");
  });

  it("shifts the IDCODE out LSB first after reset, then what went in", () => {
    const tap = new JtagTap({ idcode: 0x4ba00477 });
    clock(tap, [0, 1, 0, 0]); // idle, select-dr, capture-dr, shift-dr
    const tdi = [...bitsOf(0xffffffff, 32), ...bitsOf(0, 31)];
    const out = clock(tap, [...Array(63).fill(0), 1], tdi);
    expect(valueOf(out.slice(0, 32))).toBe(0x4ba00477);
    expect(valueOf(out.slice(32, 64))).toBe(0xffffffff);
  });

  it("captures 0b0001 in the IR and selects BYPASS (1 bit) for other instructions", () => {
    const tap = new JtagTap({ idcode: 0x4ba00477 });
    clock(tap, [0, 1, 1, 0, 0]); // idle, select-dr, select-ir, capture-ir, shift-ir
    const out = clock(tap, [0, 0, 0, 1], [1, 1, 1, 1]);
    expect(out).toEqual([1, 0, 0, 0]);
    clock(tap, [1, 1, 0, 0]); // update-ir (IR=0xf), select-dr, capture-dr, shift-dr
    expect(tap.instruction).toBe(0xf);
    const bypass = clock(tap, [0, 0, 0, 1], [1, 0, 1, 1]);
    expect(bypass).toEqual([0, 1, 0, 1]); // one bit of delay
  });
});
