// The SAM D21/C21 NVM controller and DSU on the model's bus: command key and
// READY rules (PROGE), the page buffer and its write semantics (ones to
// zeros only, 16/32-bit only, automatic write on the last word without
// MANW), erase and write times, BOOTPROT and region locks taken from the
// user row at reset, and the DSU chip erase behind PAC1.
import { describe, expect, it } from "vitest";
import {
  CHIP_ERASE_US,
  INTFLAG_READY,
  NVMCTRL_BASE,
  PAGE_WRITE_US,
  ROW_ERASE_US,
  STATUS_LOCKE,
  STATUS_PROGE,
  USER_ROW,
} from "../../../src/sim/swd/samd-nvm.js";
import { DSU_BASE, PAC1_BASE, STATUSA_DONE, STATUSA_PERR } from "../../../src/sim/swd/samd-dsu.js";
import { SamdTarget, SRAM_BASE } from "../../../src/sim/swd/samd-target.js";

const CTRLA = NVMCTRL_BASE;
const INTFLAG = NVMCTRL_BASE + 0x14;
const STATUS = NVMCTRL_BASE + 0x18;
const ADDR = NVMCTRL_BASE + 0x1c;
const cmd = (c: number) => 0xa500 | c;

function chip(part: "samc21g18a" | "samd21g18a" = "samc21g18a", userRow?: Uint8Array) {
  const t = new SamdTarget({ part, ...(userRow ? { userRow } : {}) });
  const w = (a: number, v: number, size: 1 | 2 | 4 = 4) => t.bus.write(a, size, v);
  const r = (a: number, size: 1 | 2 | 4 = 4) => t.bus.read(a, size);
  const settle = () => t.clock.advance(Math.max(0, t.bus.stalledUntil(0, false) - t.clock.nowUs));
  return { t, w, r, settle };
}

describe("NVMCTRL commands", () => {
  it("PARAM says 64-byte pages and 4096 of them; a wrong key or a busy controller is a programming error", () => {
    const { w, r, settle } = chip();
    expect(r(NVMCTRL_BASE + 8)).toBe((3 << 16) | 4096);
    w(CTRLA, 0x5a02);
    expect(r(STATUS)! & STATUS_PROGE).toBe(STATUS_PROGE);
    w(STATUS, STATUS_PROGE, 2);
    expect(r(STATUS)! & STATUS_PROGE).toBe(0);
    w(ADDR, 0);
    w(CTRLA, cmd(0x02));
    expect(r(INTFLAG, 1)! & INTFLAG_READY).toBe(0);
    w(CTRLA, cmd(0x02));
    expect(r(STATUS)! & STATUS_PROGE).toBe(STATUS_PROGE);
    settle();
    expect(r(INTFLAG, 1)! & INTFLAG_READY).toBe(INTFLAG_READY);
  });

  it("a page write programs ones to zeros only: without an erase the old zeros stay", () => {
    const { t, w, settle } = chip();
    w(0x400, 0x0000ffff);
    w(CTRLA, cmd(0x04)); // WP (the C21 writes pages manually)
    settle();
    w(0x400, 0xffff0000);
    w(CTRLA, cmd(0x04));
    settle();
    expect([...t.flashDump(0x404).subarray(0x400)]).toEqual([0, 0, 0, 0]);
    w(ADDR, 0x400 >> 1);
    w(CTRLA, cmd(0x02));
    expect(t.clock.nowUs < t.bus.stalledUntil(0x400, false)).toBe(true);
    settle();
    expect([...t.flashDump(0x404).subarray(0x400)]).toEqual([0xff, 0xff, 0xff, 0xff]);
  });

  it("the page buffer takes halfwords and words, not bytes; a write sets ADDR (in halfwords)", () => {
    const { w, r } = chip();
    expect(w(0x802, 0x1234, 2)).toBe(true);
    expect(r(ADDR)).toBe(0x802 >> 1);
    expect(w(0x803, 0x12, 1)).toBe(false);
  });

  it("without MANW (the D21 model) loading a page's last word writes the page", () => {
    const { t, w, r } = chip("samd21g18a");
    for (let o = 0; o < 64; o += 4) w(0x1000 + o, 0x11223344);
    expect(r(INTFLAG, 1)! & INTFLAG_READY).toBe(0);
    const stall = t.bus.stalledUntil(0x1000, false) - t.clock.nowUs;
    expect(stall).toBe(PAGE_WRITE_US);
    t.clock.advance(stall);
    expect(r(0x103c)).toBe(0x11223344);
  });

  it("erase and write take tFRE and tFPP of the model's clock", () => {
    const { t, w } = chip();
    w(ADDR, 0);
    w(CTRLA, cmd(0x02));
    expect(t.bus.stalledUntil(0, false) - t.clock.nowUs).toBe(ROW_ERASE_US);
  });
});

describe("fuses from the user row", () => {
  const bootprot2 = Uint8Array.of(0xfa, 0xc7, 0xe0, 0xd8, 0x5d, 0xfc, 0xff, 0xff);

  it("BOOTPROT 2 protects the first 8 KiB from erase until a reset after the user row says 7", () => {
    const { t, w, r, settle } = chip("samc21g18a", bootprot2);
    w(ADDR, 0x1f00 >> 1);
    w(CTRLA, cmd(0x02));
    expect(r(STATUS)! & STATUS_LOCKE).toBe(STATUS_LOCKE);
    w(ADDR, 0x2000 >> 1);
    w(STATUS, 0xffff, 2);
    w(CTRLA, cmd(0x02));
    expect(r(STATUS)! & STATUS_LOCKE).toBe(0);
    settle();
    // EAR, then the user row's first word with BOOTPROT 7, WAP
    w(ADDR, USER_ROW >> 1);
    w(CTRLA, cmd(0x05));
    settle();
    w(USER_ROW, 0xd8e0c7ff);
    w(USER_ROW + 4, 0xfffffc5d);
    w(CTRLA, cmd(0x06));
    settle();
    expect(t.bootprotFuse).toBe(7);
    w(ADDR, 0);
    w(CTRLA, cmd(0x02));
    expect(r(STATUS)! & STATUS_LOCKE).toBe(STATUS_LOCKE); // not before a reset
    t.systemReset();
    w(CTRLA, cmd(0x02));
    expect(r(STATUS)! & STATUS_LOCKE).toBe(0);
  });

  it("a region whose lock bit is 0 in the user row refuses writes; UR unlocks it until reset", () => {
    const locked = Uint8Array.of(0xff, 0xc7, 0xe0, 0xd8, 0x5d, 0xfc, 0xfe, 0xff); // region 0 locked
    const { w, r } = chip("samc21g18a", locked);
    expect(r(NVMCTRL_BASE + 0x20)! & 1).toBe(0);
    w(0, 0);
    w(CTRLA, cmd(0x04));
    expect(r(STATUS)! & STATUS_LOCKE).toBe(STATUS_LOCKE);
    w(ADDR, 0);
    w(CTRLA, cmd(0x41)); // UR
    expect(r(NVMCTRL_BASE + 0x20)! & 1).toBe(1);
  });
});

describe("DSU chip erase", () => {
  it("is refused while PAC1 protects the DSU; after WPCLR it erases flash and SRAM, not the user row, and sets DONE", () => {
    const old = new Uint8Array(0x40000).fill(0x42);
    const t = new SamdTarget({ part: "samc21g18a", flash: old });
    t.sram.bytes.fill(0x99);
    const row = t.userRow();
    t.bus.write(DSU_BASE + 0x100, 1, 0x10);
    expect((t.bus.read(DSU_BASE + 1, 1)! & STATUSA_PERR) !== 0).toBe(true);
    expect(t.dsu.chipErases).toBe(0);
    t.bus.write(PAC1_BASE, 4, 1 << 1);
    t.bus.write(DSU_BASE + 0x100, 1, 0x10);
    expect(t.bus.read(DSU_BASE + 1, 1)! & STATUSA_DONE).toBe(0);
    expect(t.bus.read(SRAM_BASE, 4)).toBe(0);
    t.clock.advance(CHIP_ERASE_US);
    expect(t.bus.read(DSU_BASE + 1, 1)! & STATUSA_DONE).toBe(STATUSA_DONE);
    expect(t.flashDump().every((b) => b === 0xff)).toBe(true);
    expect(t.userRow()).toEqual(row);
  });

  it("DID names the part", () => {
    expect(new SamdTarget({ part: "samd21g18a" }).bus.read(DSU_BASE + 0x18, 4)).toBe(0x10010305);
    expect(new SamdTarget({ part: "samc21g18a" }).bus.read(DSU_BASE + 0x18, 4)).toBe(0x11010005);
  });
});
