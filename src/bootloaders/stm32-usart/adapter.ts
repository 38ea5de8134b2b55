// The STM32 ROM USART bootloader through the flasher core (what
// `stm32flash -w file -v -g 0` does): reach the ROM (BOOT0 + reset), GET /
// GET_VERSION / GET_ID, the part from its product id, readout protection
// from the first READ, the flash size and write protection from the chip's
// own registers; checks before anything is written (the part is the row's,
// the image is linked where it goes, a bootloader sits below an image that
// starts above the flash start, nothing it needs is write-protected); then
// erase exactly the pages or sectors the image covers (mass erase only when
// asked), write ≤ 256-byte word-aligned blocks, read them back, and GO to
// the flash start only after verification. On failure the ROM stays: the
// board waits in its bootloader until the next reset.

import type { DeviceInfo, FlashAdapter, FlashContext } from "../../flash-api/adapter.js";
import type { FlashPlan, PlannedBlock } from "../../flash-api/geometry.js";
import { targets } from "../../targets/index.js";
import type { ByteTransport } from "../../transport/byte-transport.js";
import { OperationTimeoutError } from "../../util/errors.js";
import { moduleLogger } from "../../util/log.js";
import * as c from "./codec.js";
import { reachRom } from "./entry.js";
import { LineSequenceRefusedError } from "../../flash-api/errors.js";
import type { LineSequence } from "../../transport/line-sequence.js";
import { runLineSequence } from "../../transport/modem.js";
import {
  Stm32EraseUnsupportedError,
  Stm32NackError,
  Stm32NoBootloaderBelowError,
  Stm32ReadoutProtectedError,
  Stm32UnknownPartError,
  Stm32WriteProtectedError,
  Stm32WrongPartError,
} from "./errors.js";
import {
  checkLinkedAtStart,
  findBelow,
  overlaps,
  protectedRanges,
  type Region,
} from "./image-checks.js";
import {
  describeLayout,
  eraseUnits,
  formatPid,
  partById,
  unitsCovering,
  type EraseUnit,
  type Stm32Part,
} from "./parts.js";
import { Stm32UsartSession, type LineTiming } from "./session.js";

const log = moduleLogger("stm32-usart");

export interface Stm32AdapterOptions {
  /** For messages: the tty. */
  port: string;
  line: LineTiming;
  /** "8e1", "8n1". */
  mode: string;
  /** The target row: its id and chip. */
  target: { id: string; chip: string };
  open: () => Promise<ByteTransport>;
  /** Erase the whole flash instead of the image's pages. */
  massErase?: boolean;
  quickSyncMs?: number;
  entryWaitMs?: number;
  /** DTR/RTS sequences wired to BOOT0/RESET (stm32flash's -i): entry before the sync, exit to start the firmware. */
  lines?: LineSequence;
}

/** What the ROM and the chip's registers say, before any check. */
export interface Stm32Identity {
  version: number;
  commands: number[];
  pid: number;
  part: Stm32Part | undefined;
  /** READ_MEMORY answered NACK: readout protection is on. */
  readoutProtected: boolean;
  /** From the flash-size register; the part's largest when unreadable. */
  flashSize: number | undefined;
  /** Write-protected ranges; undefined when the option bytes could not be read or decoded. */
  writeProtected: Array<[number, number]> | undefined;
}

const KIB = 1024;

/** The flash-size register is 16 bits of KiB; 0xFFFF or 0 means "not programmed". */
function flashSizeFrom(reg: Uint8Array, part: Stm32Part): number {
  const kib = reg[0]! | (reg[1]! << 8);
  if (kib === 0 || kib === 0xffff || kib * KIB > part.maxFlashSize) return part.maxFlashSize;
  return kib * KIB;
}

export class Stm32UsartAdapter implements FlashAdapter {
  readonly protocol = "stm32-usart";
  readonly capabilities = {
    verify: "readback",
    erase: "pages",
    abandoned: "stays-in-bootloader",
  } as const;
  private link: ByteTransport | undefined;
  private session: Stm32UsartSession | undefined;
  private id: Stm32Identity | undefined;
  /** This run's entry sequence took the board into the ROM. */
  private entered = false;

  constructor(readonly options: Stm32AdapterOptions) {}

  private get s(): Stm32UsartSession {
    if (!this.session) throw new Error("STM32 ROM adapter used before enter()");
    return this.session;
  }

  private get flash(): Region & { part: Stm32Part } {
    const id = this.id;
    if (!id?.part || id.flashSize === undefined)
      throw new Error("STM32 ROM adapter used before connect()");
    return { start: id.part.flashBase, end: id.part.flashBase + id.flashSize, part: id.part };
  }

  /** Opens the line and syncs with the ROM (asking a person to set BOOT0 and reset when it does not answer). */
  async enter(ctx: FlashContext): Promise<void> {
    await this.reach(ctx, true);
  }

  /** Opens the line and syncs; `prompt` false only tries briefly (probe). */
  async reach(ctx: FlashContext, prompt: boolean): Promise<"ack" | "nack"> {
    this.link = await this.options.open();
    this.session = new Stm32UsartSession(this.link, this.options.line, ctx.signal);
    const o = this.options;
    const seq = o.lines?.entry.length ? o.lines : undefined;
    // A probe changes nothing and a dry run resets nothing: the sequence runs only for a real entry.
    if (seq && prompt && !ctx.dryRun) {
      if (!(await runLineSequence(this.link, seq.entry, this.link.clock, ctx.signal)))
        throw new LineSequenceRefusedError(o.port, seq.text);
      this.entered = true;
      this.link.discardInput();
      ctx.emit({
        type: "info",
        message: `ran the DTR/RTS entry sequence ${seq.text} (BOOT0 high, then reset)`,
        data: { lineSequence: "entry" },
      });
    }
    const how = await reachRom(this.s, ctx, {
      ...(seq ? { wouldDo: `run the DTR/RTS entry sequence ${seq.text} (BOOT0 high, reset)` } : {}),
      port: o.port,
      baud: o.line.baud,
      mode: o.mode,
      prompt,
      ...(o.quickSyncMs !== undefined ? { quickSyncMs: o.quickSyncMs } : {}),
      ...(o.entryWaitMs !== undefined ? { entryWaitMs: o.entryWaitMs } : {}),
    });
    log.debug({ port: o.port, how }, "STM32 ROM synced");
    return how;
  }

  /** GET (realigning once if a stray byte sits in the ROM's parser), GET_VERSION, GET_ID, then the registers. */
  async identify(): Promise<Stm32Identity> {
    const s = this.s;
    let get: c.GetReply;
    try {
      get = await s.get();
    } catch (e) {
      if (!(e instanceof Stm32NackError) && !(e instanceof OperationTimeoutError)) throw e;
      await s.realign();
      get = await s.get();
    }
    await s.getVersion();
    const pid = await s.getId();
    const part = partById(pid);
    const id: Stm32Identity = {
      version: get.version,
      commands: get.commands,
      pid,
      part,
      readoutProtected: false,
      flashSize: part?.maxFlashSize,
      writeProtected: undefined,
    };
    if (!part) return (this.id = id);
    try {
      id.flashSize = flashSizeFrom(await s.readMemory(part.flashSizeRegister, 2), part);
    } catch (e) {
      if (!(e instanceof Stm32NackError)) throw e;
      if (e.step === "command") id.readoutProtected = true;
      return (this.id = id);
    }
    s.pipelined = true; // READ works: readout protection is off
    try {
      const ob = await s.readMemory(part.optionBytes, 16);
      id.writeProtected = protectedRanges(ob, part, {
        start: part.flashBase,
        end: part.flashBase + id.flashSize,
      });
    } catch (e) {
      if (!(e instanceof Stm32NackError)) throw e;
    }
    return (this.id = id);
  }

  async connect(): Promise<DeviceInfo> {
    const o = this.options;
    const id = await this.identify();
    if (!id.part) throw new Stm32UnknownPartError(id.pid, o.target.id);
    const part = id.part;
    if (!part.chips.includes(o.target.chip))
      throw new Stm32WrongPartError({
        port: o.port,
        pid: id.pid,
        part: part.name,
        target: o.target.id,
        expectedChip: o.target.chip,
        suggestedTargets: targets()
          .filter((t) => t.protocol === "stm32-usart" && part.chips.includes(t.chip))
          .map((t) => t.id),
      });
    if (id.readoutProtected) throw new Stm32ReadoutProtectedError(o.port, id.pid, part.name);
    const size = id.flashSize!;
    const version = c.formatVersion(id.version);
    return {
      geometry: {
        start: part.flashBase,
        end: part.flashBase + size,
        blockSize: c.MAX_TRANSFER,
        ...(part.layout.kind === "pages" ? { eraseUnit: part.layout.size } : {}),
        padByte: 0xff,
        addressUnit: "byte",
      },
      ...(part.mcu ? { mcu: part.mcu } : {}),
      bootloaderVersion: version,
      description:
        `STM32 ROM bootloader ${version} on ${part.name} (${formatPid(id.pid)}), ` +
        `${size / KIB} KiB flash in ${describeLayout(part)}`,
    };
  }

  /** The erase command GET announced, or a refusal. */
  private eraseCommand(units: readonly EraseUnit[]): number {
    const cmds = this.id!.commands;
    if (cmds.includes(c.Cmd.EXTENDED_ERASE)) return c.Cmd.EXTENDED_ERASE;
    if (!cmds.includes(c.Cmd.ERASE))
      throw new Stm32EraseUnsupportedError(
        cmds,
        "GET lists neither ERASE (0x43) nor EXTENDED_ERASE (0x44)",
      );
    const over = units.find((u) => u.index > 0xff);
    if (over)
      throw new Stm32EraseUnsupportedError(
        cmds,
        `page ${over.index} is beyond what ERASE (0x43) can number`,
      );
    return c.Cmd.ERASE;
  }

  /** The erase units the plan's blocks touch. */
  private unitsOf(plan: FlashPlan): EraseUnit[] {
    const f = this.flash;
    return unitsCovering(
      eraseUnits(f.part, f.end - f.start),
      plan.blocks.map((b) => [b.address, b.address + b.data.length] as const),
    );
  }

  /** Before anything is written: the image is linked where it goes, starts something, and is writable. */
  async check(_ctx: FlashContext, plan: FlashPlan): Promise<void> {
    const f = this.flash;
    const units = this.unitsOf(plan);
    this.eraseCommand(units);
    checkLinkedAtStart(plan, f.part, f);
    if (plan.start > f.start) {
      const found = findBelow(await this.s.readMemory(f.start, 8), plan.start, f.part, f);
      if (found !== "bootloader") throw new Stm32NoBootloaderBelowError(plan.start, f.start, found);
    }
    const wp = this.id!.writeProtected;
    const touched = this.options.massErase
      ? [[f.start, f.end] as const]
      : units.map((u) => [u.start, u.start + u.size] as const);
    const hit = wp ? overlaps(touched, wp) : [];
    if (hit.length) throw new Stm32WriteProtectedError(this.options.port, hit);
  }

  async erase(ctx: FlashContext, plan: FlashPlan): Promise<void> {
    const units = this.unitsOf(plan);
    const cmd = this.eraseCommand(units);
    const s = this.s;
    if (this.options.massErase) {
      ctx.emit({ type: "info", message: "mass erase of the whole flash", data: { erase: "mass" } });
      if (cmd === c.Cmd.EXTENDED_ERASE)
        await s.extendedErase({ special: c.EXTENDED_ERASE_SPECIAL.MASS });
      else await s.erase("all");
      return;
    }
    const bytes = units.reduce((n, u) => n + u.size, 0);
    const kind = this.flash.part.layout.kind === "pages" ? "pages" : "sectors";
    ctx.emit({
      type: "info",
      message: `erasing ${units.length} ${kind} (${bytes / KIB} KiB) from 0x${units[0]!.start.toString(16)}`,
      data: { erase: kind, units: units.map((u) => u.index) },
    });
    const per = cmd === c.Cmd.ERASE ? c.MAX_ERASE_PAGES : c.MAX_EXTENDED_ERASE_PAGES;
    for (let i = 0; i < units.length; i += per) {
      const idx = units.slice(i, i + per).map((u) => u.index);
      if (cmd === c.Cmd.ERASE) await s.erase(idx);
      else await s.extendedErase(idx);
    }
  }

  /** Writes the block without its trailing erased bytes (the page was erased: they are 0xFF already). */
  async writeBlock(_ctx: FlashContext, block: PlannedBlock): Promise<void> {
    const data = c.trimErased(block.data);
    if (data.length === 0) return;
    await this.s.writeMemory(block.address, data);
  }

  async readBlock(_ctx: FlashContext, block: PlannedBlock): Promise<Uint8Array> {
    return this.s.readMemory(block.address, block.data.length);
  }

  /**
   * GO to the flash start (stm32flash's `-g 0`): the new firmware, or the
   * bootloader below it, starts. With an exit sequence, that reset (BOOT0
   * low) starts it instead, as every later reset will.
   */
  async finish(ctx: FlashContext): Promise<void> {
    const start = this.flash.start;
    if (await this.runExit()) {
      ctx.emit({
        type: "info",
        message: `ran the DTR/RTS exit sequence ${this.options.lines!.text}: the board restarts from flash (BOOT0 low)`,
        data: { lineSequence: "exit" },
      });
      return;
    }
    await this.s.go(start);
    ctx.emit({
      type: "info",
      message: `started the firmware at 0x${start.toString(16)}; set BOOT0 back to 0 so that the next reset boots it too`,
      data: { go: start },
    });
  }

  /** Nothing was written: an exit sequence sends a board this run reset into the ROM back to its application. */
  async abandon(ctx: FlashContext): Promise<boolean> {
    if (!this.entered || !(await this.runExit())) return false;
    ctx.emit({
      type: "info",
      message: `ran the DTR/RTS exit sequence ${this.options.lines!.text}: the board is back in its application`,
      data: { lineSequence: "exit" },
    });
    return true;
  }

  /** Runs the exit sequence; false when there is none or the port refused it. */
  private async runExit(): Promise<boolean> {
    const exit = this.options.lines?.exit;
    if (!exit?.length || !this.link) return false;
    return runLineSequence(this.link, exit, this.link.clock);
  }

  async close(): Promise<void> {
    await this.link?.close();
    this.link = undefined;
  }
}
