// Simulated SAM chips as the SAM-BA monitor sees them: the bus (ROM, flash
// behind its controller, SRAM, CHIPID or DSU, SCB, RSTC) of a SAM3X8E, a
// SAM4E8E, a SAMD21G18A and a SAMD51J19A, with the id registers bossac reads
// (sam-ba.md §4) and the reset writes it sends (§9). `FirmwareTime` is the
// chip's time: the wall clock, except while firmware (a monitor command, an
// applet) runs — then CPU time is counted, busy-waits skip ahead to the
// moment the flag changes, and the monitor is busy for what was used.

import type { Clock } from "../../util/clock.js";
import { Bus, ByteRegion, RegisterBlock, type ChipTime } from "./bus.js";
import { EefcPlane } from "./eefc.js";
import { NvmD21 } from "./nvm-d21.js";
import { NvmD51 } from "./nvm-d51.js";

export class FirmwareTime implements ChipTime {
  private start: number | undefined;
  private elapsed = 0;
  private spinning = false;

  constructor(readonly clock: Clock) {}

  now(): number {
    return this.start === undefined ? this.clock.now() : this.start + this.elapsed;
  }

  advanceTo(t: number): void {
    if (this.start !== undefined && this.spinning)
      this.elapsed = Math.max(this.elapsed, t - this.start);
  }

  charge(ms: number): void {
    if (this.start !== undefined) this.elapsed += ms;
  }

  /** Runs firmware code; `spins` lets its busy-waits skip ahead. Returns the time it used. */
  run(spins: boolean, fn: () => void): number {
    this.start = this.clock.now();
    this.elapsed = 0;
    this.spinning = spins;
    try {
      fn();
      return this.elapsed;
    } finally {
      this.start = undefined;
      this.spinning = false;
    }
  }
}

export type ChipKind = "sam3x8e" | "sam4e8e" | "samd21g18a" | "samd51j19a";

export interface SimChip {
  kind: ChipKind;
  bus: Bus;
  time: FirmwareTime;
  /** Flash start and its bytes, one array per plane (live views). */
  flashBase: number;
  planes: Uint8Array[];
  eefc?: EefcPlane[];
  gpnvm: { bits: number; count: number };
  nvmD21?: NvmD21;
  nvmD51?: NvmD51;
  sramTop: number;
  /** Called by the chip's reset write (RSTC_CR or AIRCR with its key). */
  onReset: (why: string) => void;
}

export interface ChipOptions {
  clock: Clock;
  /** Bootloader bytes protected at the start of a SAMD's flash (BOOTPROT). */
  bootprotBytes?: number;
  events?: (e: { type: string; [k: string]: unknown }) => void;
}

const CPUID = { m3: 0x412fc230, m4: 0x410fc241, m0p: 0x410cc601 } as const;

function scb(chip: SimChip, cpuid: number): RegisterBlock {
  return new RegisterBlock("scb", 0xe000ed00, 0x40, {
    read: (o) => (o === 0x00 ? cpuid : 0),
    write: (o, v) => {
      if (o === 0x0c && v >>> 16 === 0x05fa && v & 4) chip.onReset("AIRCR SYSRESETREQ");
    },
  });
}

const rstc = (chip: SimChip, base: number) =>
  new RegisterBlock("rstc", base, 0x10, {
    write: (o, v) => {
      if (o === 0 && v >>> 24 === 0xa5 && v & 1) chip.onReset("RSTC_CR PROCRST");
    },
  });

/** A ROM image: its vector table (SP, reset handler) then filler the tests can recognise. */
function rom(base: number, size: number, sp: number): ByteRegion {
  const r = new ByteRegion("rom", base, size, false);
  for (let i = 8; i < size; i++) r.bytes[i] = (i * 7 + 3) & 0xff;
  const dv = new DataView(r.bytes.buffer);
  dv.setUint32(0, sp, true);
  dv.setUint32(4, (base + 0x101) >>> 0, true);
  return r;
}

/** Boot memory at 0: the ROM, or the flash when GPNVM1 (boot from flash) is set. */
function bootMirror(
  size: number,
  romRegion: ByteRegion,
  flash: () => Uint8Array,
  gpnvm: { bits: number },
) {
  return {
    name: "boot memory",
    base: 0,
    size,
    read: (o: number, w: 1 | 2 | 4) => {
      if (gpnvm.bits & 2) {
        const f = flash();
        let v = 0;
        for (let i = w - 1; i >= 0; i--) v = (v << 8) | (f[o + i] ?? 0xff);
        return v >>> 0;
      }
      return o + w <= romRegion.size ? romRegion.read(o, w) : 0;
    },
    write: () => undefined,
  };
}

export function makeChip(kind: ChipKind, o: ChipOptions): SimChip {
  const bus = new Bus();
  const time = new FirmwareTime(o.clock);
  const chip: SimChip = {
    kind,
    bus,
    time,
    flashBase: 0,
    planes: [],
    gpnvm: { bits: 0, count: kind === "sam3x8e" ? 3 : 2 },
    sramTop: 0,
    onReset: () => undefined,
  };
  const events = o.events;
  switch (kind) {
    case "sam3x8e": {
      const gpnvm = chip.gpnvm;
      const planes = [0, 1].map(
        (i) =>
          new EefcPlane({
            regs: 0x400e0a00 + 0x200 * i,
            flashBase: 0x80000 + 0x40000 * i,
            pages: 1024,
            pageSize: 256,
            lockRegions: 16,
            gpnvm,
            time,
            ...(events ? { events } : {}),
          }),
      );
      const romRegion = rom(0x00100000, 0x4000, 0x20001000);
      bus.add(bootMirror(0x80000, romRegion, () => planes[0]!.flash, gpnvm)).add(romRegion);
      for (const p of planes) bus.add(p.flashRegion()).add(p.registers());
      bus
        .add(new ByteRegion("sram0", 0x20000000, 0x10000))
        .add(new ByteRegion("sram1", 0x20080000, 0x8000));
      bus.add(new RegisterBlock("pmc", 0x400e0600, 0x200, {})); // 0x400E0740 reads 0 here
      bus.add(
        new RegisterBlock("chipid", 0x400e0940, 0x8, { read: (r) => (r === 0 ? 0x285e0a60 : 0) }),
      );
      bus.add(rstc(chip, 0x400e1a00)).add(scb(chip, CPUID.m3));
      Object.assign(chip, {
        flashBase: 0x80000,
        planes: planes.map((p) => p.flash),
        eefc: planes,
        sramTop: 0x20010000,
      });
      break;
    }
    case "sam4e8e": {
      const plane = new EefcPlane({
        regs: 0x400e0a00,
        flashBase: 0x400000,
        pages: 1024,
        pageSize: 512,
        lockRegions: 64,
        gpnvm: chip.gpnvm,
        time,
        ...(events ? { events } : {}),
      });
      const romRegion = rom(0x00800000, 0x4000, 0x20001000);
      bus.add(bootMirror(0x400000, romRegion, () => plane.flash, chip.gpnvm)).add(romRegion);
      bus.add(plane.flashRegion()).add(plane.registers());
      bus.add(new ByteRegion("sram", 0x20000000, 0x20000));
      bus.add(
        new RegisterBlock("chipid", 0x400e0740, 0x8, {
          read: (r) => (r === 0 ? 0xa3cc0ce0 : 0x00120208),
        }),
      );
      bus.add(rstc(chip, 0x400e1800)).add(scb(chip, CPUID.m4));
      Object.assign(chip, {
        flashBase: 0x400000,
        planes: [plane.flash],
        eefc: [plane],
        sramTop: 0x20020000,
      });
      break;
    }
    case "samd21g18a": {
      const nvm = new NvmD21({
        pages: 4096,
        bootprotBytes: o.bootprotBytes ?? 0,
        time,
        ...(events ? { events } : {}),
      });
      nvm.map(bus);
      bus.add(new ByteRegion("sram", 0x20000000, 0x8000));
      bus.add(
        new RegisterBlock("dsu", 0x41002000, 0x100, { read: (r) => (r === 0x18 ? 0x10010305 : 0) }),
      );
      bus.add(scb(chip, CPUID.m0p));
      Object.assign(chip, { flashBase: 0, planes: [nvm.flash], nvmD21: nvm, sramTop: 0x20008000 });
      break;
    }
    case "samd51j19a": {
      const nvm = new NvmD51({
        pages: 1024,
        bootprotBytes: o.bootprotBytes ?? 0,
        time,
        ...(events ? { events } : {}),
      });
      nvm.map(bus);
      bus.add(new ByteRegion("sram", 0x20000000, 0x30000));
      bus.add(
        new RegisterBlock("dsu", 0x41002000, 0x100, { read: (r) => (r === 0x18 ? 0x60060305 : 0) }),
      );
      bus.add(scb(chip, CPUID.m4));
      Object.assign(chip, { flashBase: 0, planes: [nvm.flash], nvmD51: nvm, sramTop: 0x20030000 });
      break;
    }
  }
  return chip;
}

/** The chip's whole flash as one array (planes joined). */
export function flashOf(chip: SimChip): Uint8Array {
  const n = chip.planes.reduce((s, p) => s + p.length, 0);
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of chip.planes) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Writes bytes straight into the flash arrays (a bootloader or an old application, before power-on). */
export function preload(chip: SimChip, address: number, data: Uint8Array): void {
  let off = address - chip.flashBase;
  for (const p of chip.planes) {
    if (off < p.length) {
      const n = Math.min(p.length - off, data.length);
      p.set(data.subarray(0, n), off);
      data = data.subarray(n);
      off = 0;
      if (data.length === 0) return;
    } else off -= p.length;
  }
}
