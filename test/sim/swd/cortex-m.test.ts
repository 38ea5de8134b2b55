// The Cortex-M0+ debug model and the MEM-AP in front of it: DHCSR's key,
// halt, core registers through DCRSR/DCRDR, SYSRESETREQ with and without
// the reset vector catch, TAR auto-increment within 1 KiB, byte lanes, and
// the ROM tables a debugger walks from the AP's BASE.
import { describe, expect, it } from "vitest";
import {
  C_DEBUGEN,
  C_HALT,
  DEMCR_VC_CORERESET,
  REG_PC,
  S_HALT,
  S_REGRDY,
  S_RESET_ST,
  S_RETIRE_ST,
} from "../../../src/sim/swd/cortex-m.js";
import { AP_BASE, AP_IDR } from "../../../src/sim/swd/mem-ap.js";
import { SamdTarget } from "../../../src/sim/swd/samd-target.js";
import { STATUSA_CRSTEXT } from "../../../src/sim/swd/samd-dsu.js";
import { ACK_NONE } from "../../../src/sim/swd/sw-dp.js";
import { ap, DapHost, dp } from "./dap-host.js";

const DHCSR = 0xe000edf0;
const DCRSR = 0xe000edf4;
const DCRDR = 0xe000edf8;
const DEMCR = 0xe000edfc;
const AIRCR = 0xe000ed0c;

describe("Cortex-M0+ debug", () => {
  it("DHCSR ignores writes without the key; with it the core halts and core registers read through DCRSR/DCRDR", () => {
    const flash = new Uint8Array(8);
    new DataView(flash.buffer).setUint32(0, 0x20001000, true);
    new DataView(flash.buffer).setUint32(4, 0x00000201, true);
    const t = new SamdTarget({ part: "samc21g18a", flash });
    t.core.reset();
    t.bus.write(DHCSR, 4, C_DEBUGEN | C_HALT);
    expect(t.core.halted).toBe(false);
    t.bus.write(DHCSR, 4, (0xa05f << 16) | C_DEBUGEN | C_HALT);
    expect(t.bus.read(DHCSR, 4)! & (S_HALT | S_REGRDY)).toBe(S_HALT | S_REGRDY);
    t.bus.write(DCRSR, 4, REG_PC);
    expect(t.bus.read(DCRDR, 4)).toBe(0x200);
    t.bus.write(DCRDR, 4, 0x1234);
    t.bus.write(DCRSR, 4, (1 << 16) | 0);
    expect(t.core.regs.get(0)).toBe(0x1234);
    expect(t.bus.read(0xe000ed00, 4)).toBe(0x410cc601);
  });

  it("SYSRESETREQ with VC_CORERESET halts at the reset vector (S_RESET_ST once); without it the core runs", () => {
    const flash = new Uint8Array(8);
    new DataView(flash.buffer).setUint32(4, 0x00000401, true);
    const t = new SamdTarget({ part: "samc21g18a", flash });
    t.bus.read(DHCSR, 4); // clears the power-on S_RESET_ST
    t.bus.write(DHCSR, 4, (0xa05f << 16) | C_DEBUGEN);
    t.bus.write(DEMCR, 4, DEMCR_VC_CORERESET);
    t.bus.write(AIRCR, 4, 0x05fa0004);
    const s = t.bus.read(DHCSR, 4)!;
    expect(s & S_HALT).toBe(S_HALT);
    expect(s & S_RESET_ST).toBe(S_RESET_ST);
    expect(t.bus.read(DHCSR, 4)! & S_RESET_ST).toBe(0);
    expect(t.core.pc).toBe(0x400);
    expect(t.bus.read(DEMCR, 4)).toBe(DEMCR_VC_CORERESET); // debug state survives
    t.bus.write(DEMCR, 4, 0);
    t.bus.write(AIRCR, 4, 0x05fa0004);
    expect(t.core.halted).toBe(false);
    expect(t.bus.read(DHCSR, 4)! & S_RETIRE_ST).toBe(S_RETIRE_ST);
    t.bus.write(AIRCR, 4, 0x00000004); // no VECTKEY: nothing
    expect(t.core.resets).toBe(3);
  });
});

describe("the reset pin", () => {
  it("while low nothing answers; released, the DSU keeps the CPU in reset (CRSTEXT) until a debugger clears it, and the vector catch set meanwhile halts it", () => {
    const h = new DapHost();
    h.connect();
    h.cmd(0x10, 0x00, 0x80, 0, 0, 0, 0); // SWJ_Pins: nRESET low
    expect(h.transfer([dp(true, 0)]).ack).toBe(ACK_NONE);
    h.cmd(0x10, 0x80, 0x80, 0, 0, 0, 0); // released
    expect(h.transfer([dp(true, 4)]).ack).toBe(ACK_NONE); // the debug logic was reset: line reset + DPIDR first
    h.connect();
    expect(h.read32(0x41002000).value & (STATUSA_CRSTEXT << 8)).toBe(STATUSA_CRSTEXT << 8);
    expect(h.read32(DHCSR).value & S_RESET_ST).toBe(S_RESET_ST);
    expect(h.target.core.heldInReset).toBe(true);
    h.write32(DHCSR, (0xa05f << 16) | C_DEBUGEN | C_HALT);
    h.write32(DEMCR, DEMCR_VC_CORERESET);
    expect(h.target.core.halted).toBe(false); // not while in reset
    h.csw(0);
    h.transfer([ap(false, 4, 0x41002001), ap(false, 0xc, STATUSA_CRSTEXT << 8)]);
    expect(h.target.core.heldInReset).toBe(false);
    expect(h.target.core.halted).toBe(true);
  });
});

describe("MEM-AP", () => {
  it("TAR auto-increments and wraps within its 1 KiB block", () => {
    const h = new DapHost();
    h.connect();
    h.transfer([ap(false, 4, 0x200003fc), ap(false, 0xc, 0x11111111), ap(false, 0xc, 0x22222222)]);
    expect(h.read32(0x200003fc).value).toBe(0x11111111);
    expect(h.read32(0x20000000).value).toBe(0x22222222);
  });

  it("byte and halfword accesses use their byte lanes", () => {
    const h = new DapHost();
    h.connect();
    h.write32(0x20000010, 0x44332211);
    h.csw(0);
    expect(h.read32(0x20000012).value).toBe(0x00330000);
    h.transfer([ap(false, 4, 0x20000011), ap(false, 0xc, 0x0000aa00)]);
    h.csw(1);
    expect(h.read32(0x20000012).value).toBe(0x44330000);
    h.csw(2);
    expect(h.read32(0x20000010).value).toBe(0x4433aa11);
  });

  it("IDR is the M0+ AHB-AP; BASE leads through the DSU's ROM table to the core's and on to the SCS", () => {
    const h = new DapHost();
    h.connect();
    const apReg = (reg: number) =>
      h.transfer([{ ap: false, read: false, addr: 8, data: reg & 0xf0 }, ap(true, reg & 0xc)])
        .words[0]!;
    expect(apReg(AP_IDR)).toBe(0x04770031);
    const base = apReg(AP_BASE) & ~0xfff;
    expect(base).toBe(0x41003000);
    h.transfer([{ ap: false, read: false, addr: 8, data: 0 }]);
    const entry = h.read32(base).value;
    const m0rom = (base + (entry & ~0xfff)) >>> 0;
    expect(m0rom).toBe(0xe00ff000);
    const scs = (m0rom + (h.read32(m0rom).value & ~0xfff)) >>> 0;
    expect(scs).toBe(0xe000e000);
    // component class: CIDR1 of a ROM table is 0x10, of the SCS 0xE0
    expect(h.read32(m0rom + 0xff4).value).toBe(0x10);
    expect(h.read32(scs + 0xff4).value).toBe(0xe0);
  });
});
