import { describe, expect, it } from "vitest";
import {
  LINE_SEQUENCE_STEP_MS as STEP,
  LineSequenceError,
  parseLineSequence,
} from "../../src/transport/line-sequence.js";

describe("stm32flash's -i notation for DTR/RTS", () => {
  it("'&' sets lines together, ',' holds 100 ms; lines not named keep their state (a fresh port: both asserted)", () => {
    const s = parseLineSequence("-dtr&rts,dtr,-rts:-dtr&-rts,dtr");
    expect(s.entry).toEqual([
      { dtr: false, rts: true, holdMs: STEP },
      { dtr: true, rts: true, holdMs: STEP },
      { dtr: true, rts: false, holdMs: 0 },
    ]);
    expect(s.exit).toEqual([
      { dtr: false, rts: false, holdMs: STEP },
      { dtr: true, rts: false, holdMs: 0 },
    ]);
  });

  it("empty items between commas wait again; no exit part means none", () => {
    const s = parseLineSequence("rts&-dtr,,-rts&dtr,,");
    expect(s.entry).toEqual([
      { dtr: false, rts: true, holdMs: 2 * STEP },
      { dtr: true, rts: false, holdMs: 2 * STEP },
    ]);
    expect(s.exit).toEqual([]);
    expect(parseLineSequence(" RTS , -DTR ").entry).toEqual([
      { dtr: true, rts: true, holdMs: STEP },
      { dtr: false, rts: true, holdMs: 0 },
    ]);
  });

  it.each([
    ["rts,7", "gpio", 5, /GPIO number: canflash drives only/],
    ["-brk", "break", 1, /serial break is not supported/],
    ["rts&boot0", "unknown-signal", 5, /"boot0" is not a signal/],
    ["rts:dtr:rts", "too-many-colons", 8, /more than one ':'/],
    ["", "empty", 1, /drives no line/],
    [",,", "empty", 1, /drives no line/],
  ])("%j is refused (%s) with its position", (input, reason, pos, message) => {
    let err: unknown;
    try {
      parseLineSequence(input);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LineSequenceError);
    expect(err).toMatchObject({ code: "LINE_SEQUENCE", reason, position: pos - 1 });
    expect((err as Error).message).toMatch(message);
  });
});
