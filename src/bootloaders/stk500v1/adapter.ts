// STK500v1 through the flasher core (what `avrdude -carduino -D` does):
// reset pulse, sync inside the listen window (new reset rounds when it
// passes), signature checked against the target part, pages written at
// word addresses, read back, leave programming mode. The Arduino bootloaders
// erase each page as they write it: no erase phase.
//
// A failed verify sends no LEAVE_PROGMODE. These bootloaders still start the
// application on their own after about a second of silence — the message
// says so (see hints), and a new run resets the board back into them.

import type { DeviceInfo, FlashAdapter, FlashContext } from "../../flash-api/adapter.js";
import type { PlannedBlock } from "../../flash-api/geometry.js";
import { AvrNoAnswerError, AvrSignatureMismatchError } from "../avr/errors.js";
import { pulseReset, type AvrLink } from "../avr/link.js";
import { formatSignature, type AvrPart } from "../avr/parts.js";
import { Param } from "./codec.js";
import { Stk500v1Session } from "./session.js";

/** Full sync rounds (reset + listen window) before giving up. */
export const SYNC_RESET_ROUNDS = 3;

export interface Stk500v1Options {
  /** For messages: the tty. */
  port: string;
  baud: number;
  part: AvrPart;
  /** "Optiboot", "ATmegaBOOT". */
  bootloader: string;
  /** Application area end: the bootloader's start address. */
  bootStart: number;
  /** How long the bootloader listens after a reset. */
  listenWindowMs: number;
  resetRounds?: number;
  open: () => Promise<AvrLink>;
}

export class Stk500v1Adapter implements FlashAdapter {
  readonly protocol = "stk500v1";
  readonly capabilities = { verify: "readback", erase: "none" } as const;
  private link: AvrLink | undefined;
  private session: Stk500v1Session | undefined;
  private resetPulsed = false;

  constructor(readonly options: Stk500v1Options) {}

  private get s(): Stk500v1Session {
    if (!this.session) throw new Error("STK500v1 adapter used before enter()");
    return this.session;
  }

  /** Above 128 KiB the word address needs a third byte (LOAD EXTENDED ADDRESS). */
  private get extended(): boolean {
    return this.options.part.flashSize > 0x20000;
  }

  async enter(ctx: FlashContext): Promise<void> {
    this.link = await this.options.open();
    this.session = new Stk500v1Session(this.link, ctx.signal);
  }

  async connect(ctx: FlashContext): Promise<DeviceInfo> {
    const o = this.options;
    const rounds = o.resetRounds ?? SYNC_RESET_ROUNDS;
    let attempts = 0;
    let got: string | undefined;
    let synced = false;
    for (let round = 1; round <= rounds && !synced; round++) {
      const pulsed = await pulseReset(this.link!, ctx.signal);
      this.resetPulsed ||= pulsed;
      ctx.emit({
        type: "info",
        message: pulsed
          ? `reset ${o.port} into the ${o.bootloader} bootloader (DTR/RTS pulse)`
          : `${o.port} takes no DTR/RTS: syncing without a reset pulse`,
        data: { round },
      });
      const r = await this.s.sync(o.listenWindowMs);
      attempts += r.attempts;
      got = r.got ?? got;
      synced = r.ok;
    }
    if (!synced)
      throw new AvrNoAnswerError(
        o.port,
        o.baud,
        o.bootloader,
        o.listenWindowMs,
        attempts,
        this.resetPulsed,
        got,
      );
    const major = await this.s.parameter(Param.SW_MAJOR);
    const minor = await this.s.parameter(Param.SW_MINOR);
    await this.s.enterProgmode();
    const sig = await this.s.signature();
    if (!o.part.signature.every((b, i) => b === sig[i]))
      throw new AvrSignatureMismatchError(o.part.name, o.part.signature, Array.from(sig));
    return {
      geometry: {
        start: 0,
        end: o.bootStart,
        blockSize: o.part.pageSize,
        eraseUnit: o.part.pageSize,
        padByte: 0xff,
        addressUnit: "word",
      },
      mcu: o.part.name,
      bootloaderVersion: `${major}.${minor}`,
      description: `${o.bootloader} ${major}.${minor} (STK500v1) on ${o.part.name}, signature ${formatSignature(sig)}`,
    };
  }

  async writeBlock(_ctx: FlashContext, block: PlannedBlock): Promise<void> {
    await this.s.loadAddress(block.address, this.extended);
    await this.s.programPage(block.address, block.data);
  }

  async readBlock(_ctx: FlashContext, block: PlannedBlock): Promise<Uint8Array> {
    await this.s.loadAddress(block.address, this.extended);
    return this.s.readPage(block.address, block.data.length);
  }

  async finish(): Promise<void> {
    await this.s.leaveProgmode();
  }

  async close(): Promise<void> {
    await this.link?.close();
    this.link = undefined;
  }
}
