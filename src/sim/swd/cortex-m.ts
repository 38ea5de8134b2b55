// A Cortex-M0+ as its debugger sees it (ARMv6-M debug, no code runs): the
// halt/run/step state behind DHCSR (writes need the key 0xA05F), core
// registers through DCRSR/DCRDR, DEMCR's vector catch on reset, AIRCR's
// SYSRESETREQ (which resets the system, not the debug logic), DFSR, CPUID,
// and the debug components openocd sets up (BPU with 4 comparators, DWT
// with 2), each with its CoreSight IDs under the core's ROM table. Running
// means instructions retire (S_RETIRE_ST) but nothing executes. Pure.

import { RegisterBlock, storedRegister, type Register } from "./bus.js";
import {
  ARM_JEP106,
  CID_CLASS_GENERIC_IP,
  CID_CLASS_ROM_TABLE,
  idRegisters,
  romTable,
} from "./coresight.js";

export const SCS_BASE = 0xe000e000;
export const DWT_BASE = 0xe0001000;
export const BPU_BASE = 0xe0002000;
export const M0P_ROM_TABLE = 0xe00ff000;

/** Cortex-M0+ r0p1. */
export const CPUID_M0PLUS = 0x410cc601;

export const DHCSR_KEY = 0xa05f;
export const C_DEBUGEN = 1 << 0;
export const C_HALT = 1 << 1;
export const C_STEP = 1 << 2;
export const C_MASKINTS = 1 << 3;
export const S_REGRDY = 1 << 16;
export const S_HALT = 1 << 17;
export const S_SLEEP = 1 << 18;
export const S_LOCKUP = 1 << 19;
export const S_RETIRE_ST = 1 << 24;
export const S_RESET_ST = 1 << 25;

export const DEMCR_VC_CORERESET = 1 << 0;
export const DEMCR_VC_HARDERR = 1 << 10;
export const DEMCR_DWTENA = 1 << 24;

export const AIRCR_VECTKEY = 0x05fa;
export const AIRCR_SYSRESETREQ = 1 << 2;

/** DFSR bits. */
export const DFSR_HALTED = 1 << 0;
export const DFSR_BKPT = 1 << 1;
export const DFSR_VCATCH = 1 << 3;

/** DCRSR register selectors of ARMv6-M. */
export const REG_SP = 13;
export const REG_LR = 14;
export const REG_PC = 15;
export const REG_XPSR = 16;
export const REG_MSP = 17;
export const REG_PSP = 18;
/** CONTROL (bits 31:24) and PRIMASK (bits 7:0) together. */
export const REG_SPECIAL = 20;

export interface CortexMHost {
  /** A system reset (SYSRESETREQ): the chip resets its peripherals and calls core.reset(). */
  systemReset(): void;
  /** A word of the vector table (at VTOR 0 after reset); undefined = bus error. */
  readVector(offset: number): number | undefined;
}

export class CortexM0Plus {
  halted = false;
  /** C_DEBUGEN, C_HALT, C_STEP, C_MASKINTS as last written. */
  private control = 0;
  private resetSticky = false;
  private retireSticky = false;
  demcr = 0;
  dfsr = 0;
  private dcrdr = 0;
  readonly regs = new Map<number, number>();
  /** How many system resets (SYSRESETREQ or the reset pin) the core has been through. */
  resets = 0;
  /** Held in reset (the reset pin, then the DSU's reset extension): nothing runs, DHCSR says S_RESET_ST. */
  heldInReset = false;
  /** What the debugger did, for tests: "halt", "run", "step", "sysresetreq". */
  readonly events: string[] = [];

  constructor(private readonly host: CortexMHost) {
    this.reset();
  }

  get debugEnabled(): boolean {
    return (this.control & C_DEBUGEN) !== 0;
  }

  get pc(): number {
    return this.regs.get(REG_PC) ?? 0;
  }

  /** The reset pin: the core stops in reset and its debug state clears (the pin resets the debug logic too). */
  holdInReset(): void {
    this.heldInReset = true;
    this.halted = false;
    this.control = 0;
    this.demcr = 0;
    this.dfsr = 0;
  }

  /** Out of reset: SP and PC from the vector table; halts at once if the reset vector is caught. */
  reset(): void {
    this.heldInReset = false;
    this.regs.clear();
    for (let r = 0; r <= REG_SPECIAL; r++) this.regs.set(r, 0);
    const sp = this.host.readVector(0) ?? 0xffffffff;
    const pc = this.host.readVector(4) ?? 0xffffffff;
    this.regs.set(REG_MSP, sp & ~3);
    this.regs.set(REG_SP, sp & ~3);
    this.regs.set(REG_PC, (pc & ~1) >>> 0);
    this.regs.set(REG_LR, 0xffffffff);
    this.regs.set(REG_XPSR, 0x01000000);
    this.resetSticky = true;
    this.resets++;
    if (this.debugEnabled && (this.demcr & DEMCR_VC_CORERESET || this.control & C_HALT)) {
      this.halted = true;
      this.dfsr |= DFSR_VCATCH;
    } else this.halted = false;
  }

  private dhcsr(): number {
    let v = this.control & 0xf;
    if (this.halted) v |= S_HALT | S_REGRDY;
    else if (!this.heldInReset) this.retireSticky = true;
    if (this.resetSticky || this.heldInReset) v |= S_RESET_ST;
    if (this.retireSticky) v |= S_RETIRE_ST;
    this.resetSticky = false;
    this.retireSticky = false;
    return v >>> 0;
  }

  private writeDhcsr(v: number): void {
    if (v >>> 16 !== DHCSR_KEY) return;
    this.control = v & 0xf;
    if (!(v & C_DEBUGEN)) {
      this.control = 0;
      if (this.halted) this.events.push("run");
      this.halted = false;
      return;
    }
    if (this.heldInReset) return; // a halt request waits for the end of reset
    if (v & C_HALT) {
      if (!this.halted) this.events.push("halt");
      this.halted = true;
      this.dfsr |= DFSR_HALTED;
    } else if (this.halted && v & C_STEP) {
      // one instruction (a Thumb halfword) and halted again
      this.regs.set(REG_PC, (this.pc + 2) >>> 0);
      this.events.push("step");
      this.dfsr |= DFSR_HALTED;
    } else if (this.halted) {
      this.events.push("run");
      this.halted = false;
    }
  }

  private writeDcrsr(v: number): void {
    const sel = v & 0x7f;
    if (v & (1 << 16)) {
      this.regs.set(sel, this.dcrdr);
      if (sel === REG_SP) this.regs.set(REG_MSP, this.dcrdr);
      if (sel === REG_MSP) this.regs.set(REG_SP, this.dcrdr);
    } else this.dcrdr = this.regs.get(sel) ?? 0;
  }

  private writeAircr(v: number): void {
    if (v >>> 16 !== AIRCR_VECTKEY) return;
    if (v & AIRCR_SYSRESETREQ) {
      this.events.push("sysresetreq");
      this.host.systemReset();
    }
  }

  /** The System Control Space (0xE000E000, 4 KiB): unmodelled registers read as zero. */
  scs(): RegisterBlock {
    const r = new Map<number, Register>(
      idRegisters({ ...ARM_JEP106, part: 0x008, cidClass: CID_CLASS_GENERIC_IP }),
    );
    r.set(0xd00, { read: () => CPUID_M0PLUS });
    r.set(0xd04, storedRegister()); // ICSR
    r.set(0xd08, storedRegister(0, 0xffffff80)); // VTOR
    r.set(0xd0c, {
      read: () => 0xfa050000,
      write: (v, m) => m === 0xffffffff && this.writeAircr(v),
    });
    r.set(0xd10, storedRegister(0, 0x16)); // SCR
    r.set(0xd14, { read: () => 0x00000208 }); // CCR: STKALIGN, UNALIGN_TRP
    r.set(0xd1c, storedRegister(0, 0xc0000000)); // SHPR2
    r.set(0xd20, storedRegister(0, 0xc0c00000)); // SHPR3
    r.set(0xd24, storedRegister(0, 0x8000)); // SHCSR
    r.set(0xd30, { read: () => this.dfsr, write: (v) => (this.dfsr &= ~v) });
    r.set(0xdf0, {
      read: () => this.dhcsr(),
      write: (v, m) => m === 0xffffffff && this.writeDhcsr(v),
    });
    r.set(0xdf4, { write: (v) => this.writeDcrsr(v) });
    r.set(0xdf8, { read: () => this.dcrdr, write: (v) => (this.dcrdr = v >>> 0) });
    r.set(0xdfc, {
      read: () => this.demcr,
      write: (v, m) => (this.demcr = ((this.demcr & ~m) | (v & m & 0x01000401)) >>> 0),
    });
    return new RegisterBlock(r, true);
  }

  /** The DWT (2 comparators: COMPn, MASKn, FUNCTIONn from 0x20, 16 bytes apart). */
  dwt(): RegisterBlock {
    const r = new Map<number, Register>(
      idRegisters({ ...ARM_JEP106, part: 0x00a, cidClass: CID_CLASS_GENERIC_IP }),
    );
    r.set(0x000, { read: () => 0x20000000 }); // DWT_CTRL.NUMCOMP = 2
    r.set(0x01c, { read: () => (this.halted ? 0xffffffff : this.pc) }); // PCSR
    for (let n = 0; n < 2; n++) {
      r.set(0x20 + 16 * n, storedRegister());
      r.set(0x24 + 16 * n, storedRegister(0, 0x1f));
      r.set(0x28 + 16 * n, storedRegister(0, 0x0f));
    }
    return new RegisterBlock(r, true);
  }

  /** The breakpoint unit: BP_CTRL (NUM_CODE 4, ENABLE under KEY) and BP_COMP0..3. */
  bpu(): RegisterBlock {
    const r = new Map<number, Register>(
      idRegisters({ ...ARM_JEP106, part: 0x00b, cidClass: CID_CLASS_GENERIC_IP }),
    );
    let enable = 0;
    r.set(0x000, { read: () => 0x40 | enable, write: (v) => v & 2 && (enable = v & 1) });
    for (let n = 0; n < 4; n++) r.set(8 + 4 * n, storedRegister(0, 0xfffffffd));
    return new RegisterBlock(r, true);
  }

  /** The core's ROM table (0xE00FF000): SCS, DWT, BPU. */
  static romTable(): RegisterBlock {
    return romTable(M0P_ROM_TABLE, [SCS_BASE, DWT_BASE, BPU_BASE], {
      ...ARM_JEP106,
      part: 0x4c0,
      cidClass: CID_CLASS_ROM_TABLE,
    });
  }
}
