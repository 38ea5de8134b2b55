// The SAMD51/SAME5x NVM controller (sam-ba.md §6) as a bus peripheral plus
// its flash. Stores into flash addresses fill the 512-byte page buffer and
// set ADDR (a byte address). CTRLB (key 0xA5) runs EB (erase the 8 KiB block
// at ADDR), WP (program the page buffer to the page at ADDR), WQW (program
// the 16 bytes at ADDR), PBC, LR/UR; bits only go from 1 to 0. STATUS.READY
// drops for the command's time. A command on a block under BOOTPROT or a
// locked region sets INTFLAG.LOCKE; a bad key, command or address PROGE or
// ADDRE (bossac's error mask 0xCE). 16-bit registers take byte accesses.

import { ByteRegion, RegisterBlock, type Bus, type ChipTime, type Width } from "./bus.js";

export const D51_TIMING = { blockEraseMs: 5, pageWriteMs: 2.5, quadWriteMs: 0.12 };
export const D51_NVM_BASE = 0x41004000;
export const D51_USER_PAGE = 0x00804000;

export interface NvmD51Options {
  pages: number;
  /** Bytes at the start of flash protected by the BOOTPROT fuse (UF2 sets 16 KiB). */
  bootprotBytes: number;
  time: ChipTime;
  timing?: typeof D51_TIMING;
  events?: (e: { type: string; [k: string]: unknown }) => void;
}

const PAGE = 512;
const BLOCK = 8192;
const INT = { DONE: 1, ADDRE: 2, PROGE: 4, LOCKE: 8, NVME: 0x40 } as const;

export class NvmD51 {
  readonly flash: Uint8Array;
  private buffer = new Uint8Array(PAGE).fill(0xff);
  private ctrla = 0x0004;
  private addr = 0;
  private intflag = 0;
  private readyAt = 0;
  private runlock = 0xffffffff;

  constructor(readonly o: NvmD51Options) {
    this.flash = new Uint8Array(o.pages * PAGE).fill(0xff);
  }

  private get timing() {
    return this.o.timing ?? D51_TIMING;
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
        this.addr = off;
      },
    });
    const user = new ByteRegion("user page", D51_USER_PAGE, PAGE, false, 0xff);
    // BOOTPROT: bits 29:26 of the first word, 15 - size / 8 KiB (13 = 16 KiB, as uf2-samdx1 sets)
    const bp = 15 - Math.floor(this.o.bootprotBytes / 8192);
    new DataView(user.bytes.buffer).setUint32(0, (0xc3ffffff | (bp << 26)) >>> 0, true);
    bus.add(user);
    bus.add(
      new RegisterBlock("nvmctrl", D51_NVM_BASE, 0x20, {
        read: (off) => {
          switch (off) {
            case 0x00:
              return this.ctrla;
            case 0x08:
              return (6 << 16) | this.o.pages; // PSZ 6: 512-byte pages
            case 0x10:
              // INTFLAG (16 bits) | STATUS (16 bits at 0x12): READY
              return this.intflag | ((this.ready() ? 1 : 0) << 16);
            case 0x14:
              return this.addr;
            case 0x18:
              return this.runlock;
            default:
              return 0;
          }
        },
        write: (off, value, _w, mask) => {
          if (off === 0x00) this.ctrla = ((this.ctrla & ~mask) | value) & 0xffff;
          else if (off === 0x04 && mask & 0xff00) this.command(value & 0xffff);
          else if (off === 0x10) this.intflag &= ~(value & mask & 0xffff);
          else if (off === 0x14) this.addr = ((this.addr & ~mask) | value) >>> 0;
        },
      }),
    );
  }

  private fail(bit: number): void {
    this.intflag |= bit;
  }

  private protectedAt(byteAddr: number): boolean {
    if (byteAddr < this.o.bootprotBytes) return true;
    const region = Math.floor(byteAddr / (this.flash.length / 32));
    return ((this.runlock >>> region) & 1) === 0;
  }

  private command(v: number): void {
    if (v >>> 8 !== 0xa5) return this.fail(INT.PROGE);
    if (!this.ready()) return this.fail(INT.PROGE);
    const cmd = v & 0x7f;
    const at = this.addr;
    this.o.events?.({ type: "nvm", cmd, addr: at });
    const t = this.timing;
    const inFlash = at < this.flash.length;
    switch (cmd) {
      case 0x01: {
        // EB
        if (!inFlash) return this.fail(INT.ADDRE);
        const block = at - (at % BLOCK);
        if (this.protectedAt(block)) return this.fail(INT.LOCKE);
        this.flash.fill(0xff, block, block + BLOCK);
        this.readyAt = this.o.time.now() + t.blockEraseMs;
        break;
      }
      case 0x03:
      case 0x04: {
        // WP, WQW
        if (!inFlash) return this.fail(INT.ADDRE);
        const size = cmd === 0x03 ? PAGE : 16;
        const start = at - (at % size);
        if (this.protectedAt(start)) return this.fail(INT.LOCKE);
        const off = start % PAGE;
        for (let i = 0; i < size; i++)
          this.flash[start + i] = this.flash[start + i]! & this.buffer[off + i]!;
        this.buffer.fill(0xff, off, off + size);
        this.readyAt = this.o.time.now() + (cmd === 0x03 ? t.pageWriteMs : t.quadWriteMs);
        break;
      }
      case 0x15: // PBC
        this.buffer.fill(0xff);
        break;
      case 0x11: // LR
      case 0x12: {
        // UR
        const region = Math.floor(at / (this.flash.length / 32));
        this.runlock =
          (cmd === 0x11 ? this.runlock & ~(1 << region) : this.runlock | (1 << region)) >>> 0;
        break;
      }
      case 0x00: // EP (user page only), SSB: left as they are here
      case 0x16:
        break;
      default:
        return this.fail(INT.PROGE);
    }
    this.intflag |= INT.DONE;
  }
}
