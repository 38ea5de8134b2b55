// Sector access for the FAT layer: a device of 512-byte sectors (an SD
// card through SPI, a disk image) behind a cache that writes through.

export interface SectorDevice {
  read(sector: number): Promise<Uint8Array>;
  write(sector: number, data: Uint8Array): Promise<void>;
}

export class SectorCache {
  private readonly cache = new Map<number, Uint8Array>();

  constructor(readonly dev: SectorDevice) {}

  /** A sector's bytes, read once (the returned array is the cached one: changes stay until put). */
  async read(s: number): Promise<Uint8Array> {
    let b = this.cache.get(s);
    if (!b) {
      b = Uint8Array.from(await this.dev.read(s));
      this.cache.set(s, b);
    }
    return b;
  }

  /** Writes a sector through to the device and keeps a copy. */
  async put(s: number, data: Uint8Array): Promise<void> {
    await this.dev.write(s, data);
    this.cache.set(s, Uint8Array.from(data));
  }

  /** Drops a sector written around the cache. */
  forget(s: number): void {
    this.cache.delete(s);
  }
}
