// The address space of a simulated SAM chip as its CPU sees it: RAM and
// flash as bytes, ROM, and memory-mapped peripherals (EEFC, NVMCTRL, CHIPID,
// DSU, SCB, RSTC) with their own read/write behaviour. An access outside
// every region is a bus fault: on the real chip the monitor's C code then
// takes a HardFault and never answers again, which the models reproduce.
// Peripherals see the chip's time through `ChipTime`, which runs ahead of the
// wall clock while an applet runs (its CPU time is charged afterwards).

export type Width = 1 | 2 | 4;

export class BusFault extends Error {
  constructor(
    readonly address: number,
    readonly access: "read" | "write" | "fetch",
    readonly width: Width,
  ) {
    super(`bus fault: ${access} of ${width} bytes at 0x${(address >>> 0).toString(16)}`);
  }
}

export interface Region {
  readonly name: string;
  readonly base: number;
  readonly size: number;
  read(offset: number, width: Width): number;
  write(offset: number, width: Width, value: number): void;
}

/** The chip's notion of now: the wall clock, plus the CPU time an applet has used so far. */
export interface ChipTime {
  now(): number;
  /** While an applet spins on a busy flag: let its CPU time run on to `t` (no-op outside applets). */
  advanceTo(t: number): void;
}

/** Plain memory (RAM, or a ROM that ignores writes). */
export class ByteRegion implements Region {
  readonly bytes: Uint8Array;

  constructor(
    readonly name: string,
    readonly base: number,
    readonly size: number,
    private readonly writable = true,
    fill = 0,
  ) {
    this.bytes = new Uint8Array(size).fill(fill);
  }

  read(o: number, w: Width): number {
    let v = 0;
    for (let i = w - 1; i >= 0; i--) v = (v << 8) | this.bytes[o + i]!;
    return v >>> 0;
  }

  write(o: number, w: Width, value: number): void {
    if (!this.writable) return;
    for (let i = 0; i < w; i++) this.bytes[o + i] = (value >>> (8 * i)) & 0xff;
  }
}

/** A block of 32-bit registers; unknown offsets read as 0 and ignore writes (reserved). */
export class RegisterBlock implements Region {
  constructor(
    readonly name: string,
    readonly base: number,
    readonly size: number,
    private readonly regs: {
      read?: (offset: number) => number;
      write?: (offset: number, value: number, width: Width, byteMask: number) => void;
    },
  ) {}

  read(o: number, w: Width): number {
    const word = this.regs.read?.(o & ~3) ?? 0;
    const shift = 8 * (o & 3);
    const mask = w === 4 ? 0xffffffff : (1 << (8 * w)) - 1;
    return ((word >>> shift) & mask) >>> 0;
  }

  write(o: number, w: Width, value: number): void {
    const shift = 8 * (o & 3);
    const mask = w === 4 ? 0xffffffff : ((1 << (8 * w)) - 1) << shift;
    this.regs.write?.(o & ~3, ((value << shift) & mask) >>> 0, w, mask >>> 0);
  }
}

export class Bus {
  private readonly regions: Region[] = [];

  add(r: Region): this {
    this.regions.push(r);
    return this;
  }

  private find(addr: number, w: Width, access: "read" | "write" | "fetch"): [Region, number] {
    const a = addr >>> 0;
    // Unaligned halfword and word accesses fault (as on the Cortex-M0+; the models keep it for all).
    if (a % w === 0)
      for (const r of this.regions)
        if (a >= r.base && a + w <= r.base + r.size) return [r, a - r.base];
    throw new BusFault(a, access, w);
  }

  read(addr: number, w: Width): number {
    const [r, o] = this.find(addr, w, "read");
    return r.read(o, w);
  }

  write(addr: number, w: Width, value: number): void {
    const [r, o] = this.find(addr, w, "write");
    r.write(o, w, value >>> 0);
  }

  read32 = (a: number): number => this.read(a, 4);
  write32 = (a: number, v: number): void => this.write(a, 4, v);

  readBytes(addr: number, n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.read(addr + i, 1);
    return out;
  }

  writeBytes(addr: number, data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) this.write(addr + i, 1, data[i]!);
  }

  /** Is [addr, addr + n) inside one region? */
  mapped(addr: number, n: number): boolean {
    const a = addr >>> 0;
    return this.regions.some((r) => a >= r.base && a + n <= r.base + r.size);
  }
}
