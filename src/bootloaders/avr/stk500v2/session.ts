// An STK500v2 conversation with the Arduino Mega 2560 bootloader: numbered
// messages, replies accepted only with our sequence number and command id.
// The bootloader drops a message with a bad checksum silently, so a missing
// reply is resent (same number) until the retry budget is spent.

import type { ByteTransport } from "../../../transport/byte-transport.js";
import { throwIfAborted } from "../../../util/errors.js";
import { moduleLogger } from "../../../util/log.js";
import { Stk500ProtocolError } from "../errors.js";
import * as c from "./codec.js";

const log = moduleLogger("stk500v2");

/** Per message: a page write (erase + program) or a 256-byte read at 115200 baud take < 40 ms. */
export const MESSAGE_REPLY_MS = 1000;
/** One sign-on attempt: the bootloader answers within milliseconds once it runs. */
export const SIGN_ON_ATTEMPT_MS = 200;
/**
 * Tries of a message whose reply did not come — only for idempotent ones.
 * A page write or read is never resent: the bootloader advances its address
 * (and its own erase pointer) with each, so a resend would land one page on.
 */
export const MESSAGE_RETRIES = 3;

export class Stk500v2Session {
  private seq = 1;
  private readonly reader = new c.MessageReader();

  constructor(
    readonly link: ByteTransport,
    private readonly signal?: AbortSignal,
  ) {}

  /** Sends `body` and returns the reply body (status checked by the caller). */
  private async exchange(
    body: number[],
    what: string,
    replyMs: number,
    tries: number,
  ): Promise<Uint8Array | undefined> {
    const clock = this.link.clock;
    const seq = this.seq;
    const msg = c.encodeMessage(seq, body);
    for (let attempt = 1; attempt <= tries; attempt++) {
      throwIfAborted(this.signal, what);
      await this.link.write(msg);
      const end = clock.now() + replyMs;
      while (clock.now() < end) {
        const bytes = await this.link.read(
          end - clock.now(),
          this.signal ? { signal: this.signal } : {},
        );
        for (const m of this.reader.push(bytes)) {
          if (m.seq !== seq || m.body[0] !== body[0]) {
            log.debug({ want: seq, got: m.seq, cmd: m.body[0] }, "stale reply dropped");
            continue;
          }
          this.seq = (seq + 1) & 0xff;
          return m.body;
        }
      }
      log.debug({ what, attempt }, "no reply: resending");
    }
    return undefined;
  }

  /** A command whose reply must be `id STATUS_CMD_OK …`; returns the bytes after the status. */
  async command(
    body: number[],
    what: string,
    tries = MESSAGE_RETRIES,
    replyMs = MESSAGE_REPLY_MS,
  ): Promise<Uint8Array> {
    const reply = await this.exchange(body, what, replyMs, tries);
    if (!reply)
      throw new Stk500ProtocolError(
        what,
        `no reply within ${replyMs} ms${tries > 1 ? ` (${tries} tries)` : ""}`,
      );
    if (reply[1] !== c.Status.CMD_OK)
      throw new Stk500ProtocolError(what, `the bootloader answered ${c.statusName(reply[1])}`);
    return reply.subarray(2);
  }

  /** SIGN_ON until the deadline; the programmer name ("AVRISP_2"), or undefined. */
  async signOn(windowMs: number): Promise<{ name: string | undefined; attempts: number }> {
    const clock = this.link.clock;
    const end = clock.now() + windowMs;
    let attempts = 0;
    while (clock.now() < end) {
      attempts++;
      this.link.discardInput();
      const reply = await this.exchange(
        c.signOn(),
        "SIGN_ON",
        Math.min(SIGN_ON_ATTEMPT_MS, Math.max(1, end - clock.now())),
        1,
      );
      if (reply && reply[1] === c.Status.CMD_OK) {
        const len = reply[2] ?? 0;
        return { name: new TextDecoder("latin1").decode(reply.subarray(3, 3 + len)), attempts };
      }
    }
    return { name: undefined, attempts };
  }

  async parameter(p: number): Promise<number> {
    return (await this.command(c.getParameter(p), `GET_PARAMETER 0x${p.toString(16)}`))[0] ?? 0;
  }

  async enterProgmode(): Promise<void> {
    await this.command(c.enterProgmode(), "ENTER_PROGMODE_ISP");
  }

  async leaveProgmode(): Promise<void> {
    await this.command(c.leaveProgmode(), "LEAVE_PROGMODE_ISP");
  }

  async signature(): Promise<number[]> {
    const sig: number[] = [];
    for (let i = 0; i < 3; i++)
      sig.push((await this.command(c.readSignatureByte(i), `READ_SIGNATURE ${i}`))[0]!);
    return sig;
  }

  async loadAddress(byteAddress: number, extended: boolean): Promise<void> {
    await this.command(
      c.loadAddress(byteAddress, extended),
      `LOAD_ADDRESS 0x${byteAddress.toString(16)}`,
    );
  }

  async programPage(byteAddress: number, data: Uint8Array): Promise<void> {
    await this.command(c.programFlash(data), `PROGRAM_FLASH at 0x${byteAddress.toString(16)}`, 1);
  }

  /** READ_FLASH_ISP: `14 00 data… 00`. */
  async readPage(byteAddress: number, length: number): Promise<Uint8Array> {
    const r = await this.command(
      c.readFlash(length),
      `READ_FLASH at 0x${byteAddress.toString(16)}`,
      1,
    );
    if (r.length < length + 1)
      throw new Stk500ProtocolError(
        `READ_FLASH at 0x${byteAddress.toString(16)}`,
        `reply holds ${r.length - 1} of ${length} bytes`,
      );
    return Uint8Array.from(r.subarray(0, length));
  }
}
