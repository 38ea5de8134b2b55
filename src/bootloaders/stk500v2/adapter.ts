// STK500v2 through the flasher core (what `avrdude -cwiring -D` does) for
// the Arduino Mega 2560 bootloader: reset pulse, sign-on inside the listen
// window, signature check, then every page from 0x0000 in order with no gaps
// (the bootloader erases by its own page counter, stk500v2.md §5), read-back
// verify, leave programming mode. Never CHIP_ERASE: it always answers FAILED.

import type { DeviceInfo, FlashAdapter, FlashContext } from "../../flash-api/adapter.js";
import type { PlannedBlock } from "../../flash-api/geometry.js";
import { AvrNoAnswerError, AvrSignatureMismatchError } from "../avr/errors.js";
import { pulseReset, type AvrLink } from "../avr/link.js";
import { formatSignature, type AvrPart } from "../avr/parts.js";
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
  resetRounds?: number;
  open: () => Promise<AvrLink>;
}

export class Stk500v2Adapter implements FlashAdapter {
  readonly protocol = "stk500v2";
  readonly capabilities = { verify: "readback", erase: "none" } as const;
  private link: AvrLink | undefined;
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
    let attempts = 0;
    let pulsedAny = false;
    let name: string | undefined;
    for (
      let round = 1;
      round <= (o.resetRounds ?? SIGN_ON_RESET_ROUNDS) && name === undefined;
      round++
    ) {
      const pulsed = await pulseReset(this.link!, ctx.signal);
      pulsedAny ||= pulsed;
      ctx.emit({
        type: "info",
        message: pulsed
          ? `reset ${o.port} into the ${o.bootloader} bootloader (DTR/RTS pulse)`
          : `${o.port} takes no DTR/RTS: signing on without a reset pulse`,
        data: { round },
      });
      const r = await this.s.signOn(o.listenWindowMs);
      attempts += r.attempts;
      name = r.name;
    }
    if (name === undefined)
      throw new AvrNoAnswerError(
        o.port,
        o.baud,
        o.bootloader,
        o.listenWindowMs,
        attempts,
        pulsedAny,
        undefined,
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
