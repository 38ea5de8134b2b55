// One conversation with the STM32 ROM USART bootloader over any byte
// stream (AN3155): the 0x7F sync, GET / GET_VERSION / GET_ID, READ_MEMORY,
// WRITE_MEMORY, ERASE / EXTENDED_ERASE and GO, each step answered by ACK or
// NACK. Deadlines scale with the line's wire time (a 256-byte read takes
// 2.4 s at 1200 baud).
//
// Pipelining: the ROM waits for a command byte by byte and has no input
// timeout, so after a NACK it reads whatever follows as a new command.
// Steps are sent back to back (READ's command + address + length, WRITE's
// command + address; never WRITE's data before its address is ACKed) only
// once readout protection is known to be off, and only when no pair of the
// bytes after any step could form a command and its complement: a refused
// step can then only lead to more NACKs, never to another command. After
// any failed step the next command first realigns the ROM's parser.

import type { ByteTransport } from "../../transport/byte-transport.js";
import { concatBytes } from "../../transport/byte-transport.js";
import { ExactReader } from "../../transport/exact-reader.js";
import { OperationTimeoutError, throwIfAborted } from "../../util/errors.js";
import { moduleLogger } from "../../util/log.js";
import * as c from "./codec.js";
import { Stm32NackError, Stm32ProtocolError } from "./errors.js";

const log = moduleLogger("stm32-usart");

/** One answer byte (stm32flash waits one 0.5 s read). */
export const REPLY_MS = 500;
/** The sync byte's answer; a silent ROM gets the next sync byte after this. */
export const SYNC_REPLY_MS = 500;
/** WRITE_MEMORY's last ACK comes after programming (F1: ~7 ms per 256 bytes). */
export const WRITE_ACK_MS = 1000;
/** Per erase unit (an F4 128 KiB sector takes 1–2 s; stm32flash allows 5 s per page). */
export const ERASE_UNIT_MS = 5000;
/** Mass erase (an F4 at x8 parallelism takes up to 32 s). */
export const MASS_ERASE_MS = 35_000;
/** Quiet time that ends draining stray input before a realign. */
export const DRAIN_QUIET_MS = 30;
export const DRAIN_MAX_MS = 1000;

/**
 * Command codes of every AN3155 ROM (USART and the I2C/SPI variants'
 * no-stretch and special commands): a pair `x, ~x` of these inside
 * pipelined bytes could run as a command if an earlier step were refused.
 */
const ANY_ROM_COMMAND = new Set([
  0x00, 0x01, 0x02, 0x11, 0x21, 0x31, 0x32, 0x43, 0x44, 0x45, 0x50, 0x51, 0x63, 0x64, 0x73, 0x74,
  0x82, 0x83, 0x92, 0x93, 0xa1,
]);

/**
 * May `steps` go out back to back? True when, after a NACK at any step, no
 * two bytes that follow it could be read as a command and its complement.
 */
export function pipelineSafe(steps: readonly Uint8Array[]): boolean {
  for (let k = 1; k < steps.length; k++) {
    const rest = concatBytes(steps.slice(k));
    for (let i = 0; i + 1 < rest.length; i += 2)
      if (ANY_ROM_COMMAND.has(rest[i]!) && rest[i + 1] === (~rest[i]! & 0xff)) return false;
  }
  return true;
}

export interface LineTiming {
  baud: number;
  /** Bits per character on the wire: 11 for 8E1, 10 for 8N1. */
  frameBits: number;
}

export type SyncAnswer =
  /** The ROM measured the byte and answered: it was waiting for the sync. */
  | { kind: "ack" }
  /** NACK: it was synced already (an earlier session; the byte was read as a command). */
  | { kind: "nack" }
  | { kind: "none" }
  | { kind: "other"; byte: number };

export interface VersionReply {
  version: number;
  /** The two option bytes (0x00 0x00 on a USART). */
  options: [number, number];
}

export class Stm32UsartSession {
  readonly reader: ExactReader;
  /** Steps may go out back to back (set once readout protection is known to be off). */
  pipelined = false;
  /** A step failed: the ROM's parser may be mid-command; realign before the next one. */
  private dirty = false;

  constructor(
    readonly link: ByteTransport,
    readonly line: LineTiming,
    private readonly signal?: AbortSignal,
  ) {
    this.reader = new ExactReader(link);
  }

  /** Wire time of `n` characters, ms. */
  wireMs(n: number): number {
    return Math.ceil((n * this.line.frameBits * 1000) / this.line.baud);
  }

  /** Sends the sync byte once and reads its answer. */
  async syncOnce(): Promise<SyncAnswer> {
    throwIfAborted(this.signal, "STM32 sync");
    this.reader.discard();
    await this.link.write(Uint8Array.of(c.SYNC));
    const b = await this.reader.byte(SYNC_REPLY_MS + this.wireMs(2), this.signal);
    if (b === undefined) return { kind: "none" };
    if (b === c.ACK || b === c.NACK) {
      this.dirty = false;
      return { kind: b === c.ACK ? "ack" : "nack" };
    }
    return { kind: "other", byte: b };
  }

  /**
   * Brings the ROM's parser back to "waiting for a command": drops stray
   * input, then sends 0x7F until it answers. 0x7F pairs with no pending
   * byte into a command (nothing is `0x80, 0x7F`) and pairs with itself into
   * a NACK; an unsynced ROM takes it as the sync byte and ACKs.
   */
  async realign(): Promise<void> {
    await this.reader.drain(DRAIN_QUIET_MS, DRAIN_MAX_MS, this.signal);
    for (let i = 0; i < 2; i++) {
      await this.link.write(Uint8Array.of(c.SYNC));
      const b = await this.reader.byte(REPLY_MS + this.wireMs(2), this.signal);
      if (b === c.ACK || b === c.NACK) {
        this.dirty = false;
        log.debug({ attempt: i + 1, answer: b }, "realigned");
        return;
      }
      if (b !== undefined)
        throw new Stm32ProtocolError(c.SYNC, "realign", `got ${c.describeAnswer(b)}`);
    }
    throw new Stm32ProtocolError(c.SYNC, "realign", "no answer to two 0x7f bytes");
  }

  private async begin(what: string): Promise<void> {
    throwIfAborted(this.signal, what);
    if (this.dirty) await this.realign();
    this.reader.discard();
  }

  /**
   * Reads one answer byte: ACK resolves, NACK throws Stm32NackError, silence
   * a timeout. After a NACK the ROM waits for a command again: it is out of
   * step only if bytes were sent after the refused step (`more`).
   */
  private async ack(
    cmd: number,
    step: string,
    timeoutMs: number,
    o: { address?: number | undefined; more?: boolean } = {},
  ): Promise<void> {
    const b = await this.reader.byte(timeoutMs, this.signal);
    if (b === c.ACK) return;
    if (b === c.NACK) {
      if (o.more) this.dirty = true;
      throw new Stm32NackError(cmd, step, o.address);
    }
    this.dirty = true;
    if (b === undefined)
      throw new OperationTimeoutError(`STM32 ROM ${c.cmdName(cmd)} ${step} answer`, timeoutMs);
    throw new Stm32ProtocolError(cmd, step, `expected ACK, got ${c.describeAnswer(b)}`);
  }

  private async bytes(
    cmd: number,
    step: string,
    n: number,
    timeoutMs: number,
  ): Promise<Uint8Array> {
    const r = await this.reader.read(n, timeoutMs, this.signal);
    if (r.length < n) {
      this.dirty = true;
      throw new Stm32ProtocolError(cmd, step, `reply cut short: ${r.length} of ${n} bytes`);
    }
    return r;
  }

  /** Sends the steps of a command, back to back when allowed, each answered by ACK. */
  private async steps(
    cmd: number,
    steps: ReadonlyArray<{ name: string; bytes: Uint8Array; timeoutMs?: number }>,
    address?: number,
  ): Promise<void> {
    const together = this.pipelined && pipelineSafe(steps.map((s) => s.bytes));
    if (together) await this.link.write(concatBytes(steps.map((s) => s.bytes)));
    let sent = 0;
    for (const [i, s] of steps.entries()) {
      if (!together) await this.link.write(s.bytes);
      sent += s.bytes.length;
      const timeoutMs =
        (s.timeoutMs ?? REPLY_MS) + this.wireMs(together ? sent + 1 : s.bytes.length + 1);
      await this.ack(cmd, s.name, timeoutMs, {
        address: s.name === "command" ? undefined : address,
        more: together && i < steps.length - 1,
      });
    }
  }

  async get(): Promise<c.GetReply> {
    await this.begin("GET");
    await this.steps(c.Cmd.GET, [{ name: "command", bytes: c.command(c.Cmd.GET) }]);
    const n = (await this.bytes(c.Cmd.GET, "length", 1, REPLY_MS + this.wireMs(1)))[0]!;
    const rest = await this.bytes(c.Cmd.GET, "command list", n + 1, REPLY_MS + this.wireMs(n + 1));
    await this.ack(c.Cmd.GET, "end", REPLY_MS + this.wireMs(1));
    return c.parseGet(Uint8Array.of(n, ...rest));
  }

  async getVersion(): Promise<VersionReply> {
    await this.begin("GET_VERSION");
    await this.steps(c.Cmd.GET_VERSION, [{ name: "command", bytes: c.command(c.Cmd.GET_VERSION) }]);
    const r = await this.bytes(c.Cmd.GET_VERSION, "version", 3, REPLY_MS + this.wireMs(3));
    await this.ack(c.Cmd.GET_VERSION, "end", REPLY_MS + this.wireMs(1));
    return { version: r[0]!, options: [r[1]!, r[2]!] };
  }

  async getId(): Promise<number> {
    await this.begin("GET_ID");
    await this.steps(c.Cmd.GET_ID, [{ name: "command", bytes: c.command(c.Cmd.GET_ID) }]);
    const n = (await this.bytes(c.Cmd.GET_ID, "length", 1, REPLY_MS + this.wireMs(1)))[0]!;
    const pid = await this.bytes(c.Cmd.GET_ID, "product id", n + 1, REPLY_MS + this.wireMs(n + 1));
    await this.ack(c.Cmd.GET_ID, "end", REPLY_MS + this.wireMs(1));
    return c.parseGetId(Uint8Array.of(n, ...pid));
  }

  /** READ_MEMORY of 1..256 bytes. */
  async readMemory(address: number, n: number): Promise<Uint8Array> {
    await this.begin("READ_MEMORY");
    await this.steps(
      c.Cmd.READ_MEMORY,
      [
        { name: "command", bytes: c.command(c.Cmd.READ_MEMORY) },
        { name: "address", bytes: c.address(address) },
        { name: "length", bytes: c.readLength(n) },
      ],
      address,
    );
    return this.bytes(c.Cmd.READ_MEMORY, "data", n, REPLY_MS + this.wireMs(n));
  }

  /** WRITE_MEMORY of 4..256 bytes (a multiple of 4) at a word-aligned address; the flash must be erased. */
  async writeMemory(address: number, data: Uint8Array): Promise<void> {
    if (address % c.WRITE_ALIGN !== 0 || data.length % c.WRITE_ALIGN !== 0)
      throw new RangeError(
        `WRITE_MEMORY needs a word-aligned address and length (0x${address.toString(16)}, ${data.length} bytes)`,
      );
    await this.begin("WRITE_MEMORY");
    // The data goes behind the address only when no pair of its bytes could
    // run as a command should an earlier step be refused (pipelineSafe);
    // otherwise each step waits for the ACK of the one before.
    await this.steps(
      c.Cmd.WRITE_MEMORY,
      [
        { name: "command", bytes: c.command(c.Cmd.WRITE_MEMORY) },
        { name: "address", bytes: c.address(address) },
        { name: "data", bytes: c.dataBlock(data), timeoutMs: WRITE_ACK_MS },
      ],
      address,
    );
  }

  /** ERASE (0x43) of page numbers, or the global erase when `pages` is "all". */
  async erase(pages: readonly number[] | "all"): Promise<void> {
    await this.begin("ERASE");
    await this.steps(c.Cmd.ERASE, [{ name: "command", bytes: c.command(c.Cmd.ERASE) }]);
    const body = pages === "all" ? c.GLOBAL_ERASE : c.erasePages(pages);
    await this.link.write(body);
    const ms = pages === "all" ? MASS_ERASE_MS : ERASE_UNIT_MS * pages.length;
    await this.ack(c.Cmd.ERASE, "pages", ms + this.wireMs(body.length + 1));
  }

  /** EXTENDED_ERASE (0x44) of page (F4: sector) numbers, or a special code (mass erase 0xFFFF). */
  async extendedErase(pages: readonly number[] | { special: number }): Promise<void> {
    await this.begin("EXTENDED_ERASE");
    await this.steps(c.Cmd.EXTENDED_ERASE, [
      { name: "command", bytes: c.command(c.Cmd.EXTENDED_ERASE) },
    ]);
    const special = "special" in pages;
    const body = special ? c.extendedEraseSpecial(pages.special) : c.extendedErasePages(pages);
    await this.link.write(body);
    const ms = special ? MASS_ERASE_MS : ERASE_UNIT_MS * pages.length;
    await this.ack(c.Cmd.EXTENDED_ERASE, "pages", ms + this.wireMs(body.length + 1));
  }

  /** GO: the ROM loads the stack pointer from `address` and jumps to the reset vector after it. */
  async go(address: number): Promise<void> {
    await this.begin("GO");
    this.pipelined = false; // the last command: no need to save a round trip
    await this.steps(
      c.Cmd.GO,
      [
        { name: "command", bytes: c.command(c.Cmd.GO) },
        { name: "address", bytes: c.address(address) },
      ],
      address,
    );
  }
}
