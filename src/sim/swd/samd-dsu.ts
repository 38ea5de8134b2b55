// The SAM D21/C21 Device Service Unit (0x41002000) as a debugger uses it:
// DID (which part this is), CTRL.CE chip erase (refused while PAC1 keeps
// the DSU write-protected, as after reset) with STATUSA.DONE when it has
// finished, STATUSA.CRSTEXT (the CPU held in reset after a cold plug,
// cleared by writing 1), STATUSB.DBGPRES; the registers also answer at
// +0x100 (the debugger's view), and the DSU's CoreSight ROM table at
// 0x41003000 points to the core's. Also PAC1 (0x41000000), whose WPCLR/WPSET
// bit 1 is the DSU's write protection. Pure.

import { RegisterBlock, type Register } from "./bus.js";
import type { SwdClock } from "./clock.js";
import { CID_CLASS_ROM_TABLE, romTable } from "./coresight.js";
import { M0P_ROM_TABLE } from "./cortex-m.js";

export const DSU_BASE = 0x41002000;
export const DSU_ROM_TABLE = 0x41003000;
export const PAC1_BASE = 0x41000000;

export const DSU_CTRL_CE = 1 << 4;
export const STATUSA_DONE = 1 << 0;
export const STATUSA_CRSTEXT = 1 << 1;
export const STATUSA_PERR = 1 << 4;
export const STATUSB_DBGPRES = 1 << 1;
/** PAC1 bit of the DSU. */
export const PAC1_DSU = 1 << 1;

export interface DsuHost {
  /** Erase volatile memories and the flash array; resolves the µs at which it is done. */
  chipErase(): number;
  /** CRSTEXT cleared: the CPU leaves reset. */
  releaseCpu(): void;
}

export class SamdDsu {
  private statusA = 0;
  private doneAt: number | undefined;
  /** PAC1's write-protect bits (bit 1 = DSU, set at reset). */
  pac1 = PAC1_DSU;
  /** Chip erases started, for tests. */
  chipErases = 0;

  constructor(
    private readonly clock: SwdClock,
    readonly did: number,
    private readonly host: DsuHost,
  ) {}

  /** A system reset: the PAC protects the DSU again. */
  reset(): void {
    this.pac1 = PAC1_DSU;
  }

  /** The CPU is held in reset until a debugger clears CRSTEXT (cold plug). */
  holdCpuInReset(): void {
    this.statusA |= STATUSA_CRSTEXT;
  }

  get cpuHeld(): boolean {
    return (this.statusA & STATUSA_CRSTEXT) !== 0;
  }

  private statusAValue(): number {
    let v = this.statusA;
    if (this.doneAt !== undefined && this.clock.nowUs >= this.doneAt) v |= STATUSA_DONE;
    return v;
  }

  private writeCtrl(v: number): void {
    if (!(v & DSU_CTRL_CE)) return;
    if (this.pac1 & PAC1_DSU) {
      this.statusA |= STATUSA_PERR;
      return;
    }
    this.chipErases++;
    this.doneAt = this.host.chipErase();
  }

  /** CTRL, STATUSA, STATUSB in the first word (bytes 0, 1, 2), DID at 0x18. */
  registers(): RegisterBlock {
    const first: Register = {
      read: () => (this.statusAValue() << 8) | (STATUSB_DBGPRES << 16),
      write: (v, m) => {
        if (m & 0xff) this.writeCtrl(v & 0xff);
        if (m & 0xff00) {
          // write 1 to clear (DONE, CRSTEXT, BERR, FAIL, PERR)
          const clear = (v >>> 8) & 0x1f;
          const wasHeld = this.cpuHeld;
          this.statusA &= ~clear;
          if (wasHeld && !this.cpuHeld) this.host.releaseCpu();
          if (clear & STATUSA_DONE) this.doneAt = undefined;
        }
      },
    };
    const did: Register = { read: () => this.did };
    return new RegisterBlock(
      new Map<number, Register>([
        [0x00, first],
        [0x18, did],
        [0x100, first],
        [0x118, did],
      ]),
      true,
    );
  }

  /** The DSU's ROM table: one entry, the Cortex-M0+ ROM table. Atmel's JEP106 code (bank 0, 0x1F). */
  static romTable(): RegisterBlock {
    return romTable(DSU_ROM_TABLE, [M0P_ROM_TABLE], {
      jep106: 0x1f,
      jep106Bank: 0,
      part: 0xcd0,
      cidClass: CID_CLASS_ROM_TABLE,
    });
  }

  /** PAC1: WPCLR at 0x0, WPSET at 0x4, each reading the protection bits. */
  pacRegisters(): RegisterBlock {
    return new RegisterBlock(
      new Map<number, Register>([
        [0x0, { read: () => this.pac1, write: (v) => (this.pac1 &= ~v) }],
        [0x4, { read: () => this.pac1, write: (v) => (this.pac1 |= v) }],
      ]),
      false,
    );
  }
}
