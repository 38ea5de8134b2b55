// Flash through a SAM3X/SAM4 ROM monitor's EEFC (sam-ba.md §5, §6, §9): the
// applet goes to RAM once, FMR gets FWS=6 (SAM3 errata), the erase is EA on
// every plane (what bossac -e does), and a chunk of pages is written by one
// `G` of the applet's `program` entry (it waits for FRDY, fills the latch,
// writes FCR per page); its result word says whether every page went in.
// Read-back copies flash to RAM with the applet's `copy` entry (the SAM3 ROM
// reads flash as zeros) and reads the RAM. Boot from flash is GPNVM bit 1.

import type { Clock } from "../../util/clock.js";
import { AppletLayout, appletImage, bufferStart, PROGRAM_OK } from "./applet.js";
import { SamBaFlashError } from "./errors.js";
import type { SamChip } from "./parts.js";
import { SAMBA_LONG_MS, type SambaSession } from "./session.js";

/** EA can take long on the larger parts (bossac waits 30 s). */
export const EEFC_ERASE_ALL_TIMEOUT_MS = 30_000;
/** Any other EEFC command. */
export const EEFC_READY_TIMEOUT_MS = 1000;
/** Largest chunk written or read per applet call (RAM after the applet). */
export const EEFC_CHUNK_MAX = 16 * 1024;

const REG = { FMR: 0x0, FCR: 0x4, FSR: 0x8, FRR: 0xc } as const;
const FSR = { FRDY: 1, FCMDE: 2, FLOCKE: 4 } as const;
const CMD = { WP: 0x01, EA: 0x05, SGPB: 0x0b, GGPB: 0x0d } as const;
const KEY = 0x5a000000;

export class EefcFlash {
  readonly buffer: number;
  readonly chunkMax: number;
  private prepared = false;

  constructor(
    private readonly s: SambaSession,
    readonly chip: SamChip,
    private readonly clock: Clock,
  ) {
    this.buffer = bufferStart(chip.appletAddr);
    const room = chip.stackAddr - 0x800 - this.buffer;
    this.chunkMax = Math.min(EEFC_CHUNK_MAX, room - (room % chip.pageSize));
  }

  private get applet(): number {
    return this.chip.appletAddr;
  }

  private plane(addr: number): { regs: number; firstPage: number; end: number } {
    const c = this.chip;
    const perPlane = c.pages / c.planes;
    const page = Math.floor((addr - c.flashBase) / c.pageSize);
    const p = Math.min(c.planes - 1, Math.floor(page / perPlane));
    return {
      regs: c.eefcBase! + 0x200 * p,
      firstPage: p * perPlane,
      end: c.flashBase + (p + 1) * perPlane * c.pageSize,
    };
  }

  private planeRegs(): number[] {
    return Array.from({ length: this.chip.planes }, (_, i) => this.chip.eefcBase! + 0x200 * i);
  }

  /** Uploads the applet, sets the wait states. Only RAM and FMR change. */
  async prepare(): Promise<void> {
    if (this.prepared) return;
    await this.s.write(this.applet, appletImage());
    await this.s.writeWords([
      ...this.planeRegs().map((r) => [r + REG.FMR, 0x600] as const),
      [this.applet + AppletLayout.VECTOR, this.chip.stackAddr],
    ]);
    this.prepared = true;
  }

  private async waitReady(
    regs: number,
    op: string,
    addr: number,
    timeoutMs: number,
  ): Promise<void> {
    const deadline = this.clock.now() + timeoutMs;
    for (;;) {
      const fsr = await this.s.readWord(regs + REG.FSR);
      if (fsr & (FSR.FCMDE | FSR.FLOCKE))
        throw new SamBaFlashError({
          operation: op,
          address: addr,
          reason: fsr & FSR.FLOCKE ? "locked" : "command",
          status: fsr,
          controller: "EEFC",
        });
      if (fsr & FSR.FRDY) return;
      if (this.clock.now() > deadline)
        throw new SamBaFlashError({
          operation: op,
          address: addr,
          reason: "timeout",
          status: fsr,
          controller: "EEFC",
        });
    }
  }

  /** Erases every plane (EA). */
  async eraseAll(): Promise<void> {
    await this.prepare();
    for (const regs of this.planeRegs()) {
      await this.waitReady(regs, "erase", this.chip.flashBase, EEFC_READY_TIMEOUT_MS);
      await this.s.writeWord(regs + REG.FCR, KEY | CMD.EA);
      await this.waitReady(regs, "erase", this.chip.flashBase, EEFC_ERASE_ALL_TIMEOUT_MS);
    }
  }

  /** Writes whole pages at `addr` (erased before), one applet call per plane. */
  async write(addr: number, data: Uint8Array): Promise<void> {
    await this.prepare();
    const c = this.chip;
    let at = 0;
    while (at < data.length) {
      const p = this.plane(addr + at);
      const n = Math.min(data.length - at, p.end - (addr + at));
      const page = Math.floor((addr + at - c.flashBase) / c.pageSize) - p.firstPage;
      await this.s.write(this.buffer, data.subarray(at, at + n));
      const A = this.applet;
      await this.s.writeWords([
        [A + AppletLayout.DST, addr + at],
        [A + AppletLayout.SRC, this.buffer],
        [A + AppletLayout.WORDS, c.pageSize / 4],
        [A + AppletLayout.FCR, p.regs + REG.FCR],
        [A + AppletLayout.FCR_VALUE, (KEY | (page << 8) | CMD.WP) >>> 0],
        [A + AppletLayout.PAGES, n / c.pageSize],
        [A + AppletLayout.RESULT, 0],
        [A + AppletLayout.ENTRY, A + AppletLayout.PROGRAM_ENTRY + 1],
      ]);
      await this.s.go(A + AppletLayout.VECTOR);
      const result = await this.s.readWord(A + AppletLayout.RESULT, SAMBA_LONG_MS);
      if (result !== PROGRAM_OK)
        throw new SamBaFlashError({
          operation: "write",
          address: addr + at,
          reason: result & FSR.FLOCKE ? "locked" : "command",
          status: result,
          controller: "EEFC",
        });
      at += n;
    }
  }

  /** Reads flash through RAM (the applet copies it there first). */
  async read(addr: number, n: number): Promise<Uint8Array> {
    await this.prepare();
    const A = this.applet;
    await this.s.writeWords([
      [A + AppletLayout.DST, this.buffer],
      [A + AppletLayout.SRC, addr],
      [A + AppletLayout.WORDS, Math.ceil(n / 4)],
      [A + AppletLayout.ENTRY, A + AppletLayout.COPY_ENTRY + 1],
    ]);
    await this.s.go(A + AppletLayout.VECTOR);
    return this.s.read(this.buffer, n);
  }

  /** GPNVM bit 1 (boot from flash) as it is now. */
  async bootsFromFlash(): Promise<boolean> {
    const regs = this.chip.eefcBase!;
    await this.waitReady(regs, "boot-from-flash", 1, EEFC_READY_TIMEOUT_MS);
    await this.s.writeWord(regs + REG.FCR, KEY | CMD.GGPB);
    await this.waitReady(regs, "boot-from-flash", 1, EEFC_READY_TIMEOUT_MS);
    return ((await this.s.readWord(regs + REG.FRR)) & 2) !== 0;
  }

  /** Sets GPNVM bit 1 unless it is set, and checks it took. */
  async setBootFromFlash(): Promise<void> {
    if (await this.bootsFromFlash()) return;
    const regs = this.chip.eefcBase!;
    await this.s.writeWord(regs + REG.FCR, (KEY | (1 << 8) | CMD.SGPB) >>> 0);
    await this.waitReady(regs, "boot-from-flash", 1, EEFC_READY_TIMEOUT_MS);
    if (!(await this.bootsFromFlash()))
      throw new SamBaFlashError({
        operation: "boot-from-flash",
        address: 1,
        reason: "command",
        status: 0,
        controller: "EEFC",
      });
  }

  /** Resets the chip (RSTC); the write gets no answer. */
  async reset(): Promise<void> {
    await this.s.writeWord(this.chip.reset.addr, this.chip.reset.value);
  }
}
