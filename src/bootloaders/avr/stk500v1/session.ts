// An STK500v1 conversation with an Arduino bootloader (Optiboot,
// ATmegaBOOT) over any byte stream: strictly one command, then its whole
// reply (INSYNC, data, OK). Syncing happens inside the bootloader's listen
// window after a reset; attempts are spaced so that queued sync bytes never
// overrun the chip's two-byte UART FIFO while Optiboot flashes its LED.

import type { ByteTransport } from "../../../transport/byte-transport.js";
import { throwIfAborted } from "../../../util/errors.js";
import { moduleLogger } from "../../../util/log.js";
import { Stk500ProtocolError } from "../errors.js";
import { ExactReader } from "../../../transport/exact-reader.js";
import * as c from "./codec.js";

const log = moduleLogger("stk500v1");

/** Per command: the slowest reply is a page write (erase + program ≈ 10 ms) or a 256-byte read at 57600 baud (≈ 45 ms). */
export const COMMAND_REPLY_MS = 1000;
/** One sync attempt waits this long: Optiboot answers only after its LED flashes (≈ 0.4 s after reset). */
export const SYNC_ATTEMPT_MS = 500;
/** After a good sync, late replies to earlier attempts are drained until the line is quiet this long. */
export const SYNC_QUIET_MS = 50;
export const SYNC_DRAIN_MAX_MS = 500;

export interface SyncResult {
  ok: boolean;
  attempts: number;
  /** What came back on the last failed attempt. */
  got: string | undefined;
}

export class Stk500v1Session {
  readonly reader: ExactReader;

  constructor(
    readonly link: ByteTransport,
    private readonly signal?: AbortSignal,
  ) {
    this.reader = new ExactReader(link);
  }

  /**
   * Tries GET_SYNC until `windowMs` is over; true when the bootloader
   * answered INSYNC OK (and the line was then drained of late answers).
   */
  async sync(windowMs: number): Promise<SyncResult> {
    const clock = this.link.clock;
    const end = clock.now() + windowMs;
    let attempts = 0;
    let got: string | undefined;
    while (clock.now() < end) {
      throwIfAborted(this.signal, "sync");
      attempts++;
      this.reader.discard();
      await this.link.write(c.getSync());
      const r = await this.reader.read(
        2,
        Math.min(SYNC_ATTEMPT_MS, Math.max(1, end - clock.now())),
        this.signal,
      );
      if (r[0] === c.Resp.INSYNC && r[1] === c.Resp.OK) {
        await this.reader.drain(SYNC_QUIET_MS, SYNC_DRAIN_MAX_MS, this.signal);
        // One more exchange proves the stream is aligned (no stray reply left).
        try {
          await this.command(c.getSync(), 0, "GET_SYNC");
          return { ok: true, attempts, got: undefined };
        } catch (e) {
          got = (e as Error).message;
          continue;
        }
      }
      got = r.length === 0 ? undefined : `${c.describeReplyByte(r[0])}`;
      log.debug({ attempt: attempts, got: Array.from(r) }, "no sync yet");
      // Wait out the rest of this attempt's slot, so attempts stay spaced.
      if (r.length > 0) await this.reader.drain(SYNC_QUIET_MS, SYNC_ATTEMPT_MS, this.signal);
    }
    return { ok: false, attempts, got };
  }

  /** Sends `frame`, reads INSYNC, `dataLen` bytes, OK; returns the data. */
  async command(
    frame: Uint8Array,
    dataLen: number,
    what: string,
    timeoutMs = COMMAND_REPLY_MS,
  ): Promise<Uint8Array> {
    throwIfAborted(this.signal, what);
    await this.link.write(frame);
    const first = await this.reader.byte(timeoutMs, this.signal);
    if (first !== c.Resp.INSYNC)
      throw new Stk500ProtocolError(
        what,
        `expected INSYNC (0x14), got ${c.describeReplyByte(first)}`,
      );
    const data = await this.reader.read(dataLen, timeoutMs, this.signal);
    if (data.length < dataLen)
      throw new Stk500ProtocolError(
        what,
        `reply cut short: ${data.length} of ${dataLen} data bytes`,
      );
    const last = await this.reader.byte(timeoutMs, this.signal);
    if (last !== c.Resp.OK)
      throw new Stk500ProtocolError(
        what,
        last === c.Resp.FAILED
          ? "the bootloader reports FAILED (0x11)"
          : `expected OK (0x10), got ${c.describeReplyByte(last)}`,
      );
    return data;
  }

  async parameter(p: number): Promise<number> {
    return (await this.command(c.getParameter(p), 1, `GET_PARAMETER 0x${p.toString(16)}`))[0]!;
  }

  async enterProgmode(): Promise<void> {
    await this.command(c.enterProgmode(), 0, "ENTER_PROGMODE");
  }

  async leaveProgmode(): Promise<void> {
    await this.command(c.leaveProgmode(), 0, "LEAVE_PROGMODE");
  }

  async signature(): Promise<Uint8Array> {
    return this.command(c.readSignature(), 3, "READ_SIGN");
  }

  /** Sets the address for the next page; `extended` also sends LOAD EXTENDED ADDRESS (parts above 128 KiB). */
  async loadAddress(byteAddress: number, extended: boolean): Promise<void> {
    if (extended)
      await this.command(
        c.universal(0x4d, 0x00, c.extendedByte(byteAddress), 0x00),
        1,
        "LOAD_EXTENDED_ADDRESS",
      );
    await this.command(c.loadAddress(byteAddress), 0, `LOAD_ADDRESS 0x${byteAddress.toString(16)}`);
  }

  async programPage(byteAddress: number, data: Uint8Array): Promise<void> {
    await this.command(c.progPage(data), 0, `PROG_PAGE at 0x${byteAddress.toString(16)}`);
  }

  async readPage(byteAddress: number, length: number): Promise<Uint8Array> {
    return this.command(c.readPage(length), length, `READ_PAGE at 0x${byteAddress.toString(16)}`);
  }
}
