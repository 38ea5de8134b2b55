// The memory an STM32 ROM bootloader reads and writes, for the model: the
// flash (NOR: erase sets a unit to 0xFF; F1 programs half-words and refuses
// one that is not erased, F4 programs words and only clears bits), the
// system memory with the flash-size register, the 16 option bytes (readout
// and write protection), and SRAM, whose first bytes belong to the ROM.

import type { Stm32Part } from "../../bootloaders/stm32-usart/parts.js";
import { eraseUnits, type EraseUnit } from "../../bootloaders/stm32-usart/parts.js";

/** Flash timing of a part (datasheet typical values), ms. */
export interface Stm32FlashTiming {
  /** Erasing one unit of `size` bytes. */
  eraseUnitMs(size: number): number;
  massEraseMs: number;
  /** Programming `bytes` bytes. */
  programMs(bytes: number): number;
}

/** STM32F103: page erase 20 ms, mass erase 20 ms, 52.5 µs per half-word. */
export const F1_TIMING: Stm32FlashTiming = {
  eraseUnitMs: () => 20,
  massEraseMs: 20,
  programMs: (n) => (n / 2) * 0.0525,
};

/** STM32F407 at x32 parallelism: 16 KiB 250 ms, 64 KiB 550 ms, 128 KiB 1 s, mass 8 s, 16 µs per word. */
export const F4_TIMING: Stm32FlashTiming = {
  eraseUnitMs: (size) => (size <= 16384 ? 250 : size <= 65536 ? 550 : 1000),
  massEraseMs: 8000,
  programMs: (n) => (n / 4) * 0.016,
};

export type Access = "read" | "write";

export interface Stm32MemoryOptions {
  part: Stm32Part;
  /** The part's own flash (≤ the id's largest). */
  flashSize: number;
  timing: Stm32FlashTiming;
  readoutProtected?: boolean;
  /** Write-protected erase units (by index). */
  writeProtected?: readonly number[];
  /** Initial flash contents from the flash start. */
  initial?: Uint8Array;
}

export class Stm32Memory {
  readonly part: Stm32Part;
  readonly flash: Uint8Array;
  readonly units: EraseUnit[];
  readonly system: Uint8Array;
  readonly ram: Uint8Array;
  readoutProtected: boolean;
  writeProtected: Set<number>;
  /** Statistics: units erased, bytes programmed. */
  erased = 0;
  programmed = 0;

  constructor(readonly o: Stm32MemoryOptions) {
    this.part = o.part;
    this.flash = new Uint8Array(o.flashSize).fill(0xff);
    if (o.initial) this.flash.set(o.initial.subarray(0, o.flashSize));
    this.units = eraseUnits(o.part, o.flashSize);
    this.system = new Uint8Array(o.part.systemMemory.end - o.part.systemMemory.start).fill(0xff);
    const kib = o.flashSize / 1024;
    const reg = o.part.flashSizeRegister - o.part.systemMemory.start;
    if (reg >= 0 && reg + 2 <= this.system.length) {
      this.system[reg] = kib & 0xff;
      this.system[reg + 1] = kib >>> 8;
    }
    this.ram = new Uint8Array(o.part.ram.end - o.part.ram.start);
    this.readoutProtected = !!o.readoutProtected;
    this.writeProtected = new Set();
    for (const u of o.writeProtected ?? []) this.protect(u);
  }

  /** The option-byte bit that protects unit `u` (F1: 4 KiB per bit, the last bit the rest; F4: one per sector). */
  private wrpBit(u: number): number {
    if (this.part.wrp !== "f1") return u;
    return Math.min(31, Math.floor((u * this.units[0]!.size) / 4096));
  }

  /** Write-protects unit `u` — on F1 with the other units of its protection bit. */
  protect(u: number): void {
    const bit = this.wrpBit(u);
    for (const x of this.units) if (this.wrpBit(x.index) === bit) this.writeProtected.add(x.index);
  }

  get flashStart(): number {
    return this.part.flashBase;
  }

  get flashEnd(): number {
    return this.part.flashBase + this.flash.length;
  }

  inFlash(a: number, n = 1): boolean {
    return a >= this.flashStart && a + n <= this.flashEnd;
  }

  private inRam(a: number, n: number, access: Access): boolean {
    const lo = access === "write" ? this.part.ram.romReservedEnd : this.part.ram.start;
    return a >= lo && a + n <= this.part.ram.end;
  }

  private inSystem(a: number, n: number): boolean {
    return a >= this.part.systemMemory.start && a + n <= this.part.systemMemory.end;
  }

  private inOptions(a: number, n: number): boolean {
    return a >= this.part.optionBytes && a + n <= this.part.optionBytes + 16;
  }

  /** May the ROM read (or write) [a, a+n)? Option bytes are read-only in this model. */
  accessible(a: number, n: number, access: Access): boolean {
    if (this.inFlash(a, n) || this.inRam(a, n, access)) return true;
    return access === "read" && (this.inSystem(a, n) || this.inOptions(a, n));
  }

  /** The 16 option bytes as the chip reads them (protection state included). */
  optionBytes(): Uint8Array {
    const ob = new Uint8Array(16).fill(0xff);
    if (this.part.wrp === "f1") {
      ob[0] = this.readoutProtected ? 0x00 : 0xa5;
      ob[1] = ~ob[0] & 0xff;
      ob[3] = 0x00;
      let bits = 0xffffffff;
      for (const u of this.writeProtected) bits &= ~(1 << this.wrpBit(u));
      for (let i = 0; i < 4; i++) {
        ob[8 + i * 2] = (bits >>> (8 * i)) & 0xff;
        ob[9 + i * 2] = ~ob[8 + i * 2]! & 0xff;
      }
      for (const i of [5, 7]) ob[i] = 0x00;
    } else {
      ob[0] = 0xec;
      ob[1] = this.readoutProtected ? 0x55 : 0xaa;
      let nwrp = 0x0fff;
      for (const u of this.writeProtected) nwrp &= ~(1 << u);
      ob[8] = nwrp & 0xff;
      ob[9] = nwrp >>> 8;
    }
    return ob;
  }

  read(a: number, n: number): Uint8Array {
    if (this.inFlash(a, n)) return this.flash.slice(a - this.flashStart, a - this.flashStart + n);
    if (this.inOptions(a, n))
      return this.optionBytes().slice(a - this.part.optionBytes, a - this.part.optionBytes + n);
    if (this.inSystem(a, n))
      return this.system.slice(
        a - this.part.systemMemory.start,
        a - this.part.systemMemory.start + n,
      );
    return this.ram.slice(a - this.part.ram.start, a - this.part.ram.start + n);
  }

  unitAt(a: number): EraseUnit | undefined {
    return this.units.find((u) => a >= u.start && a < u.start + u.size);
  }

  /** Erases a unit; returns its time, or undefined when it is write-protected or does not exist. */
  eraseUnit(index: number): number | undefined {
    const u = this.units.find((x) => x.index === index);
    if (!u || this.writeProtected.has(index)) return undefined;
    this.flash.fill(0xff, u.start - this.flashStart, u.start - this.flashStart + u.size);
    this.erased++;
    return this.o.timing.eraseUnitMs(u.size);
  }

  massErase(): number {
    this.flash.fill(0xff);
    this.erased += this.units.length;
    return this.o.timing.massEraseMs;
  }

  /**
   * Writes bytes as the ROM does; returns the programming time, or a reason
   * it failed ("protected", "not erased": an F1 half-word must be 0xFFFF
   * before it is programmed, unless it is written to 0).
   */
  write(a: number, data: Uint8Array): { ms: number } | { error: string } {
    if (!this.inFlash(a, data.length)) {
      this.ram.set(data, a - this.part.ram.start);
      return { ms: 0 };
    }
    for (let i = 0; i < data.length; i++) {
      const u = this.unitAt(a + i);
      if (u && this.writeProtected.has(u.index)) return { error: "protected" };
    }
    const o = a - this.flashStart;
    if (this.part.wrp === "f1") {
      for (let i = 0; i < data.length; i += 2) {
        const cur = this.flash[o + i]! | (this.flash[o + i + 1]! << 8);
        const val = data[i]! | ((data[i + 1] ?? 0xff) << 8);
        if (cur !== 0xffff && val !== 0) return { error: "not erased" };
      }
    }
    for (let i = 0; i < data.length; i++) this.flash[o + i]! &= data[i]!;
    this.programmed += data.length;
    return { ms: this.o.timing.programMs(data.length) };
  }
}
