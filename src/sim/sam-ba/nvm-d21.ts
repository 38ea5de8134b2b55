// The SAMD21 NVM controller (sam-ba.md §6) as a bus peripheral plus its
// flash. Stores into flash addresses fill the 64-byte page buffer and set
// ADDR to the stored word's address; with CTRLB.MANW clear the store to a
// page's last word writes the page by itself. CTRLA (key 0xA5) runs ER
// (erase the 256-byte row at ADDR), WP (program the buffer: bits only go
// from 1 to 0), PBC, LR/UR. READY drops for the command's time. A command
// on a row under BOOTPROT or in a locked region sets STATUS.LOCKE and
// INTFLAG.ERROR and changes nothing; a bad key or command sets PROGE.

import { ByteRegion, RegisterBlock, type Bus, type ChipTime, type Width } from "./bus.js";

export const D21_TIMING = { rowEraseMs: 2, pageWriteMs: 0.7 };
export const D21_NVM_BASE = 0x41004000;
export const D21_USER_ROW = 0x00804000;

export interface NvmD21Options {
  pages: number;
  /** Bytes at the start of flash protected by the BOOTPROT fuse (0: none). */
  bootprotBytes: number;
  time: ChipTime;
  timing?: typeof D21_TIMING;
  events?: (e: { type: string; [k: string]: unknown }) => void;
}

const PAGE = 64;
const ROW = 256;

export class NvmD21 {
  readonly flash: Uint8Array;
  private buffer = new Uint8Array(PAGE).fill(0xff);
  private ctrlb = 0;
  private addr = 0;
  private status = 0;
  private error = false;
  private readyAt = 0;
  lock = 0xffff;

  constructor(readonly o: NvmD21Options) {
    this.flash = new Uint8Array(o.pages * PAGE).fill(0xff);
  }

  private get timing() {
    return this.o.timing ?? D21_TIMING;
  }

  private ready(): boolean {
    if (this.o.time.now() < this.readyAt) this.o.time.advanceTo(this.readyAt);
    return this.o.time.now() >= this.readyAt;
  }

  map(bus: Bus): void {
    bus.add({
      name: "flash",
      base: 0,
      size: this.flash.length,
      read: (off: number, w: Width) => {
        let v = 0;
        for (let i = w - 1; i >= 0; i--) v = (v << 8) | this.flash[off + i]!;
        return v >>> 0;
      },
      write: (off: number, w: Width, value: number) => {
        for (let i = 0; i < w; i++) this.buffer[(off % PAGE) + i] = (value >>> (8 * i)) & 0xff;
        this.addr = (off >>> 1) & 0x3fffff;
        this.status |= 2; // LOAD
        if (!(this.ctrlb & 0x80) && off % PAGE === PAGE - 4) this.run(0x04);
      },
    });
    const user = new ByteRegion("user row", D21_USER_ROW, ROW, false, 0xff);
    // BOOTPROT (bits 2:0 of the first byte): 7 = none, 2 = 8 KiB, 1 = 16 KiB, …
    const bp = { 0: 7, 8192: 2, 16384: 1, 32768: 0 }[this.o.bootprotBytes] ?? 7;
    user.bytes[0] = 0xf8 | bp;
    bus.add(user);
    bus.add(
      new RegisterBlock("nvmctrl", D21_NVM_BASE, 0x24, {
        read: (off) => {
          switch (off) {
            case 0x04:
              return this.ctrlb;
            case 0x08:
              return (3 << 16) | this.o.pages; // PSZ 3: 64-byte pages
            case 0x14:
              return (this.ready() ? 1 : 0) | (this.error ? 2 : 0);
            case 0x18:
              return this.status;
            case 0x1c:
              return this.addr;
            case 0x20:
              return this.lock;
            default:
              return 0;
          }
        },
        write: (off, value, _w, mask) => {
          if (off === 0x00 && mask & 0xff00) this.command(value & 0xffff);
          else if (off === 0x04) this.ctrlb = ((this.ctrlb & ~mask) | value) >>> 0;
          else if (off === 0x14 && value & 2) this.error = false;
          else if (off === 0x18) this.status &= ~(value & 0x1e);
          else if (off === 0x1c) this.addr = ((this.addr & ~mask) | value) & 0x3fffff;
        },
      }),
    );
  }

  private fail(bit: number): void {
    this.status |= bit;
    this.error = true;
  }

  private command(v: number): void {
    if (v >>> 8 !== 0xa5) return this.fail(4); // PROGE
    if (!this.ready()) return this.fail(4);
    this.run(v & 0x7f);
  }

  private protectedAt(byteAddr: number): boolean {
    if (byteAddr < this.o.bootprotBytes) return true;
    const region = Math.floor(byteAddr / (this.flash.length / 16));
    return ((this.lock >> region) & 1) === 0;
  }

  private run(cmd: number): void {
    const at = this.addr * 2;
    this.o.events?.({ type: "nvm", cmd, addr: at });
    const t = this.timing;
    switch (cmd) {
      case 0x02: {
        // ER
        const row = at - (at % ROW);
        if (row >= this.flash.length) return this.fail(4);
        if (this.protectedAt(row)) return this.fail(8);
        this.flash.fill(0xff, row, row + ROW);
        this.readyAt = this.o.time.now() + t.rowEraseMs;
        return;
      }
      case 0x04: {
        // WP
        const page = at - (at % PAGE);
        if (page >= this.flash.length) return this.fail(4);
        if (this.protectedAt(page)) return this.fail(8);
        for (let i = 0; i < PAGE; i++)
          this.flash[page + i] = this.flash[page + i]! & this.buffer[i]!;
        this.buffer.fill(0xff);
        this.status &= ~2;
        this.readyAt = this.o.time.now() + t.pageWriteMs;
        return;
      }
      case 0x44: // PBC
        this.buffer.fill(0xff);
        this.status &= ~2;
        return;
      case 0x40: // LR
      case 0x41: {
        // UR
        const region = Math.floor(at / (this.flash.length / 16));
        this.lock = cmd === 0x40 ? this.lock & ~(1 << region) : this.lock | (1 << region);
        return;
      }
      case 0x05: // EAR, WAP, SSB: the user row and security stay as they are here
      case 0x06:
      case 0x45:
        return;
      default:
        return this.fail(4);
    }
  }
}
