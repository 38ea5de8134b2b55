import { describe, expect, it } from "vitest";
import {
  findTarget,
  loadTargets,
  TargetTableError,
  targets,
  UnknownTargetError,
} from "../../src/flasher/targets.js";

describe("target table", () => {
  it("loads every row through the schema, with unique ids", () => {
    const all = targets();
    expect(all.length).toBeGreaterThanOrEqual(24);
    expect(new Set(all.map((t) => t.id)).size).toBe(all.length);
    for (const t of all) {
      expect(t.seedCommand.length).toBeGreaterThan(0);
      if (t.appEnd !== undefined) expect(t.appEnd).toBeGreaterThan(t.appStart);
      if (t.chip.startsWith("atmega")) expect(t.signature).toHaveLength(3);
    }
  });

  it("has the seed's facts for the AVR and Katapult rows", () => {
    expect(findTarget("atmega2560")).toMatchObject({
      protocol: "stk500v2",
      defaultBaud: 115200,
      appStart: 0,
      appEnd: 0x3e000,
      pageSize: 256,
      signature: [0x1e, 0x98, 0x01],
    });
    expect(findTarget("avr-m1280-arduino")).toMatchObject({
      protocol: "stk500v1",
      defaultBaud: 57600,
      appEnd: 0x1f000,
    });
    expect(findTarget("stm32f0x2-f103-canboot")).toMatchObject({
      protocol: "katapult",
      appStart: 0x08002000,
      defaultBaud: 250000,
    });
  });

  it("names the candidates when a chip has several bootloaders", () => {
    const e = (() => {
      try {
        findTarget("atmega1284p");
      } catch (x) {
        return x;
      }
    })();
    expect(e).toBeInstanceOf(UnknownTargetError);
    expect((e as UnknownTargetError).candidates).toEqual([
      "avr-m1284p-arduino",
      "avr-m1284p-arduino-57600",
    ]);
    expect(() => findTarget("z80")).toThrow(/no target "z80"/);
  });

  it("rejects bad rows naming the row and field", () => {
    const good = targets()[0]!;
    expect(() => loadTargets([{ ...good, appEnd: 0 }])).toThrow(TargetTableError);
    expect(() => loadTargets([{ ...good, usbIds: ["1D50-6177"] }])).toThrow(
      /avr-m2560-wiring: usbIds.0/,
    );
    expect(() => loadTargets([{ ...good, protocol: "xmodem" }])).toThrow(/protocol/);
    expect(() => loadTargets([good, good])).toThrow(/appears twice/);
  });
});
