// STK500v1 through the flasher core (what `avrdude -carduino -D` does):
// reset pulse, sync inside the listen window (new reset rounds when it
// passes), signature checked against the target part, pages written at
// word addresses, read back, leave programming mode. The Arduino bootloaders
// erase each page as they write it: no erase phase.
//
// A failed verify sends no LEAVE_PROGMODE. These bootloaders still start the
// application on their own after about a second of silence — the message
// says so (see hints), and a new run resets the board back into them.

import type { DeviceInfo, FlashAdapter, FlashContext } from "../../../flash-api/adapter.js";
import type { PlannedBlock } from "../../../flash-api/geometry.js";
import { AvrSignatureMismatchError } from "../errors.js";
import { syncRounds } from "../rounds.js";
import type { ByteTransport } from "../../../transport/byte-transport.js";
import { formatSignature, type AvrPart } from "../parts.js";
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
  /** The target row (for messages). */
  target: string;
  /** Reset the board with a DTR/RTS pulse (the row's dtr-rts-reset entry); false: a person presses reset. */
  autoReset: boolean;
  resetRounds?: number;
  open: () => Promise<ByteTransport>;
}

export class Stk500v1Adapter implements FlashAdapter {
  readonly protocol = "stk500v1";
  readonly capabilities = {
    verify: "readback",
    erase: "none",
    abandoned: "starts-application",
  } as const;
  private link: ByteTransport | undefined;
  private session: Stk500v1Session | undefined;

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
    await syncRounds(
      this.link!,
      { ...o, rounds: o.resetRounds ?? SYNC_RESET_ROUNDS },
      ctx,
      async (windowMs) => {
        const r = await this.s.sync(windowMs);
        return { value: r.ok ? true : undefined, attempts: r.attempts, got: r.got };
      },
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
