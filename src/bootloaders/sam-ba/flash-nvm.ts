// Flash through the Arduino Zero (SAMD21) and UF2 (SAMD51) monitors with
// their Arduino extensions (sam-ba.md §6, §7): the host erases exactly the
// image's rows (SAMD21, 256 B) or blocks (SAMD51, 8 KiB) through NVMCTRL
// register writes — neither monitor's Y erases — then each chunk of up to
// 4 KiB goes S into RAM and Y into flash; Z gives a CRC-16 of flash for the
// verify. NVMCTRL's error flags are read after every erase and chunk, so a
// write the bootloader's BOOTPROT or a lock bit refused is named, not found
// later as a verify mismatch. Reset is AIRCR (the bootloader then starts
// the application).

import type { Clock } from "../../util/clock.js";
import { bufferStart } from "./applet.js";
import { SamBaFlashError } from "./errors.js";
import type { SamChip } from "./parts.js";
import { ARDUINO_BUFFER_MAX, type SambaSession } from "./session.js";

/** One erase command (a SAMD51 block takes the longest). */
export const NVM_READY_TIMEOUT_MS = 1000;

const NVM = 0x41004000;
const D21 = {
  CTRLA: 0x00,
  INTFLAG: 0x14,
  STATUS: 0x18,
  ADDR: 0x1c,
  ER: 0x02,
  READY: 1,
  ERROR: 2,
  LOCKE: 8,
};
const D51 = {
  CTRLB: 0x04,
  INTFLAG: 0x10,
  STATUS: 0x12,
  ADDR: 0x14,
  EB: 0x01,
  READY: 1,
  ERRORS: 0xce,
  LOCKE: 8,
};

export class NvmFlash {
  readonly buffer: number;
  readonly chunkMax = ARDUINO_BUFFER_MAX;
  readonly eraseUnit: number;

  constructor(
    private readonly s: SambaSession,
    readonly chip: SamChip,
    private readonly clock: Clock,
  ) {
    this.buffer = bufferStart(chip.appletAddr);
    this.eraseUnit = chip.controller === "nvm-d2x" ? chip.pageSize * 4 : chip.pageSize * 16;
  }

  private get d21(): boolean {
    return this.chip.controller === "nvm-d2x";
  }

  /**
   * Errors NVMCTRL flagged since the last check (cleared as they are read).
   * After a Y only a lock error counts: the Zero bootloader's own WP after
   * an automatic page write may leave a harmless programming-error flag.
   */
  private async check(op: string, addr: number, lockOnly = false): Promise<void> {
    let status: number;
    let locked: boolean;
    if (this.d21) {
      if (!((await this.s.readWord(NVM + D21.INTFLAG)) & D21.ERROR)) return;
      status = await this.s.readWord(NVM + D21.STATUS);
      locked = (status & D21.LOCKE) !== 0;
      await this.s.writeWords([
        [NVM + D21.INTFLAG, D21.ERROR],
        [NVM + D21.STATUS, 0x1e],
      ]);
    } else {
      status = (await this.s.readWord(NVM + D51.INTFLAG)) & 0xffff;
      if (!(status & D51.ERRORS)) return;
      locked = (status & D51.LOCKE) !== 0;
      await this.s.writeByte(NVM + D51.INTFLAG, D51.ERRORS);
    }
    if (lockOnly && !locked) return;
    throw new SamBaFlashError({
      operation: op,
      address: addr,
      reason: locked ? "locked" : "command",
      status,
      controller: "NVMCTRL",
    });
  }

  private async waitReady(op: string, addr: number): Promise<void> {
    const deadline = this.clock.now() + NVM_READY_TIMEOUT_MS;
    for (;;) {
      const ready = this.d21
        ? ((await this.s.readWord(NVM + D21.INTFLAG)) & D21.READY) !== 0
        : ((await this.s.readByte(NVM + D51.STATUS)) & D51.READY) !== 0;
      if (ready) return;
      if (this.clock.now() > deadline)
        throw new SamBaFlashError({
          operation: op,
          address: addr,
          reason: "timeout",
          status: 0,
          controller: "NVMCTRL",
        });
    }
  }

  /** Clears error flags an earlier session left. */
  async clearErrors(): Promise<void> {
    await this.check("erase", 0, true).catch(() => undefined);
  }

  /** Erases every row (SAMD21) or block (SAMD51) that [start, end) touches. */
  async erase(start: number, end: number): Promise<void> {
    const u = this.eraseUnit;
    for (let a = start - (start % u); a < end; a += u) {
      await this.s.writeWords(
        this.d21
          ? [
              [NVM + D21.ADDR, a >>> 1],
              [NVM + D21.CTRLA, 0xa500 | D21.ER],
            ]
          : [
              [NVM + D51.ADDR, a],
              [NVM + D51.CTRLB, 0xa500 | D51.EB],
            ],
      );
      await this.waitReady("erase", a);
      await this.check("erase", a);
    }
  }

  /** Writes a chunk (at most chunkMax bytes, whole pages) with S + Y. */
  async write(addr: number, data: Uint8Array): Promise<void> {
    await this.s.write(this.buffer, data);
    // no NVMCTRL check here: the erase of the same rows already proved them unlocked
    await this.s.writeBuffer(this.buffer, addr, data.length);
  }

  /** CRC-16/XMODEM of flash (Z). */
  checksum(addr: number, n: number): Promise<number> {
    return this.s.checksum(addr, n);
  }

  read(addr: number, n: number): Promise<Uint8Array> {
    return this.s.read(addr, n);
  }

  /** Resets the chip (AIRCR); the write gets no answer. */
  async reset(): Promise<void> {
    await this.s.writeWord(this.chip.reset.addr, this.chip.reset.value);
  }
}
