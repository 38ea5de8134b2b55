// SAM-BA through the flasher core (what bossac does for Klipper's boards):
// reach the monitor (entry strategies in reach.ts), identify the chip and
// refuse another chip than the row's, then per flash controller: EEFC
// (SAM3X/SAM4) erase all, write page batches with the applet, read back
// through RAM, set boot-from-flash (GPNVM1), reset; NVMCTRL with the Arduino
// extensions (SAMD21 Zero, SAMD51 UF2) erase the image's rows or blocks,
// write 4 KiB chunks with S + Y, verify every chunk with Z, reset. The
// executor's page blocks are gathered into those chunks.
//
// A board that was touched out of its application and then refused before
// anything was erased or written goes back to it (abandon: SAMD a reset;
// SAM3/SAM4 boot-from-flash again, then a reset); after anything changed it
// stays in the monitor, which never starts an image by itself.

import type { DeviceInfo, FlashAdapter, FlashContext } from "../../flash-api/adapter.js";
import type { FlashPlan, PlannedBlock } from "../../flash-api/geometry.js";
import { targets, type Target } from "../../targets/index.js";
import { concatBytes } from "../../transport/byte-transport.js";
import { crc16Xmodem } from "./codec.js";
import { SamBaProtocolError, SamBaWrongChipError } from "./errors.js";
import { EefcFlash } from "./flash-eefc.js";
import { NvmFlash } from "./flash-nvm.js";
import { identifyChip } from "./identify.js";
import { chipOfMcu, flashSize, type ChipMatch } from "./parts.js";
import { reachMonitor, type Reached, type ReachOptions } from "./reach.js";

export interface SamBaAdapterOptions extends ReachOptions {
  /** Status and request: a touched board stays in the monitor on close. */
  stayInMonitor?: boolean;
}

/** The row's chip as the SAM-BA tables know it (rows name Klipper MCUs). */
export const rowChip = (t: Target) => chipOfMcu(t.chip);

interface Run {
  addr: number;
  parts: Uint8Array[];
  length: number;
}

export class SamBaAdapter implements FlashAdapter {
  readonly protocol = "sam-ba";
  readonly capabilities: FlashAdapter["capabilities"];
  private reached: Reached | undefined;
  private match: ChipMatch | undefined;
  private eefc: EefcFlash | undefined;
  private nvm: NvmFlash | undefined;
  private plan: FlashPlan | undefined;
  private pending: Run | undefined;
  private cache: { addr: number; data: Uint8Array } | undefined;
  private changed = false;

  constructor(readonly o: SamBaAdapterOptions) {
    const eefc = rowChip(o.target)?.controller === "eefc";
    this.capabilities = {
      verify: eefc ? "readback" : "digest",
      erase: eefc ? "chip" : "pages",
      abandoned: "stays-in-bootloader",
    };
  }

  /** What the monitor is (after connect). */
  get chip(): ChipMatch | undefined {
    return this.match;
  }

  get entered(): Reached["entered"] | undefined {
    return this.reached?.entered;
  }

  get path(): string | undefined {
    return this.reached?.path;
  }

  async enter(ctx: FlashContext): Promise<void> {
    this.reached = await reachMonitor(this.o, ctx);
  }

  async connect(ctx: FlashContext): Promise<DeviceInfo> {
    const r = this.reached;
    if (!r) throw new Error("SAM-BA adapter used before enter()");
    const t = this.o.target;
    const m = await identifyChip(r.session, this.o.device);
    // the controller first: a refused, touched board is put back through it on close
    if (m.chip.controller === "eefc") this.eefc = new EefcFlash(r.session, m.chip, ctx.clock);
    else this.nvm = new NvmFlash(r.session, m.chip, ctx.clock);
    const rowChipFacts = rowChip(t);
    const allowed = [t.chip, ...t.mcu];
    const fits =
      (m.mcu !== undefined && allowed.includes(m.mcu)) ||
      (rowChipFacts !== undefined &&
        m.chip.family === rowChipFacts.family &&
        m.chip.flashBase + flashSize(m.chip) >= (t.appEnd ?? 0));
    if (!fits)
      throw new SamBaWrongChipError({
        port: this.o.device,
        target: t.id,
        expected: t.mcu,
        foundChip: m.chip.name,
        foundMcu: m.mcu,
        id: m.id,
        suggestedTargets: targets()
          .filter(
            (x) =>
              x.protocol === "sam-ba" &&
              m.mcu !== undefined &&
              (x.chip === m.mcu || x.mcu.includes(m.mcu)),
          )
          .map((x) => x.id),
      });
    this.match = m;
    const c = m.chip;
    if (this.nvm && !r.version.canWriteBuffer)
      throw new SamBaProtocolError(
        "V#",
        `"${r.version.text}" has no Arduino Y extension, which canflash writes SAMD flash with`,
      );
    const end = Math.min(t.appEnd ?? Infinity, c.flashBase + flashSize(c));
    return {
      geometry: {
        start: t.appStart ?? c.flashBase,
        end,
        blockSize: c.pageSize,
        eraseUnit: this.nvm ? this.nvm.eraseUnit : c.pageSize,
        padByte: 0xff,
        addressUnit: "byte",
      },
      ...(m.mcu ? { mcu: m.mcu } : {}),
      bootloaderVersion: r.version.text,
      description:
        `${t.bootloader} (${r.version.text}) on ${m.mcu ?? c.name} (${m.id}), ` +
        `${flashSize(c) / 1024} KiB flash in ${c.pageSize}-byte pages, ${r.transport === "usb" ? "USB CDC" : "UART"}`,
    };
  }

  async check(_ctx: FlashContext, plan: FlashPlan): Promise<void> {
    this.plan = plan;
    const c = this.match!.chip;
    if (this.eefc && plan.geometry.start !== c.flashBase)
      throw new RangeError(
        `EEFC rows start at the flash base; ${this.o.target.id} starts at 0x${plan.geometry.start.toString(16)}`,
      );
    if (this.nvm && plan.geometry.start % this.nvm.eraseUnit !== 0)
      throw new RangeError(
        `${this.o.target.id}: the application start is not on an erase boundary`,
      );
  }

  async erase(_ctx: FlashContext, plan: FlashPlan): Promise<void> {
    this.changed = true;
    if (this.eefc) return this.eefc.eraseAll();
    const nvm = this.nvm!;
    await nvm.clearErrors();
    for (const run of runs(plan.blocks, Infinity)) await nvm.erase(run.addr, run.addr + run.length);
  }

  async writeBlock(_ctx: FlashContext, block: PlannedBlock): Promise<void> {
    this.changed = true;
    const max = this.eefc?.chunkMax ?? this.nvm!.chunkMax;
    const p = this.pending;
    if (p && p.addr + p.length === block.address && p.length + block.data.length <= max) {
      p.parts.push(block.data);
      p.length += block.data.length;
      return;
    }
    await this.flush();
    this.pending = { addr: block.address, parts: [block.data], length: block.data.length };
  }

  private async flush(): Promise<void> {
    const p = this.pending;
    this.pending = undefined;
    if (!p) return;
    const data = concatBytes(p.parts);
    if (this.eefc) await this.eefc.write(p.addr, data);
    else await this.nvm!.write(p.addr, data);
  }

  async endWrite(): Promise<void> {
    await this.flush();
  }

  /** Read-back (EEFC): a chunk of the plan's contiguous blocks at a time, served per block. */
  async readBlock(_ctx: FlashContext, block: PlannedBlock): Promise<Uint8Array> {
    const c = this.cache;
    const n = block.data.length;
    if (!c || block.address < c.addr || block.address + n > c.addr + c.data.length) {
      const run = runs(
        this.plan?.blocks ?? [block],
        this.eefc?.chunkMax ?? this.nvm!.chunkMax,
      ).find((r) => block.address >= r.addr && block.address < r.addr + r.length) ?? {
        addr: block.address,
        length: n,
        parts: [],
      };
      const data = this.eefc
        ? await this.eefc.read(run.addr, run.length)
        : await this.nvm!.read(run.addr, run.length);
      this.cache = { addr: run.addr, data };
    }
    const off = block.address - this.cache!.addr;
    return this.cache!.data.slice(off, off + n);
  }

  /** Z per chunk against the CRC of the planned bytes (a monitor without Z: read back and compare). */
  async verifyDigest(_ctx: FlashContext, plan: FlashPlan): Promise<boolean> {
    const nvm = this.nvm!;
    const canZ = this.reached!.version.canChecksum;
    for (const run of runs(plan.blocks, nvm.chunkMax)) {
      const want = concatBytes(run.parts);
      if (canZ) {
        if ((await nvm.checksum(run.addr, run.length)) !== crc16Xmodem(want)) return false;
      } else {
        const got = await nvm.read(run.addr, run.length);
        if (!got.every((b, i) => b === want[i])) return false;
      }
    }
    return true;
  }

  async finish(ctx: FlashContext): Promise<void> {
    if (this.eefc) {
      await this.eefc.setBootFromFlash();
      ctx.emit({
        type: "info",
        message: "boot from flash set (GPNVM1): the chip starts the new firmware",
      });
      await this.eefc.reset();
    } else await this.nvm!.reset();
    ctx.emit({
      type: "info",
      message: `reset ${this.o.device}: ${this.o.target.bootloader} starts the application`,
    });
  }

  /**
   * Refused before anything was erased or written, after this run touched the
   * board out of its application: back to it (SAM3/SAM4: boot-from-flash
   * again; then a reset). Not after the Due's erasing touch: there is no
   * application left to go back to.
   */
  async abandon(): Promise<boolean> {
    const r = this.reached;
    if (!r || r.entered !== "touch" || this.changed || this.o.stayInMonitor) return false;
    if (this.eefc) await this.eefc.setBootFromFlash();
    await (this.eefc ?? this.nvm)?.reset();
    return true;
  }

  async close(): Promise<void> {
    const r = this.reached;
    this.reached = undefined;
    await r?.link.close();
  }
}

/** The plan's blocks as contiguous runs of at most `max` bytes, with their data. */
function runs(blocks: readonly PlannedBlock[], max: number): Run[] {
  const out: Run[] = [];
  for (const b of blocks) {
    const last = out.at(-1);
    if (last && last.addr + last.length === b.address && last.length + b.data.length <= max) {
      last.parts.push(b.data);
      last.length += b.data.length;
    } else out.push({ addr: b.address, parts: [b.data], length: b.data.length });
  }
  return out;
}
