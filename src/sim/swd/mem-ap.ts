// A MEM-AP (the AHB-AP of a Cortex-M0+) between the debug port and the
// system bus: CSW (size, address increment; packed increment is not
// implemented and reads back as single), TAR, DRW with byte lanes and
// auto-increment that wraps within a 1 KiB block, the banked BD0–3, CFG,
// BASE (the first ROM table) and IDR. Each access is a transaction the DP
// completes when the bus is no longer stalled; a bus error is a fault. Pure.

import type { AccessSize, MemoryMap } from "./bus.js";

export const AP_CSW = 0x00;
export const AP_TAR = 0x04;
export const AP_DRW = 0x0c;
export const AP_BD0 = 0x10;
export const AP_CFG = 0xf4;
export const AP_BASE = 0xf8;
export const AP_IDR = 0xfc;

/** Cortex-M0+ AHB-AP (ARM, AHB3 MEM-AP). */
export const IDR_M0PLUS_AHB_AP = 0x04770031;
/** The auto-increment block: TAR wraps within it. */
export const TAR_AUTOINC_BLOCK = 0x400;

export const CSW_SIZE_MASK = 0x7;
export const CSW_ADDRINC_SINGLE = 1 << 4;
export const CSW_ADDRINC_PACKED = 2 << 4;
export const CSW_DEVICEEN = 1 << 6;
export const CSW_TRINPROG = 1 << 7;

/** One AP access as the DP runs it: ready at a time (µs), then done. */
export interface ApTransaction {
  readyAt: number;
  run(): { fault: boolean; value: number };
}

export interface AccessPort {
  read(reg: number): ApTransaction;
  write(reg: number, value: number): ApTransaction;
  /** TrInProg while the DP holds one of this AP's transactions. */
  inProgress: boolean;
}

const immediate = (value: number, fault = false): ApTransaction => ({
  readyAt: 0,
  run: () => ({ fault, value: value >>> 0 }),
});

export class MemAp implements AccessPort {
  private csw = CSW_ADDRINC_SINGLE | 2; // word, single increment
  tar = 0;
  inProgress = false;

  constructor(
    private readonly bus: MemoryMap,
    private readonly base: number,
    private readonly idr = IDR_M0PLUS_AHB_AP,
  ) {}

  private get size(): AccessSize {
    const s = this.csw & CSW_SIZE_MASK;
    return s === 0 ? 1 : s === 1 ? 2 : 4;
  }

  private increment(): void {
    if (!(this.csw & CSW_ADDRINC_SINGLE)) return;
    const next = this.tar + this.size;
    this.tar = ((this.tar & ~(TAR_AUTOINC_BLOCK - 1)) | (next & (TAR_AUTOINC_BLOCK - 1))) >>> 0;
  }

  private memory(reg: number, write: boolean, value: number): ApTransaction {
    const banked = reg >= AP_BD0 && reg < AP_BD0 + 16;
    const address = banked ? ((this.tar & ~0xf) | (reg - AP_BD0)) >>> 0 : this.tar;
    const size = this.size;
    return {
      readyAt: this.bus.stalledUntil(address, write),
      run: () => {
        const lane = 8 * (address & 3);
        let result: { fault: boolean; value: number };
        if (write) {
          const v = size === 4 ? value : (value >>> lane) & (size === 1 ? 0xff : 0xffff);
          result = { fault: !this.bus.write(address, size, v >>> 0), value: 0 };
        } else {
          const v = this.bus.read(address, size);
          result =
            v === undefined
              ? { fault: true, value: 0 }
              : { fault: false, value: size === 4 ? v : (v << lane) >>> 0 };
        }
        if (!banked && !result.fault) this.increment();
        return result;
      },
    };
  }

  read(reg: number): ApTransaction {
    switch (reg) {
      case AP_CSW:
        return immediate(this.csw | CSW_DEVICEEN | (this.inProgress ? CSW_TRINPROG : 0));
      case AP_TAR:
        return immediate(this.tar);
      case AP_CFG:
        return immediate(0);
      case AP_BASE:
        return immediate(this.base);
      case AP_IDR:
        return immediate(this.idr);
      default:
        if (reg === AP_DRW || (reg >= AP_BD0 && reg < AP_BD0 + 16))
          return this.memory(reg, false, 0);
        return immediate(0);
    }
  }

  write(reg: number, value: number): ApTransaction {
    switch (reg) {
      case AP_CSW: {
        let inc = value & 0x30;
        if (inc === CSW_ADDRINC_PACKED || inc === 0x30) inc = CSW_ADDRINC_SINGLE;
        const size = (value & CSW_SIZE_MASK) > 2 ? 2 : value & CSW_SIZE_MASK;
        this.csw = ((value & 0xff000f00) | inc | size) >>> 0;
        return immediate(0);
      }
      case AP_TAR:
        this.tar = value >>> 0;
        return immediate(0);
      default:
        if (reg === AP_DRW || (reg >= AP_BD0 && reg < AP_BD0 + 16))
          return this.memory(reg, true, value);
        return immediate(0);
    }
  }
}
