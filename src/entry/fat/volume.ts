// A FAT12/16/32 volume's root folder over sector reads and writes (an SD
// card through a Klipper MCU's SPI, or a disk image): list, read, write,
// remove and rename files with long names. Sectors are cached; FAT
// changes go to every FAT copy. A write puts the data first, then the
// cluster chain, then the folder entry, so a cut write never leaves a file
// under the final name; FSInfo's free count follows on FAT32.

import { put16, put32, u16 } from "./bytes.js";
import {
  ATTR_ARCHIVE,
  ATTR_DIRECTORY,
  ATTR_LFN,
  ATTR_VOLUME,
  ENTRY,
  lfnChecksum,
  longEntries,
  longEntryChars,
  planName,
  shortNameText,
} from "./names.js";
import { FatFormatError, FatFullError, readLayout, type FatLayout } from "./layout.js";
import { SectorCache, type SectorDevice } from "./sectors.js";
import { FatTable } from "./table.js";

export type { SectorDevice } from "./sectors.js";

/** A file being written: its size and the clusters reserved for it. */
export interface FatWrite {
  readonly size: number;
  readonly clusters: readonly number[];
}

export interface FatFile {
  name: string;
  shortName: string;
  size: number;
  cluster: number;
  /** Indexes of its folder entries (long-name ones first, short last). */
  slots: number[];
}

const same = (a: string, b: string) => a.toUpperCase() === b.toUpperCase();

/** FAT date and time words of `d` (local time, as DOS has it). */
function dosTime(d: Date): { date: number; time: number } {
  return {
    date: ((d.getFullYear() - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate(),
    time: (d.getHours() << 11) | (d.getMinutes() << 5) | (d.getSeconds() >> 1),
  };
}

export class FatVolume {
  private readonly cache: SectorCache;
  private readonly fat: FatTable;

  private constructor(
    private readonly dev: SectorDevice,
    readonly layout: FatLayout,
    private readonly now: () => Date,
  ) {
    this.cache = new SectorCache(dev);
    this.fat = new FatTable(this.cache, layout);
  }

  /** Mounts the volume on `dev`; throws FatFormatError when there is none. */
  static async open(dev: SectorDevice, o: { now?: () => Date } = {}): Promise<FatVolume> {
    const layout = await readLayout((s) => dev.read(s));
    const v = new FatVolume(dev, layout, o.now ?? (() => new Date()));
    await v.fat.readFsInfoHint();
    return v;
  }

  get clusterBytes(): number {
    return this.layout.sectorsPerCluster * 512;
  }

  private clusterSector(c: number): number {
    return this.layout.dataSector + (c - 2) * this.layout.sectorsPerCluster;
  }

  // ---- the root folder ----

  /** The root folder's sectors (FAT32: along its chain). */
  private async rootSectors(): Promise<number[]> {
    const l = this.layout;
    if (l.type !== 32)
      return Array.from(
        { length: Math.ceil((l.rootEntries * ENTRY) / 512) },
        (_, i) => l.rootSector + i,
      );
    const out: number[] = [];
    for (const c of await this.fat.chain(l.rootCluster))
      for (let i = 0; i < l.sectorsPerCluster; i++) out.push(this.clusterSector(c) + i);
    return out;
  }

  private async slot(
    sectors: number[],
    i: number,
  ): Promise<{ sector: number; buf: Uint8Array; at: number }> {
    const sector = sectors[Math.floor((i * ENTRY) / 512)]!;
    return { sector, buf: await this.cache.read(sector), at: (i * ENTRY) % 512 };
  }

  /** Files in the root folder (no folders, no volume label). */
  async list(): Promise<FatFile[]> {
    const sectors = await this.rootSectors();
    const files: FatFile[] = [];
    let long: { parts: string[]; sum: number; slots: number[] } | undefined;
    for (let i = 0; i < (sectors.length * 512) / ENTRY; i++) {
      const { buf, at } = await this.slot(sectors, i);
      const e = buf.subarray(at, at + ENTRY);
      if (e[0] === 0x00) break;
      if (e[0] === 0xe5) {
        long = undefined;
        continue;
      }
      if (e[11] === ATTR_LFN) {
        if (e[0]! & 0x40) long = { parts: [], sum: e[13]!, slots: [] };
        if (long && e[13] === long.sum) {
          long.parts.unshift(longEntryChars(e));
          long.slots.push(i);
        } else long = undefined;
        continue;
      }
      const attr = e[11]!;
      const short = shortNameText(e.subarray(0, 11), e[12]);
      const lfn = long && long.sum === lfnChecksum(e.subarray(0, 11)) ? long : undefined;
      long = undefined;
      if (attr & (ATTR_VOLUME | ATTR_DIRECTORY)) continue;
      files.push({
        name: lfn ? lfn.parts.join("") : short,
        shortName: short.toUpperCase(),
        size: (u16(e, 28) | (u16(e, 30) << 16)) >>> 0,
        cluster: this.layout.type === 32 ? ((u16(e, 20) << 16) | u16(e, 26)) >>> 0 : u16(e, 26),
        slots: [...(lfn?.slots ?? []), i],
      });
    }
    return files;
  }

  async find(name: string): Promise<FatFile | undefined> {
    return (await this.list()).find((f) => same(f.name, name) || same(f.shortName, name));
  }

  async read(name: string): Promise<Uint8Array | undefined> {
    const f = await this.find(name);
    if (!f) return undefined;
    const out = new Uint8Array(f.size);
    let pos = 0;
    for (const c of await this.fat.chain(f.cluster)) {
      for (let i = 0; i < this.layout.sectorsPerCluster && pos < f.size; i++) {
        const b = await this.dev.read(this.clusterSector(c) + i);
        out.set(b.subarray(0, Math.min(512, f.size - pos)), pos);
        pos += 512;
      }
    }
    if (pos < f.size)
      throw new FatFormatError(`${f.name}'s cluster chain is shorter than its size`);
    return out;
  }

  /** Marks a file's entries deleted and frees its clusters. */
  async remove(name: string): Promise<boolean> {
    const f = await this.find(name);
    if (!f) return false;
    await this.markDeleted(f.slots);
    const chain = await this.fat.chain(f.cluster);
    for (const c of chain) await this.fat.setEntry(c, 0);
    await this.fat.flush();
    await this.fat.adjustFree(chain.length);
    return true;
  }

  private async markDeleted(slots: number[]): Promise<void> {
    const sectors = await this.rootSectors();
    const touched = new Map<number, Uint8Array>();
    for (const i of slots) {
      const { sector, buf, at } = await this.slot(sectors, i);
      buf[at] = 0xe5;
      touched.set(sector, buf);
    }
    for (const [s, b] of touched) await this.cache.put(s, b);
  }

  /**
   * Reserves the clusters for a file of `size` bytes (nothing on the card
   * changes yet): its sectors are then written with writeSector and the file
   * appears under its name only at commit. No other change may come between.
   */
  async prepare(size: number): Promise<FatWrite> {
    const count = Math.ceil(size / this.clusterBytes);
    return { size, clusters: await this.fat.allocate(count, size) };
  }

  /** Writes sector `index` (0 = the file's first 512 bytes) of a prepared file. */
  async writeSector(w: FatWrite, index: number, data: Uint8Array): Promise<void> {
    const spc = this.layout.sectorsPerCluster;
    const c = w.clusters[Math.floor(index / spc)];
    if (c === undefined || data.length !== 512)
      throw new RangeError(`sector ${index} is outside the prepared ${w.size}-byte file`);
    await this.dev.write(this.clusterSector(c) + (index % spc), data);
  }

  /** Links a prepared file's clusters and gives it its name (an old file of that name goes). */
  async commit(name: string, w: FatWrite): Promise<void> {
    const { clusters } = w;
    for (let k = 0; k < clusters.length; k++)
      await this.fat.setEntry(
        clusters[k]!,
        k + 1 < clusters.length ? clusters[k + 1]! : this.fat.endMark,
      );
    await this.fat.flush();
    await this.fat.adjustFree(-clusters.length);
    await this.remove(name);
    await this.addEntry(name, clusters[0] ?? 0, w.size);
  }

  /** Writes `bytes` as root file `name` (an old one of that name is replaced once the new data is down). */
  async write(name: string, bytes: Uint8Array): Promise<void> {
    const w = await this.prepare(bytes.length);
    for (let i = 0; i * 512 < bytes.length; i++) {
      const sector = new Uint8Array(512);
      sector.set(bytes.subarray(i * 512, (i + 1) * 512));
      await this.writeSector(w, i, sector);
    }
    await this.commit(name, w);
  }

  /** Renames a root file (an existing `to` is removed first). */
  async rename(from: string, to: string): Promise<void> {
    const f = await this.find(from);
    if (!f) throw new FatFormatError(`no ${from} to rename`);
    if (!same(from, to)) await this.remove(to);
    await this.markDeleted(f.slots);
    await this.addEntry(to, f.cluster, f.size);
  }

  private async addEntry(name: string, cluster: number, size: number): Promise<void> {
    const taken = new Set((await this.list()).map((f) => f.shortName));
    const plan = planName(name, taken);
    const entries = plan.needsLong ? longEntries(name, plan.short) : [];
    const sfn = new Uint8Array(ENTRY);
    sfn.set(plan.short, 0);
    sfn[11] = ATTR_ARCHIVE;
    sfn[12] = plan.ntFlags;
    const { date, time } = dosTime(this.now());
    put16(sfn, 14, time);
    put16(sfn, 16, date);
    put16(sfn, 18, date);
    put16(sfn, 20, this.layout.type === 32 ? cluster >>> 16 : 0);
    put16(sfn, 22, time);
    put16(sfn, 24, date);
    put16(sfn, 26, cluster & 0xffff);
    put32(sfn, 28, size);
    entries.push(sfn);
    const at = await this.freeSlots(entries.length);
    const sectors = await this.rootSectors();
    const touched = new Map<number, Uint8Array>();
    for (let k = 0; k < entries.length; k++) {
      const { sector, buf, at: off } = await this.slot(sectors, at + k);
      buf.set(entries[k]!, off);
      touched.set(sector, buf);
    }
    for (const [s, b] of touched) await this.cache.put(s, b);
  }

  /** The first run of `n` free folder entries (FAT32: the folder grows a cluster when full). */
  private async freeSlots(n: number): Promise<number> {
    for (;;) {
      const sectors = await this.rootSectors();
      const total = (sectors.length * 512) / ENTRY;
      let run = 0;
      for (let i = 0; i < total; i++) {
        const { buf, at } = await this.slot(sectors, i);
        const b = buf[at];
        if (b === 0x00 || b === 0xe5) {
          if (++run === n) return i - n + 1;
        } else run = 0;
      }
      if (this.layout.type !== 32) throw new FatFullError("root-directory", 0);
      await this.growRoot();
    }
  }

  private async growRoot(): Promise<void> {
    const chain = await this.fat.chain(this.layout.rootCluster);
    const [c] = await this.fat.allocate(1, this.clusterBytes);
    for (let i = 0; i < this.layout.sectorsPerCluster; i++)
      await this.cache.put(this.clusterSector(c!) + i, new Uint8Array(512));
    await this.fat.setEntry(c!, this.fat.endMark);
    await this.fat.setEntry(chain[chain.length - 1]!, c!);
    await this.fat.flush();
    await this.fat.adjustFree(-1);
  }
}
