// The Enhanced Embedded Flash Controller of the SAM3X/SAM4 (sam-ba.md §6)
// as a bus peripheral plus the flash it owns. Stores into a plane's flash
// addresses fill its page latch (by offset within the page); FCR commands
// (key 0x5A) then program the latch into page FARG (WP: bits can only go
// from 1 to 0; EWP erases first), erase the plane (EA) or 8 pages (EPA,
// SAM4), set/clear/read lock bits and GPNVM bits. FSR: FRDY drops for the
// command's time; FCMDE for a bad key, command or argument; FLOCKE for a
// write into a locked region. Both error bits clear when FSR is read.

import { RegisterBlock, type Bus, type ChipTime, type Region, type Width } from "./bus.js";

/** Command times (ms), near the SAM3X/SAM4 data sheets' typical values. */
export const EEFC_TIMING = { writePageMs: 1.5, erasePageMs: 1.5, eraseAllMs: 40, bitMs: 0.2 };

export const FSR = { FRDY: 1, FCMDE: 2, FLOCKE: 4 } as const;
export const FCMD = {
  GETD: 0x00,
  WP: 0x01,
  WPL: 0x02,
  EWP: 0x03,
  EWPL: 0x04,
  EA: 0x05,
  EPA: 0x07,
  SLB: 0x08,
  CLB: 0x09,
  GLB: 0x0a,
  SGPB: 0x0b,
  CGPB: 0x0c,
  GGPB: 0x0d,
} as const;

export interface EefcPlaneOptions {
  /** Register base (0x400E0A00; plane 1 at +0x200). */
  regs: number;
  /** First flash byte of the plane. */
  flashBase: number;
  pages: number;
  pageSize: number;
  lockRegions: number;
  /** The GPNVM bits (shared by the planes; only plane 0 has the commands). */
  gpnvm: { bits: number; count: number };
  time: ChipTime;
  timing?: typeof EEFC_TIMING;
  events?: (e: { type: string; [k: string]: unknown }) => void;
}

/** One EEFC plane: its flash bytes, latch, registers. */
export class EefcPlane {
  readonly flash: Uint8Array;
  private latch: Uint8Array;
  private readyAt = 0;
  private fsrErrors = 0;
  private frr: number[] = [];
  private fmr = 0;
  locks = 0n;

  constructor(readonly o: EefcPlaneOptions) {
    this.flash = new Uint8Array(o.pages * o.pageSize).fill(0xff);
    this.latch = new Uint8Array(o.pageSize).fill(0xff);
  }

  get timing(): typeof EEFC_TIMING {
    return this.o.timing ?? EEFC_TIMING;
  }

  /** The flash as the bus sees it: reads give the array, stores fill the latch. */
  flashRegion(): Region {
    return {
      name: "flash",
      base: this.o.flashBase,
      size: this.flash.length,
      read: (off: number, w: Width) => {
        let v = 0;
        for (let i = w - 1; i >= 0; i--) v = (v << 8) | this.flash[off + i]!;
        return v >>> 0;
      },
      write: (off: number, w: Width, value: number) => {
        const at = off % this.o.pageSize;
        for (let i = 0; i < w; i++) this.latch[at + i] = (value >>> (8 * i)) & 0xff;
      },
    };
  }

  registers(): Region {
    return new RegisterBlock("eefc", this.o.regs, 0x10, {
      read: (off) => {
        switch (off) {
          case 0x00:
            return this.fmr;
          case 0x08: {
            if (this.o.time.now() < this.readyAt) this.o.time.advanceTo(this.readyAt);
            const ready = this.o.time.now() >= this.readyAt ? FSR.FRDY : 0;
            const v = ready | this.fsrErrors;
            this.fsrErrors = 0;
            return v;
          }
          case 0x0c:
            return this.frr.shift() ?? 0;
          default:
            return 0;
        }
      },
      write: (off, value, _w, mask) => {
        if (off === 0x00) this.fmr = ((this.fmr & ~mask) | value) >>> 0;
        if (off === 0x04) this.command(value);
      },
    });
  }

  private busy(ms: number): void {
    this.readyAt = this.o.time.now() + ms;
  }

  private page(n: number): [number, number] {
    return [n * this.o.pageSize, (n + 1) * this.o.pageSize];
  }

  private locked(page: number): boolean {
    const region = Math.floor(page / (this.o.pages / this.o.lockRegions));
    return ((this.locks >> BigInt(region)) & 1n) === 1n;
  }

  private command(fcr: number): void {
    const key = fcr >>> 24;
    const cmd = fcr & 0xff;
    const arg = (fcr >>> 8) & 0xffff;
    if (this.o.time.now() < this.readyAt) {
      this.fsrErrors |= FSR.FCMDE; // a command while busy is refused
      return;
    }
    if (key !== 0x5a) {
      this.fsrErrors |= FSR.FCMDE;
      return;
    }
    this.o.events?.({ type: "eefc", cmd, arg, regs: this.o.regs });
    const t = this.timing;
    switch (cmd) {
      case FCMD.WP:
      case FCMD.EWP:
      case FCMD.WPL:
      case FCMD.EWPL: {
        if (arg >= this.o.pages) return void (this.fsrErrors |= FSR.FCMDE);
        if (this.locked(arg)) {
          this.fsrErrors |= FSR.FLOCKE;
          this.latch.fill(0xff);
          return;
        }
        const [a, b] = this.page(arg);
        if (cmd === FCMD.EWP || cmd === FCMD.EWPL) this.flash.fill(0xff, a, b);
        for (let i = a; i < b; i++) this.flash[i] = this.flash[i]! & this.latch[i - a]!;
        this.latch.fill(0xff);
        return this.busy(
          t.writePageMs + (cmd === FCMD.EWP || cmd === FCMD.EWPL ? t.erasePageMs : 0),
        );
      }
      case FCMD.EA:
        if (this.locks !== 0n) return void (this.fsrErrors |= FSR.FLOCKE);
        this.flash.fill(0xff);
        return this.busy(t.eraseAllMs);
      case FCMD.EPA: {
        const size = 4 << (arg & 3); // 4, 8, 16 or 32 pages
        const first = arg & ~3 & ~(size - 1);
        if ((arg & 3) === 0 || first >= this.o.pages) return void (this.fsrErrors |= FSR.FCMDE);
        this.flash.fill(0xff, first * this.o.pageSize, (first + size) * this.o.pageSize);
        return this.busy(t.erasePageMs * 2);
      }
      case FCMD.SLB:
      case FCMD.CLB: {
        const region = Math.floor(arg / (this.o.pages / this.o.lockRegions));
        if (arg >= this.o.pages) return void (this.fsrErrors |= FSR.FCMDE);
        this.locks =
          cmd === FCMD.SLB
            ? this.locks | (1n << BigInt(region))
            : this.locks & ~(1n << BigInt(region));
        return this.busy(t.bitMs);
      }
      case FCMD.GLB: {
        this.frr = [];
        for (let i = 0; i < this.o.lockRegions; i += 32)
          this.frr.push(Number((this.locks >> BigInt(i)) & 0xffffffffn) >>> 0);
        return this.busy(t.bitMs);
      }
      case FCMD.SGPB:
      case FCMD.CGPB:
        if (arg >= this.o.gpnvm.count) return void (this.fsrErrors |= FSR.FCMDE);
        this.o.gpnvm.bits =
          cmd === FCMD.SGPB ? this.o.gpnvm.bits | (1 << arg) : this.o.gpnvm.bits & ~(1 << arg);
        return this.busy(t.bitMs);
      case FCMD.GGPB:
        this.frr = [this.o.gpnvm.bits];
        return this.busy(t.bitMs);
      case FCMD.GETD:
        this.frr = [0];
        return this.busy(t.bitMs);
      default:
        this.fsrErrors |= FSR.FCMDE;
    }
  }
}

/** Maps the planes' flash and registers onto the bus. */
export function mapEefc(bus: Bus, planes: readonly EefcPlane[]): void {
  for (const p of planes) bus.add(p.flashRegion()).add(p.registers());
}
