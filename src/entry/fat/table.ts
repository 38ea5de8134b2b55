// A FAT volume's allocation table: FAT12/16/32 entries read and changed
// through the sector cache, cluster chains, first-fit allocation from the
// last one (FAT32: from FSInfo's next-free hint), changed sectors written
// to every FAT copy at flush, and FSInfo's free count kept on FAT32.

import { put32, u16 } from "./bytes.js";
import { FatFormatError, FatFullError, type FatLayout } from "./layout.js";
import type { SectorCache } from "./sectors.js";

export class FatTable {
  private readonly dirty = new Set<number>();
  private nextFree = 2;

  constructor(
    private readonly cache: SectorCache,
    private readonly layout: FatLayout,
  ) {}

  /** FAT32: start looking for free clusters where FSInfo says (a big card's FAT is not read from its start). */
  async readFsInfoHint(): Promise<void> {
    const s = this.layout.fsInfoSector;
    if (s === undefined) return;
    const b = await this.cache.read(s);
    if (u16(b, 0) !== 0x5252 || u16(b, 484) !== 0x7272) return;
    const next = (u16(b, 492) | (u16(b, 494) << 16)) >>> 0;
    if (next >= 2 && next <= this.layout.clusters + 1) this.nextFree = next;
  }

  private fatSector(offset: number): number {
    return this.layout.base + this.layout.reserved + Math.floor(offset / 512);
  }

  private async fatByte(offset: number): Promise<number> {
    return (await this.cache.read(this.fatSector(offset)))[offset % 512]!;
  }

  private async setFatByte(offset: number, v: number): Promise<void> {
    const s = this.fatSector(offset);
    (await this.cache.read(s))[offset % 512] = v;
    this.dirty.add(s);
  }

  private async entry(n: number): Promise<number> {
    const t = this.layout.type;
    if (t === 12) {
      const o = n + (n >> 1);
      const v = (await this.fatByte(o)) | ((await this.fatByte(o + 1)) << 8);
      return n & 1 ? v >> 4 : v & 0xfff;
    }
    const o = n * (t / 8);
    let v = (await this.fatByte(o)) | ((await this.fatByte(o + 1)) << 8);
    if (t === 32) {
      v |= (await this.fatByte(o + 2)) << 16;
      v = (v | (((await this.fatByte(o + 3)) & 0x0f) << 24)) >>> 0;
    }
    return v;
  }

  async setEntry(n: number, v: number): Promise<void> {
    const t = this.layout.type;
    if (t === 12) {
      const o = n + (n >> 1);
      if (n & 1) {
        await this.setFatByte(o, ((await this.fatByte(o)) & 0x0f) | ((v << 4) & 0xf0));
        await this.setFatByte(o + 1, (v >> 4) & 0xff);
      } else {
        await this.setFatByte(o, v & 0xff);
        await this.setFatByte(o + 1, ((await this.fatByte(o + 1)) & 0xf0) | ((v >> 8) & 0x0f));
      }
      return;
    }
    const o = n * (t / 8);
    await this.setFatByte(o, v & 0xff);
    await this.setFatByte(o + 1, (v >> 8) & 0xff);
    if (t === 32) {
      await this.setFatByte(o + 2, (v >> 16) & 0xff);
      await this.setFatByte(o + 3, ((await this.fatByte(o + 3)) & 0xf0) | ((v >>> 24) & 0x0f));
    }
  }

  get endMark(): number {
    return this.layout.type === 12 ? 0xfff : this.layout.type === 16 ? 0xffff : 0x0fffffff;
  }

  private isEnd(v: number): boolean {
    const t = this.layout.type;
    return v >= (t === 12 ? 0xff8 : t === 16 ? 0xfff8 : 0x0ffffff8) || v < 2;
  }

  async chain(first: number): Promise<number[]> {
    const out: number[] = [];
    for (let c = first; c >= 2 && !this.isEnd(c); c = await this.entry(c)) {
      if (c > this.layout.clusters + 1 || out.length > this.layout.clusters)
        throw new FatFormatError(`a broken cluster chain at cluster ${c}`);
      out.push(c);
    }
    return out;
  }

  /** Free clusters, first fit from the last allocation. */
  async allocate(count: number, bytes: number): Promise<number[]> {
    const out: number[] = [];
    const last = this.layout.clusters + 1;
    let c = this.nextFree;
    for (let seen = 0; out.length < count && seen < this.layout.clusters; seen++) {
      if ((await this.entry(c)) === 0) out.push(c);
      c = c >= last ? 2 : c + 1;
    }
    if (out.length < count) throw new FatFullError("clusters", bytes);
    this.nextFree = c;
    return out;
  }

  async flush(): Promise<void> {
    for (const s of [...this.dirty].sort((a, b) => a - b)) {
      const data = await this.cache.read(s);
      for (let k = 0; k < this.layout.fats; k++)
        await this.cache.dev.write(s + k * this.layout.fatSectors, data);
    }
    for (const s of this.dirty)
      for (let k = 1; k < this.layout.fats; k++) this.cache.forget(s + k * this.layout.fatSectors);
    this.dirty.clear();
  }

  async adjustFree(delta: number): Promise<void> {
    const s = this.layout.fsInfoSector;
    if (s === undefined || delta === 0) return;
    const b = Uint8Array.from(await this.cache.read(s));
    if (u16(b, 0) !== 0x5252 || u16(b, 484) !== 0x7272) return;
    const free = (u16(b, 488) | (u16(b, 490) << 16)) >>> 0;
    if (free !== 0xffffffff) put32(b, 488, free + delta);
    put32(b, 492, this.nextFree);
    await this.cache.put(s, b);
  }
}
