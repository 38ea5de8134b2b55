// Simulated MCU flash for device models: NOR semantics (erase sets a whole
// erase unit to 0xFF, programming can only clear bits), a layout of erase
// units, and Katapult's per-family block-write rules (katapult.md §6), each
// returning how long the CPU is stalled so the device model can block its
// interrupts meanwhile.

export interface FlashLayout {
  /** First flash address. */
  readonly base: number;
  readonly size: number;
  /** Start and size of the erase unit holding `address`. */
  unitAt(address: number): { start: number; size: number };
}

/** Flash with equal erase units (STM32F0/F1/G0/G4 pages, RP2040 sectors). */
export function uniformLayout(base: number, size: number, unit: number): FlashLayout {
  return {
    base,
    size,
    unitAt(address) {
      const start = base + Math.floor((address - base) / unit) * unit;
      return { start, size: unit };
    },
  };
}

/** STM32F2/F4 sectors: 4 × 16 KiB, 64 KiB, then 128 KiB. */
export function stm32f4Layout(base: number, size: number): FlashLayout {
  return {
    base,
    size,
    unitAt(address) {
      const off = address - base;
      if (off < 0x10000) return { start: base + Math.floor(off / 0x4000) * 0x4000, size: 0x4000 };
      if (off < 0x20000) return { start: base + 0x10000, size: 0x10000 };
      return {
        start: base + 0x20000 + Math.floor((off - 0x20000) / 0x20000) * 0x20000,
        size: 0x20000,
      };
    },
  };
}

/** LPC176x sectors: 4 KiB below 0x10000, 32 KiB above. */
export function lpc176xLayout(size: number): FlashLayout {
  return {
    base: 0,
    size,
    unitAt(address) {
      if (address < 0x10000) return { start: Math.floor(address / 0x1000) * 0x1000, size: 0x1000 };
      return { start: 0x10000 + Math.floor((address - 0x10000) / 0x8000) * 0x8000, size: 0x8000 };
    },
  };
}

export interface FlashTiming {
  /** CPU stall for erasing one unit, in ms (may depend on its size). */
  eraseMs(unitSize: number): number;
  /** CPU stall for programming one Katapult block, in ms. */
  writeBlockMs: number;
}

/** STM32G0B1-like: 2 KiB pages erased in ~20 ms, a 64-byte block programmed in ~0.7 ms. */
export const STM32G0_TIMING: FlashTiming = { eraseMs: () => 20, writeBlockMs: 0.7 };

/** RP2040 with a W25Q-class QSPI chip: a 4 KiB sector erased in ~45 ms, a 256-byte page in ~0.8 ms. */
export const RP2040_TIMING: FlashTiming = { eraseMs: () => 45, writeBlockMs: 0.2 };

export class SimFlash {
  readonly mem: Uint8Array;
  erases = 0;
  programmedBytes = 0;
  /** Total CPU stall spent in erase/program, ms. */
  busyMs = 0;

  constructor(
    readonly layout: FlashLayout,
    readonly timing: FlashTiming,
    initial?: Uint8Array,
  ) {
    this.mem = new Uint8Array(layout.size).fill(0xff);
    if (initial) this.mem.set(initial.subarray(0, layout.size));
  }

  contains(address: number, length: number): boolean {
    return address >= this.layout.base && address + length <= this.layout.base + this.layout.size;
  }

  /** Memory-mapped read; outside flash reads as zero (a real part would fault; see read-block handling). */
  read(address: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) {
      const a = address + i - this.layout.base;
      out[i] = a >= 0 && a < this.mem.length ? this.mem[a]! : 0;
    }
    return out;
  }

  isErased(address: number, length: number): boolean {
    const o = address - this.layout.base;
    for (let i = 0; i < length; i++) if (this.mem[o + i] !== 0xff) return false;
    return true;
  }

  equals(address: number, data: Uint8Array): boolean {
    const o = address - this.layout.base;
    for (let i = 0; i < data.length; i++) if (this.mem[o + i] !== data[i]) return false;
    return true;
  }

  /** Erases the unit starting at `start`; returns its duration in ms. */
  eraseUnit(start: number): number {
    const { size } = this.layout.unitAt(start);
    this.mem.fill(0xff, start - this.layout.base, start - this.layout.base + size);
    this.erases++;
    const ms = this.timing.eraseMs(size);
    this.busyMs += ms;
    return ms;
  }

  /** Programs bytes (NOR: bits only go from 1 to 0). Returns the duration in ms for `blocks` blocks. */
  program(address: number, data: Uint8Array, blocks = 1): number {
    const o = address - this.layout.base;
    for (let i = 0; i < data.length; i++) this.mem[o + i]! &= data[i]!;
    this.programmedBytes += data.length;
    const ms = this.timing.writeBlockMs * blocks;
    this.busyMs += ms;
    return ms;
  }
}

/**
 * The result of a block write as the firmware reports it, with its timing:
 * on STM32 an erase stalls the whole CPU (code runs from the flash being
 * erased, so not even the receive interrupt runs); programming keeps the main
 * loop busy but interrupts get through between the short per-word stalls. On
 * RP2040 (code in RAM) both only keep the main loop busy; on LPC176x (IAP
 * called with interrupts disabled) both stall the CPU.
 */
export interface WriteOutcome {
  /** 0 = ok; negative = the firmware's error code (the device answers COMMAND_ERROR). */
  code: number;
  /** Whole-CPU stall (an STM32 or LPC176x erase), ms. */
  stallMs: number;
  /** Main loop busy with interrupts running (programming; an RP2040 erase), ms. */
  busyMs: number;
}

/** A Katapult target's flash_write_block / flash_complete pair. */
export interface KatapultFlashDriver {
  writeBlock(address: number, data: Uint8Array): WriteOutcome;
  /** SEND_EOF: flushes buffers; returns the page count or a negative error. */
  complete(): WriteOutcome & { pages: number };
}

/** STM32 rules (src/stm32/flash.c): erase at a unit's first block unless blank or a retransmit. */
export function stm32Driver(flash: SimFlash, blockSize: number): KatapultFlashDriver {
  let pageWriteCount = 0;
  return {
    writeBlock(address, data) {
      if (address % blockSize !== 0) return { code: -1, stallMs: 0, busyMs: 0 };
      if (!flash.contains(address, blockSize)) return { code: -3, stallMs: 0, busyMs: 0 }; // a real part faults; report an error
      const unit = flash.layout.unitAt(address);
      let stallMs = 0;
      let needErase = false;
      if (unit.start === address) {
        if (flash.isErased(address, unit.size)) {
          // already blank
        } else if (
          flash.equals(address, data) &&
          flash.isErased(address + blockSize, unit.size - blockSize)
        ) {
          return { code: 0, stallMs: 0, busyMs: 0 }; // retransmitted block
        } else {
          needErase = true;
        }
        pageWriteCount++;
      } else if (!flash.isErased(address, blockSize)) {
        if (flash.equals(address, data)) return { code: 0, stallMs: 0, busyMs: 0 }; // retransmitted block
        return { code: -2, stallMs: 0, busyMs: 0 }; // not erased: out-of-order write
      }
      if (needErase) stallMs += flash.eraseUnit(unit.start);
      const busyMs = flash.program(address, data);
      if (!flash.equals(address, data)) return { code: -3, stallMs, busyMs };
      return { code: 0, stallMs, busyMs };
    },
    complete() {
      return { code: 0, stallMs: 0, busyMs: 0, pages: pageWriteCount };
    },
  };
}

const IAP_CHUNK = 256;

/** LPC176x rules (src/lpc176x/flash.c): blocks gathered into 256-byte chunks that must be filled in order. */
export function lpc176xDriver(flash: SimFlash, blockSize: number): KatapultFlashDriver {
  let nextAddress = 0;
  let pageWriteCount = 0;
  const buf = new Uint8Array(IAP_CHUNK).fill(0xff);
  // Every IAP call (prepare, erase, write) runs with interrupts disabled
  // (flash.c's call_iap): erase and programming both stall the whole CPU.
  const writeChunk = (start: number): WriteOutcome => {
    let stallMs = 0;
    const unit = flash.layout.unitAt(start);
    if (unit.start === start) {
      pageWriteCount++;
      if (!flash.isErased(start, unit.size) && !flash.equals(start, buf))
        stallMs += flash.eraseUnit(start);
    }
    if (!flash.equals(start, buf)) stallMs += flash.program(start, buf, IAP_CHUNK / blockSize);
    return { code: flash.equals(start, buf) ? 0 : -3, stallMs, busyMs: 0 };
  };
  return {
    writeBlock(address, data) {
      if (address % blockSize !== 0) return { code: -1, stallMs: 0, busyMs: 0 };
      if (address !== nextAddress) {
        if ((address | nextAddress) % IAP_CHUNK !== 0) return { code: -2, stallMs: 0, busyMs: 0 };
        nextAddress = address;
      }
      const idx = address % IAP_CHUNK;
      buf.set(data, idx);
      let out: WriteOutcome = { code: 0, stallMs: 0, busyMs: 0 };
      if (idx === IAP_CHUNK - blockSize) {
        out = writeChunk(address - idx);
        buf.fill(0xff);
      }
      nextAddress += blockSize;
      return out;
    },
    complete() {
      const idx = nextAddress % IAP_CHUNK;
      if (idx) {
        buf.fill(0xff, idx);
        const out = writeChunk(nextAddress - idx);
        buf.fill(0xff);
        if (out.code < 0) return { ...out, pages: 0 };
        return { ...out, pages: pageWriteCount };
      }
      return { code: 0, stallMs: 0, busyMs: 0, pages: pageWriteCount };
    },
  };
}

const RP2040_PAGE = 256;
const RP2040_SECTOR = 4096;

/**
 * RP2040/RP2350 rules (src/rp2040/flash.c): blocks gather in a 256-byte RAM
 * page; the page is programmed when a block for another page arrives or at
 * EOF, after erasing its 4 KiB sector when the page starts one. A block sent
 * again after its page was flushed re-programs that page without an erase.
 */
export function rp2040Driver(flash: SimFlash, blockSize: number): KatapultFlashDriver {
  const pageSize = Math.max(blockSize, RP2040_PAGE);
  const page = new Uint8Array(pageSize).fill(0xff);
  let pageStart = -1;
  let pageWriteCount = 0;
  // Katapult's RP2040 build runs all its code and its vector table from RAM
  // (rpxxxx_link.lds.S) and calls the ROM erase/program with interrupts on:
  // the main loop waits, the CAN (can2040) and USB interrupts keep filling the
  // receive buffer. Busy, not a whole-CPU stall.
  const flush = (): WriteOutcome => {
    if (pageStart < 0) return { code: 0, stallMs: 0, busyMs: 0 };
    let busyMs = 0;
    if ((pageStart - flash.layout.base) % RP2040_SECTOR === 0) busyMs += flash.eraseUnit(pageStart);
    busyMs += flash.program(pageStart, page, pageSize / blockSize);
    pageWriteCount++;
    pageStart = -1;
    return { code: 0, stallMs: 0, busyMs };
  };
  return {
    writeBlock(address, data) {
      if (address % blockSize !== 0) return { code: -1, stallMs: 0, busyMs: 0 };
      if (address < flash.layout.base) return { code: -2, stallMs: 0, busyMs: 0 };
      if (!flash.contains(address, blockSize)) return { code: -3, stallMs: 0, busyMs: 0 };
      let out: WriteOutcome = { code: 0, stallMs: 0, busyMs: 0 };
      if (pageStart >= 0 && !(address >= pageStart && address + blockSize <= pageStart + pageSize))
        out = flush();
      if (pageStart < 0) {
        pageStart = Math.floor(address / pageSize) * pageSize;
        page.fill(0xff);
      }
      page.set(data, address - pageStart);
      return out;
    },
    complete() {
      return { ...flush(), pages: pageWriteCount };
    },
  };
}
