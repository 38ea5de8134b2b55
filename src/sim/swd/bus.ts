// The system bus a debugger reaches through the MEM-AP: regions of devices
// (flash, SRAM, peripherals, the core's debug registers, ROM tables) at
// their addresses. An address no region claims is a bus error, which the
// MEM-AP turns into a FAULT and a sticky error. A device may stall the bus
// (the SAM D's NVM while it programs): the access then completes later, and
// the debugger sees WAIT until it does. Pure, on the model's own time.

/** Access size in bytes. */
export type AccessSize = 1 | 2 | 4;

export interface BusDevice {
  /** The value of `size` bytes at `offset` (not lane-shifted); undefined = bus error. */
  read(offset: number, size: AccessSize): number | undefined;
  /** false = bus error. */
  write(offset: number, size: AccessSize, value: number): boolean;
  /** Until when (µs, the model's time) an access to `offset` is stalled; ≤ now = not stalled. */
  stalledUntil?(offset: number, write: boolean): number;
}

interface Region {
  base: number;
  size: number;
  device: BusDevice;
  name: string;
}

export class MemoryMap {
  private readonly regions: Region[] = [];

  /** Adds a region; later regions win where they overlap earlier ones. */
  map(name: string, base: number, size: number, device: BusDevice): this {
    this.regions.unshift({ name, base: base >>> 0, size, device });
    return this;
  }

  private find(address: number): Region | undefined {
    const a = address >>> 0;
    return this.regions.find((r) => a >= r.base && a - r.base < r.size);
  }

  read(address: number, size: AccessSize): number | undefined {
    const r = this.find(address);
    return r?.device.read((address >>> 0) - r.base, size);
  }

  write(address: number, size: AccessSize, value: number): boolean {
    const r = this.find(address);
    return r ? r.device.write((address >>> 0) - r.base, size, value) : false;
  }

  stalledUntil(address: number, write: boolean): number {
    const r = this.find(address);
    return r?.device.stalledUntil?.((address >>> 0) - r.base, write) ?? 0;
  }

  /** The region's name at an address (for logs and tests). */
  regionAt(address: number): string | undefined {
    return this.find(address)?.name;
  }
}

/** Little-endian read of `size` bytes from a byte array. */
export function readLe(b: Uint8Array, offset: number, size: AccessSize): number {
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = v * 256 + b[offset + i]!;
  return v >>> 0;
}

export function writeLe(b: Uint8Array, offset: number, size: AccessSize, value: number): void {
  for (let i = 0; i < size; i++) b[offset + i] = (value >>> (8 * i)) & 0xff;
}

/** Plain memory (SRAM): any size, naturally aligned. */
export class RamDevice implements BusDevice {
  readonly bytes: Uint8Array;
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
  }
  read(offset: number, size: AccessSize): number | undefined {
    return offset % size ? undefined : readLe(this.bytes, offset, size);
  }
  write(offset: number, size: AccessSize, value: number): boolean {
    if (offset % size) return false;
    writeLe(this.bytes, offset, size, value);
    return true;
  }
}

/**
 * A block of 32-bit registers: handlers by word offset, sub-word accesses
 * read the word and pick the bytes (writes merge into the word), the rest
 * of the block reads as zero and ignores writes (RAZ/WI) where `razWi`.
 */
export interface Register {
  read?(): number;
  /** `mask`: the bytes written (a byte or halfword access writes only its lanes). */
  write?(value: number, mask: number): void;
}

export class RegisterBlock implements BusDevice {
  constructor(
    private readonly regs: ReadonlyMap<number, Register>,
    private readonly razWi = false,
  ) {}

  read(offset: number, size: AccessSize): number | undefined {
    if (offset % size) return undefined;
    const word = offset & ~3;
    const r = this.regs.get(word);
    if (!r && !this.razWi) return undefined;
    const v = r?.read?.() ?? 0;
    const shift = 8 * (offset & 3);
    return size === 4 ? v >>> 0 : (v >>> shift) & (size === 1 ? 0xff : 0xffff);
  }

  write(offset: number, size: AccessSize, value: number): boolean {
    if (offset % size) return false;
    const word = offset & ~3;
    const r = this.regs.get(word);
    if (!r) return this.razWi;
    const shift = 8 * (offset & 3);
    const lanes = size === 4 ? 0xffffffff : ((size === 1 ? 0xff : 0xffff) << shift) >>> 0;
    r.write?.(((value << shift) & lanes) >>> 0, lanes);
    return true;
  }
}

/** A register that stores what is written (under `writable`). */
export function storedRegister(initial = 0, writable = 0xffffffff): Register & { value: number } {
  const reg = {
    value: initial >>> 0,
    read: () => reg.value,
    write: (v: number, mask: number) => {
      const m = (mask & writable) >>> 0;
      reg.value = ((reg.value & ~m) | (v & m)) >>> 0;
    },
  };
  return reg;
}
