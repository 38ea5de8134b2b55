// The flash-sdcard FlashAdapter: connect = identify the running Klipper
// (resetting a configured one), configure the SD slot's SPI, bring up the
// card and mount its FAT; write = each planned 512-byte block straight to
// its sector of the file-to-be; endWrite = give it the bootloader's name;
// verify = read the file back through SPI and compare SHA-1 (a mismatch
// removes the bad file and sends no reset);
// finish = `reset`, follow the board back and confirm the update as
// spi_flash.py does: the new data dictionary is the image's, or differs
// from the old one, or the bootloader's current file is the image.

import { createHash } from "node:crypto";
import type { DeviceInfo, FlashAdapter, FlashContext } from "../../flash-api/adapter.js";
import type { FlashPlan, PlannedBlock } from "../../flash-api/geometry.js";
import {
  findImageDictionary,
  sameBuild,
  type KlipperDictionary,
} from "../../klippy-bridge/dictionary.js";
import type { Target } from "../../targets/index.js";
import type { ByteTransport } from "../../transport/byte-transport.js";
import { ConversionUnsupportedError, NotConfirmedError } from "./errors.js";
import type { FatVolume, FatWrite } from "../../entry/fat/volume.js";
import { busText, uniqueFileName, type SdSpiProfile } from "./profile.js";
import { KlipperSdSession, type CardMount } from "./session.js";

export interface SdSpiAdapterOptions {
  target: Target;
  profile: SdSpiProfile;
  device: string;
  open: () => Promise<ByteTransport>;
  /** The local time for file dates and requires_unique_fw_name (tests fix it). */
  now?: () => Date;
  reconnectTimeoutMs?: number;
  /** The first identify's budget (default CONNECT_IDENTIFY_MS, 5 s as Klipper allows). */
  identifyTimeoutMs?: number;
  /** The SD SPI clock (default SD_RATE_SLOW, 400 kHz; SD_RATE_FAST is flash-sdcard's -s). */
  spiRate?: number;
}

interface PendingFile {
  name: string;
  bytes: Uint8Array;
  /** The first block's address (file sector 0). */
  start: number;
  write: FatWrite;
}

const sha1 = (b: Uint8Array) => createHash("sha1").update(b).digest("hex");

export class SdSpiAdapter implements FlashAdapter {
  readonly protocol = "sdcard-spi";
  readonly capabilities = { verify: "digest", erase: "none" } as const;
  private session: KlipperSdSession | undefined;
  private mount: CardMount | undefined;
  private oldDictionary: KlipperDictionary | undefined;
  private plan: FlashPlan | undefined;
  private file: PendingFile | undefined;
  private written: { name: string; bytes: Uint8Array } | undefined;

  constructor(private readonly o: SdSpiAdapterOptions) {}

  private now(): Date {
    return this.o.now?.() ?? new Date();
  }

  private newSession(ctx: FlashContext): KlipperSdSession {
    return new KlipperSdSession({
      device: this.o.device,
      target: this.o.target.id,
      profile: this.o.profile,
      open: this.o.open,
      clock: ctx.clock,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      ...(this.o.reconnectTimeoutMs !== undefined
        ? { reconnectTimeoutMs: this.o.reconnectTimeoutMs }
        : {}),
      ...(this.o.spiRate !== undefined ? { rate: this.o.spiRate } : {}),
      ...(ctx.dryRun ? { dryRun: true } : {}),
      ...(this.o.identifyTimeoutMs !== undefined
        ? { identifyTimeoutMs: this.o.identifyTimeoutMs }
        : {}),
    });
  }

  async connect(ctx: FlashContext): Promise<DeviceInfo> {
    const { target: t, profile: p } = this.o;
    if (p.conversionScript) throw new ConversionUnsupportedError(t.id, p.conversionScript);
    this.session = this.newSession(ctx);
    const id = await this.session.connect();
    this.oldDictionary = id.dictionary;
    if (this.session.resets > 0)
      ctx.emit({
        type: "info",
        message: `${this.o.device}: Klipper was configured already: reset it and reconnected`,
      });
    this.mount = await this.session.mountCard(() => this.now());
    const d = id.dictionary;
    const card = this.mount.host.info!;
    ctx.emit({
      type: "info",
      message: `SD card on ${busText(p)} (CS ${p.csPin}): ${card.highCapacity ? "SDHC/SDXC" : "SDSC"}, FAT${this.mount.volume.layout.type}`,
      data: { fat: this.mount.volume.layout.type, highCapacity: card.highCapacity },
    });
    return {
      geometry: {
        start: t.appStart ?? 0,
        ...(t.appEnd !== undefined ? { end: t.appEnd } : {}),
        blockSize: 512,
        padByte: 0xff,
        addressUnit: "byte",
        contiguousFromStart: true,
      },
      description: `Klipper ${d.version} on ${d.mcu ?? "an unknown MCU"} (${p.board}), SD card through its SPI`,
      ...(d.mcu ? { mcu: d.mcu } : {}),
      // Rows without a known application start cannot have their offset checked here.
      ...(t.appStart === undefined ? { checksImageLayout: true } : {}),
      ...(p.skipVerify
        ? {
            unverified: `the ${p.board} bootloader leaves nothing on the card to show it flashed the file: canflash could not verify the update (check the board's Klipper version)`,
          }
        : {}),
    };
  }

  async check(ctx: FlashContext, plan: FlashPlan): Promise<void> {
    this.plan = plan;
    // What flash-sdcard's -c reports: is the board on this build, is the card's current file this image?
    const bytes = binOf(plan.blocks);
    const image = findImageDictionary(bytes)?.dictionary;
    const running = this.oldDictionary;
    const cur = await this.mount!.volume.read(this.o.profile.currentName);
    ctx.emit({
      type: "info",
      message: [
        image && running
          ? sameBuild(image, running)
            ? "the board runs this image's build (data dictionary identical)"
            : `the board runs ${running.version}, the image is ${image.version}`
          : "the image has no Klipper data dictionary to compare",
        cur
          ? sha1(cur) === sha1(bytes)
            ? `${this.o.profile.currentName} on the card is this image (SHA-1 ${sha1(bytes)})`
            : `${this.o.profile.currentName} on the card is another image`
          : `no ${this.o.profile.currentName} on the card`,
      ].join("; "),
      data: {
        sameBuild: !!(image && running && sameBuild(image, running)),
        currentIsImage: !!cur && sha1(cur) === sha1(bytes),
      },
    });
  }

  /** The file the plan makes, and its sectors reserved on the card (at the first block). */
  private async beginFile(ctx: FlashContext, first: PlannedBlock): Promise<PendingFile> {
    const p = this.o.profile;
    const v = this.mount!.volume;
    if (!this.plan) throw new TypeError("sdcard-spi: check() comes before the first block");
    const bytes = binOf(this.plan.blocks);
    let name = p.fileName;
    if (p.uniqueName) {
      const ext = extOf(p.fileName);
      for (const f of await v.list())
        if (extOf(f.name) === ext) {
          await v.remove(f.name);
          ctx.emit({ type: "info", message: `removed ${f.name} from the card (same extension)` });
        }
      name = uniqueFileName(p.fileName, this.now());
    }
    return { name, bytes, start: first.address, write: await v.prepare(bytes.length) };
  }

  /** Each planned block is one sector of the file, written as it comes (progress is the card's). */
  async writeBlock(ctx: FlashContext, block: PlannedBlock): Promise<void> {
    this.file ??= await this.beginFile(ctx, block);
    const f = this.file;
    await this.mount!.volume.writeSector(f.write, (block.address - f.start) / 512, block.data);
  }

  async endWrite(ctx: FlashContext): Promise<void> {
    const f = this.file;
    if (!f) return;
    await this.mount!.volume.commit(f.name, f.write);
    this.written = { name: f.name, bytes: f.bytes };
    ctx.emit({
      type: "info",
      message: `wrote ${f.bytes.length} bytes to the card as ${f.name}`,
      data: { file: f.name, bytes: f.bytes.length, sha1: sha1(f.bytes) },
    });
  }

  async verifyDigest(ctx: FlashContext): Promise<boolean> {
    const w = this.written!;
    const v = this.mount!.volume;
    // A file that did not verify is not for the bootloader to flash at the next power-up.
    const discard = () => v.remove(w.name).catch(() => false);
    let back: Uint8Array | undefined;
    try {
      back = await v.read(w.name);
    } catch (e) {
      await discard();
      throw e;
    }
    const same = !!back && sha1(back) === sha1(w.bytes);
    if (!same) {
      await discard();
      ctx.emit({
        type: "info",
        message: `${w.name} read back different from the image: removed it; the board was not reset`,
      });
    } else
      ctx.emit({ type: "info", message: `${w.name} read back identical (SHA-1 ${sha1(back!)})` });
    return same;
  }

  async finish(ctx: FlashContext): Promise<void> {
    const p = this.o.profile;
    const w = this.written!;
    const s = this.session!;
    this.mount = undefined;
    const id = await s.reset();
    ctx.emit({
      type: "info",
      message: `${this.o.device}: reset; Klipper ${id.dictionary.version} answered again`,
      data: { version: id.dictionary.version },
    });
    if (p.skipVerify) {
      const expected = findImageDictionary(w.bytes)?.dictionary;
      if (expected)
        ctx.emit({
          type: "info",
          message: sameBuild(expected, id.dictionary)
            ? "Klipper answered with the image's data dictionary"
            : `Klipper answered as ${id.dictionary.version}, not the image's build (${expected.version})`,
        });
      return;
    }
    // The check configures the SPI again; a last reset leaves the board unconfigured for Klippy.
    try {
      await this.confirm(ctx, s, id.dictionary);
    } finally {
      await s.release();
    }
  }

  private async confirm(
    ctx: FlashContext,
    s: KlipperSdSession,
    running: KlipperDictionary,
  ): Promise<void> {
    const p = this.o.profile;
    const w = this.written!;
    const v = (await s.mountCard(() => this.now())).volume;
    const left = await removeIfThere(v, w.name);
    const expected = findImageDictionary(w.bytes)?.dictionary;
    if (expected) {
      if (!sameBuild(expected, running))
        throw new NotConfirmedError(
          this.o.device,
          w.name,
          left ? "file-left" : "dictionary-differs",
        );
    } else if (this.oldDictionary && sameBuild(this.oldDictionary, running)) {
      const cur = await v.read(p.currentName);
      if (!cur || sha1(cur) !== sha1(w.bytes))
        throw new NotConfirmedError(
          this.o.device,
          w.name,
          left ? "file-left" : cur ? "current-differs" : "unchanged",
        );
    }
    ctx.emit({
      type: "info",
      message: left
        ? `the board runs the new build, but its bootloader left ${w.name} on the card: removed it`
        : `the board runs the new build; the bootloader renamed ${w.name} to ${p.currentName}`,
      data: { confirmed: true, fileLeft: left },
    });
  }

  async abandon(): Promise<boolean> {
    return false; // the running Klipper was only configured: the next Klippy start resets it
  }

  async close(): Promise<void> {
    await this.session?.close();
  }
}

async function removeIfThere(v: FatVolume, name: string): Promise<boolean> {
  return (await v.find(name)) ? v.remove(name) : false;
}

const extOf = (n: string) => (n.includes(".") ? n.slice(n.lastIndexOf(".")).toLowerCase() : "");

/** The planned blocks as the .bin they came from (the last cut after its payload). */
function binOf(blocks: readonly PlannedBlock[]): Uint8Array {
  if (blocks.length === 0) return new Uint8Array(0);
  const start = blocks[0]!.address;
  const last = blocks[blocks.length - 1]!;
  const out = new Uint8Array(last.address - start + last.payload);
  for (const b of blocks)
    out.set(
      b.data.subarray(0, Math.min(b.data.length, out.length - (b.address - start))),
      b.address - start,
    );
  return out;
}
