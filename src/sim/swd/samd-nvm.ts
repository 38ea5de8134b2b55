// The SAM D21/C21 NVM controller (NVMCTRL at 0x41004000) with the flash
// behind it: 64-byte pages, 4-page (256-byte) rows, the user row in the
// auxiliary space at 0x804000. Writes to the flash address space fill the
// page buffer (16- or 32-bit only) and set ADDR; commands go to CTRLA with
// the key 0xA5 in CMDEX and need INTFLAG.READY (else STATUS.PROGE). Erase
// and write take the datasheet's times on the model's clock, during which
// READY reads 0 and flash accesses stall the bus. Page writes program ones
// to zeros only (flash AND page buffer). BOOTPROT and the region lock bits
// come from the user row at reset, as the fuses do. Pure.

import {
  readLe,
  RegisterBlock,
  writeLe,
  type AccessSize,
  type BusDevice,
  type Register,
} from "./bus.js";
import type { SwdClock } from "./clock.js";

export const NVMCTRL_BASE = 0x41004000;
export const USER_ROW = 0x00804000;
export const PAGE_SIZE = 64;
export const ROW_SIZE = 256;
/** The auxiliary space mapped at 0x800000 (user row, calibration rows): 16 KiB + rows. */
export const AUX_BASE = 0x00800000;
export const AUX_SIZE = 0x6000;

/** NVM timings (SAM D21/C21 datasheets' NVM characteristics: tFPP page write, tFRE row erase), µs. */
export const PAGE_WRITE_US = 2500;
export const ROW_ERASE_US = 6000;
/** The DSU's chip erase, µs (the datasheets give no figure; one bulk erase of the array is modelled as a row erase). */
export const CHIP_ERASE_US = 6000;

export const CMDEX_KEY = 0xa5;
export const NVM_CMD = {
  ER: 0x02,
  WP: 0x04,
  EAR: 0x05,
  WAP: 0x06,
  LR: 0x40,
  UR: 0x41,
  SPRM: 0x42,
  CPRM: 0x43,
  PBC: 0x44,
  SSB: 0x45,
  INVALL: 0x46,
} as const;

export const STATUS_LOAD = 1 << 1;
export const STATUS_PROGE = 1 << 2;
export const STATUS_LOCKE = 1 << 3;
export const STATUS_NVME = 1 << 4;
export const INTFLAG_READY = 1 << 0;
export const INTFLAG_ERROR = 1 << 1;
export const CTRLB_MANW = 1 << 7;

/** SAM D21's factory user row (first 8 bytes): BOOTPROT 7 (none), EEPROM 7, BOD33, WDT; all regions unlocked. */
export const FACTORY_USER_ROW = Uint8Array.of(0xff, 0xc7, 0xe0, 0xd8, 0x5d, 0xfc, 0xff, 0xff);

export interface SamdNvmOptions {
  flashSize: number;
  /** CTRLB.MANW after reset: manual page writes (WP commands), else a page is written when its last word is loaded. */
  manualWrite: boolean;
  /** The user row's first bytes (the rest reads erased). */
  userRow?: Uint8Array;
}

export class SamdNvm {
  readonly flash: Uint8Array;
  /** The auxiliary row holding the user row (256 bytes: one row, the user row is its first page). */
  readonly userRow = new Uint8Array(ROW_SIZE).fill(0xff);
  private readonly pageBuffer = new Uint8Array(PAGE_SIZE).fill(0xff);
  private ctrlb = 0;
  private addr = 0;
  private status = 0;
  private intflagError = 0;
  private lock = 0xffff;
  private busyUntil = 0;
  /** BOOTPROT as loaded at the last reset (7 = no boot section). */
  bootprot = 7;
  /** Every command executed, for tests. */
  readonly commands: Array<{ cmd: number; address: number }> = [];
  /** Fault injection: this flash byte reads back with bit 0 flipped (a bad cell). */
  corruptByteAt: number | undefined;

  constructor(
    private readonly clock: SwdClock,
    private readonly o: SamdNvmOptions,
  ) {
    this.flash = new Uint8Array(o.flashSize).fill(0xff);
    this.userRow.set(o.userRow ?? FACTORY_USER_ROW);
    this.reset();
  }

  get busy(): boolean {
    return this.clock.nowUs < this.busyUntil;
  }

  /** A system reset: registers to their reset values, fuses (BOOTPROT, LOCK) from the user row. */
  reset(): void {
    this.ctrlb = this.o.manualWrite ? CTRLB_MANW : 0;
    this.status = 0;
    this.intflagError = 0;
    this.bootprot = this.userRow[0]! & 7;
    this.lock = this.userRow[6]! | (this.userRow[7]! << 8);
    this.pageBuffer.fill(0xff);
  }

  /** Bytes of the boot section BOOTPROT protects. */
  get bootSize(): number {
    return this.bootprot === 7 ? 0 : (2 << (8 - this.bootprot)) * PAGE_SIZE;
  }

  private protectedAt(address: number): boolean {
    if (address < this.bootSize) return true;
    const region = Math.floor(address / (this.o.flashSize / 16));
    return (this.lock & (1 << region)) === 0;
  }

  private busyFor(us: number): void {
    this.busyUntil = this.clock.nowUs + us;
  }

  private error(bit: number): void {
    this.status |= bit;
    this.intflagError = INTFLAG_ERROR;
  }

  /** The DSU's chip erase: the whole main array, not the auxiliary rows; busy for `us`. */
  chipErase(us = CHIP_ERASE_US): void {
    this.flash.fill(0xff);
    this.busyFor(us);
  }

  private execute(v: number): void {
    if (((v >>> 8) & 0xff) !== CMDEX_KEY || this.busy) return this.error(STATUS_PROGE);
    const cmd = v & 0x7f;
    const address = (this.addr * 2) >>> 0;
    this.commands.push({ cmd, address });
    const inFlash = address < this.o.flashSize;
    const inUserRow = address >= USER_ROW && address < USER_ROW + ROW_SIZE;
    switch (cmd) {
      case NVM_CMD.ER: {
        if (!inFlash) return this.error(STATUS_PROGE);
        const row = address & ~(ROW_SIZE - 1);
        if (this.protectedAt(row)) return this.error(STATUS_LOCKE);
        this.flash.fill(0xff, row, row + ROW_SIZE);
        return this.busyFor(ROW_ERASE_US);
      }
      case NVM_CMD.WP:
      case NVM_CMD.WAP:
        return this.writePage(cmd, address);
      case NVM_CMD.EAR:
        if (!inUserRow) return this.error(STATUS_PROGE);
        this.userRow.fill(0xff);
        return this.busyFor(ROW_ERASE_US);
      case NVM_CMD.LR:
      case NVM_CMD.UR: {
        if (!inFlash) return this.error(STATUS_PROGE);
        const bit = 1 << Math.floor(address / (this.o.flashSize / 16));
        this.lock = cmd === NVM_CMD.UR ? this.lock | bit : this.lock & ~bit;
        return;
      }
      case NVM_CMD.PBC:
        this.pageBuffer.fill(0xff);
        this.status &= ~STATUS_LOAD;
        return;
      case NVM_CMD.SPRM:
      case NVM_CMD.CPRM:
      case NVM_CMD.INVALL:
        return;
      default:
        return this.error(STATUS_PROGE);
    }
  }

  private writePage(cmd: number, address: number): void {
    const page = address & ~(PAGE_SIZE - 1);
    const aux = page >= USER_ROW && page < USER_ROW + ROW_SIZE;
    if (cmd === NVM_CMD.WP ? page >= this.o.flashSize : !aux) return this.error(STATUS_PROGE);
    if (cmd === NVM_CMD.WP && this.protectedAt(page)) return this.error(STATUS_LOCKE);
    const target = aux ? this.userRow : this.flash;
    const at = aux ? page - USER_ROW : page;
    for (let i = 0; i < PAGE_SIZE; i++) target[at + i]! &= this.pageBuffer[i]!;
    this.pageBuffer.fill(0xff);
    this.status &= ~STATUS_LOAD;
    this.busyFor(PAGE_WRITE_US);
  }

  /** NVMCTRL's registers (at 0x41004000). */
  registers(): RegisterBlock {
    const r = new Map<number, Register>();
    r.set(0x00, { read: () => 0, write: (v, m) => m & 0xff00 && this.execute(v & 0xffff) }); // CTRLA
    r.set(0x04, {
      read: () => this.ctrlb,
      write: (v, m) => (this.ctrlb = (this.ctrlb & ~m) | (v & m & 0x000f039e)),
    });
    r.set(0x08, { read: () => (3 << 16) | (this.o.flashSize / PAGE_SIZE) }); // PARAM: PSZ 64 B, NVMP
    r.set(0x0c, storedRegister8()); // INTENCLR/INTENSET
    r.set(0x14, {
      read: () => (this.busy ? 0 : INTFLAG_READY) | this.intflagError,
      write: (v, m) => m & 0xff && v & INTFLAG_ERROR && (this.intflagError = 0),
    });
    r.set(0x18, {
      read: () => this.status,
      write: (v, m) =>
        m & 0xffff && (this.status &= ~(v & (STATUS_PROGE | STATUS_LOCKE | STATUS_NVME))),
    });
    r.set(0x1c, {
      read: () => this.addr,
      write: (v, m) => (this.addr = ((this.addr & ~m) | (v & m)) & 0xffffff),
    });
    r.set(0x20, { read: () => this.lock });
    return new RegisterBlock(r, false);
  }

  private flashLike(base: number, bytes: () => Uint8Array, size: number): BusDevice {
    return {
      read: (offset: number, s: AccessSize) => {
        if (offset % s || offset + s > size) return undefined;
        const v = readLe(bytes(), offset, s);
        const bad = (this.corruptByteAt ?? -1) - (base + offset);
        return base === 0 && bad >= 0 && bad < s ? (v ^ (1 << (8 * bad))) >>> 0 : v;
      },
      write: (offset: number, s: AccessSize, value: number) => {
        // the page buffer takes 16- and 32-bit writes; a byte write is a bus error
        if (s === 1 || offset % s || offset + s > size) return false;
        writeLe(this.pageBuffer, (base + offset) % PAGE_SIZE, s, value);
        this.addr = ((base + offset) >>> 1) & 0xffffff;
        this.status |= STATUS_LOAD;
        if (!(this.ctrlb & CTRLB_MANW) && (base + offset + s) % PAGE_SIZE === 0)
          this.writePage(base === 0 ? NVM_CMD.WP : NVM_CMD.WAP, base + offset);
        return true;
      },
      stalledUntil: () => this.busyUntil,
    };
  }

  /** The main array at 0x0. */
  flashDevice(): BusDevice {
    return this.flashLike(0, () => this.flash, this.o.flashSize);
  }

  /** The user row at 0x804000 (its 256-byte row; the other auxiliary rows are not modelled). */
  userRowDevice(): BusDevice {
    return this.flashLike(USER_ROW, () => this.userRow, ROW_SIZE);
  }
}

function storedRegister8(): Register {
  let v = 0;
  return { read: () => v, write: (x, m) => (v = (v & ~m) | (x & m)) };
}
