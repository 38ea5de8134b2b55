// STK500v2 through the flasher core (what `avrdude -cwiring -D` does) for
// the Arduino Mega 2560 bootloader: reset pulse, sign-on inside the listen
// window, signature check, then every page from 0x0000 in order with no gaps
// (the bootloader erases by its own page counter, stk500v2.md §5), read-back
// verify, leave programming mode. Never CHIP_ERASE: it always answers FAILED.

import type { DeviceInfo, FlashAdapter, FlashContext } from "../../../flash-api/adapter.js";
import type { PlannedBlock } from "../../../flash-api/geometry.js";
import { AvrSignatureMismatchError } from "../errors.js";
import { syncRounds } from "../rounds.js";
import type { ByteTransport } from "../../../transport/byte-transport.js";
import { formatSignature, type AvrPart } from "../parts.js";
import { Param } from "./codec.js";
import { Stk500v2Session } from "./session.js";

/** Full sign-on rounds (reset + listen window) before giving up. */
export const SIGN_ON_RESET_ROUNDS = 3;

export interface Stk500v2Options {
  port: string;
  baud: number;
  part: AvrPart;
  bootloader: string;
  bootStart: number;
  listenWindowMs: number;
  /** The target row (for messages). */
  target: string;
  /** Reset the board with a DTR/RTS pulse (the row's dtr-rts-reset entry); false: a person presses reset. */
  autoReset: boolean;
  resetRounds?: number;
  open: () => Promise<ByteTransport>;
}

export class Stk500v2Adapter implements FlashAdapter {
  readonly protocol = "stk500v2";
  readonly capabilities = {
    verify: "readback",
    erase: "none",
    abandoned: "starts-application",
  } as const;
  private link: ByteTransport | undefined;
  private session: Stk500v2Session | undefined;

  constructor(readonly options: Stk500v2Options) {}

  private get s(): Stk500v2Session {
    if (!this.session) throw new Error("STK500v2 adapter used before enter()");
    return this.session;
  }

  private get extended(): boolean {
    return this.options.part.flashSize > 0x20000;
  }

  async enter(ctx: FlashContext): Promise<void> {
    this.link = await this.options.open();
    this.session = new Stk500v2Session(this.link, ctx.signal);
  }

  async connect(ctx: FlashContext): Promise<DeviceInfo> {
    const o = this.options;
    const name = await syncRounds(
      this.link!,
      { ...o, rounds: o.resetRounds ?? SIGN_ON_RESET_ROUNDS },
      ctx,
      async (windowMs) => {
        const r = await this.s.signOn(windowMs);
        return { value: r.name, attempts: r.attempts };
      },
    );
    const major = await this.s.parameter(Param.SW_MAJOR);
    const minor = await this.s.parameter(Param.SW_MINOR);
    await this.s.enterProgmode();
    const sig = await this.s.signature();
    if (!o.part.signature.every((b, i) => b === sig[i]))
      throw new AvrSignatureMismatchError(o.part.name, o.part.signature, sig);
    return {
      geometry: {
        start: 0,
        end: o.bootStart,
        blockSize: o.part.pageSize,
        eraseUnit: o.part.pageSize,
        padByte: 0xff,
        addressUnit: "word",
        contiguousFromStart: true,
      },
      mcu: o.part.name,
      bootloaderVersion: `${major}.${minor}`,
      description: `${o.bootloader} ${major}.${minor} (STK500v2, ${name}) on ${o.part.name}, signature ${formatSignature(sig)}`,
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
