// The device table (src/targets/targets.json) through its schema and
// cross-checks, the lookups, and the driver table's view of it.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { isSupported, loadDriver } from "../../src/bootloaders/index.js";
import { ENTRIES } from "../../src/entry/index.js";
import {
  applicationUsbIds,
  chips,
  findTarget,
  mcuFlash,
  TargetTableError,
  targets,
  UnknownTargetError,
} from "../../src/targets/index.js";
import { loadMcuFlashes, loadTable, loadTargets } from "../../src/targets/load.js";

const raw = JSON.parse(
  readFileSync(new URL("../../src/targets/targets.json", import.meta.url), "utf8"),
) as { targets: Record<string, unknown>[]; chips: Record<string, Record<string, unknown>> };

describe("target table", () => {
  it("loads every row through the schema, with unique ids and the seed's command", () => {
    const all = targets();
    expect(all.length).toBeGreaterThanOrEqual(25);
    expect(new Set(all.map((t) => t.id)).size).toBe(all.length);
    for (const t of all) {
      expect(t.seedCommand.length).toBeGreaterThan(0);
      if (t.appEnd !== undefined) expect(t.appEnd).toBeGreaterThan(t.appStart ?? 0);
      for (const e of t.entry) expect(ENTRIES).toHaveProperty(e);
    }
  });

  it("has the seed's facts for the AVR and Katapult rows, chip facts from the chips", () => {
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
      signature: [0x1e, 0x97, 0x03],
    });
    expect(findTarget("stm32f0x2-f103-canboot")).toMatchObject({
      protocol: "katapult",
      appStart: 0x08002000,
      defaultBaud: 250000,
    });
    expect(findTarget("katapult")).toMatchObject({ protocol: "katapult", usbIds: ["1d50:6177"] });
  });

  it("keeps AVR signatures and page sizes in one place: the chips, not the rows", () => {
    for (const row of raw.targets) {
      if (raw.chips[row.chip as string]) {
        expect(row, `${row.id as string} restates a chip fact`).not.toHaveProperty("signature");
        expect(row, `${row.id as string} restates a chip fact`).not.toHaveProperty("pageSize");
      }
    }
    const good = raw.targets.find((r) => r.id === "avr-m328p-optiboot")!;
    expect(() => loadTargets([{ ...good, pageSize: 64 }], chips())).toThrow(
      /avr-m328p-optiboot: pageSize: comes from chips.atmega328p/,
    );
    expect(() => loadTargets([{ ...good, signature: ["0x1e", "0x95", "0x0f"] }], chips())).toThrow(
      TargetTableError,
    );
    expect(() => loadTargets([{ ...good, appEnd: "0x9000" }], chips())).toThrow(
      /past the end of atmega328p's flash \(0x8000\)/,
    );
  });

  it("takes the USB ids the code uses from the table", () => {
    expect(applicationUsbIds("klipper-usb")).toEqual(["1d50:614e"]);
    expect(applicationUsbIds("klipper-usb-can-bridge")).toEqual(["1d50:606f"]);
    const bad = structuredClone(raw) as unknown as {
      targets: Record<string, unknown>[];
    };
    bad.targets.find((r) => r.id === "katapult")!.usbIds = ["1d50:614e"];
    expect(() => loadTable(bad)).toThrow(/katapult: usbIds: 1d50:614e is also an application's/);
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
    const good = raw.targets.find((r) => r.id === "avr-m2560-wiring")!;
    expect(() => loadTargets([{ ...good, appEnd: 0 }], chips())).toThrow(TargetTableError);
    expect(() => loadTargets([{ ...good, usbIds: ["1D50-6177"] }], chips())).toThrow(
      /avr-m2560-wiring: usbIds.0/,
    );
    expect(() => loadTargets([{ ...good, protocol: "xmodem" }], chips())).toThrow(/protocol/);
    expect(() => loadTargets([{ ...good, appStart: "8000" }], chips())).toThrow(/appStart/);
    expect(() => loadTargets([{ ...good, colour: "red" }], chips())).toThrow(/colour/);
    expect(() => loadTargets([good, good], chips())).toThrow(/appears twice/);
  });
});

describe("driver table", () => {
  it("has a driver for Katapult and the AVR bootloaders, imported on use", async () => {
    for (const p of [
      "katapult",
      "stk500v1",
      "stk500v2",
      "halfkay",
      "hid-bootloader",
      "picoboot",
    ] as const) {
      const d = await loadDriver(p);
      expect(d?.protocol).toBe(p);
    }
    // OpenOCD (SWD): both rows of the table
    expect((await loadDriver("swd"))?.protocol).toBe("swd");
    expect(await isSupported(findTarget("samc21-swd"))).toBe(true);
    expect(await isSupported(findTarget("openocd-swd"))).toBe(true);
  });

  it("says which rows this build flashes: AVR parts yes, the M0's borrowed STK500v2 framing no", async () => {
    expect(await isSupported(findTarget("avr-m2560-wiring"))).toBe(true);
    expect(await isSupported(findTarget("katapult"))).toBe(true);
    expect(await isSupported(findTarget("samd21-m0-stk500v2"))).toBe(false);
    expect(await isSupported(findTarget("sam3x-bossac"))).toBe(true);
    for (const id of [
      "teensy-at90usb1286",
      "stm32f103-hid",
      "stm32f4-hid",
      "rp2040-picoboot",
      "rp2040-picoboot-katapult",
    ])
      expect(await isSupported(findTarget(id))).toBe(true);
  });
});

describe("MCU flash sizes (mcus.json)", () => {
  it("knows the Klipper MCUs canflash meets, the largest part for a name that covers several", () => {
    expect(mcuFlash("stm32g0b1xx")).toMatchObject({ flashBase: 0x08000000, flashSize: 0x80000 });
    expect(mcuFlash("stm32f103xe")?.flashSize).toBe(0x80000);
    expect(mcuFlash("rp2040")).toMatchObject({
      flashBase: 0x10000000,
      flashSize: 0x1000000,
      uf2Families: [0xe48bff56],
    });
    expect(mcuFlash("z80")).toBeUndefined();
  });

  it("has every MCU of the device table's rows", () => {
    for (const t of targets())
      for (const m of t.mcu)
        if (m !== "*" && !m.startsWith("at")) expect(mcuFlash(m), `${t.id}: ${m}`).toBeDefined();
  });

  it("rejects a malformed entry", () => {
    expect(() => loadMcuFlashes({ mcus: { x: { flashBase: "8000", flashSize: "0x10" } } })).toThrow(
      /mcus.json: mcus.x.flashBase/,
    );
  });
});
