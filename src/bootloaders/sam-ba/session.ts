// A conversation with a SAM-BA monitor over any byte stream (sam-ba.md §2,
// §3): init (drain, the UART auto-baud bytes, N#, V#), word and byte reads
// and writes, S/R data (raw on USB CDC, XMODEM-CRC on a UART), G, and the
// Arduino X/Y/Z commands. Commands without a reply are not waited for: the
// monitor handles them in order, and the next read's answer proves they ran.
// Host rules for the firmware's bugs: on USB the binary data of S and the
// command after G never share a USB packet with the command (a 1 ms gap);
// the SAM3 ROM garbles USB reads of a power of two over 32 bytes (the first
// byte is read with `o`); the Arduino/UF2 SAMD monitors garble USB reads of
// 64 bytes or more (read 63 at a time).

import type { ByteTransport } from "../../transport/byte-transport.js";
import { concatBytes } from "../../transport/byte-transport.js";
import { ExactReader } from "../../transport/exact-reader.js";
import { delay } from "../../util/clock.js";
import { throwIfAborted } from "../../util/errors.js";
import { moduleLogger } from "../../util/log.js";
import {
  ackOf,
  CHECKSUM_REPLY_LENGTH,
  checkXmodemBlock,
  Command,
  describeReply,
  le32,
  parseChecksumReply,
  parseVersion,
  Xmodem,
  xmodemBlock,
  type MonitorVersion,
} from "./codec.js";
import { SamBaProtocolError } from "./errors.js";

const log = moduleLogger("sam-ba");

/** Reply deadlines (bossac's): init and V# reads, ordinary replies, X/Y/Z and applet runs. */
export const SAMBA_QUICK_MS = 100;
export const SAMBA_REPLY_MS = 1000;
export const SAMBA_LONG_MS = 5000;
/** The gap that keeps a command and its data out of one USB packet (one USB frame). */
export const USB_PACKET_GAP_MS = 1;
/** Largest R the Arduino/UF2 SAMD monitors answer correctly over USB. */
export const ARDUINO_USB_READ_MAX = 63;
/** Largest S/Y/Z chunk the Arduino/UF2 monitors take (bossac's buffer). */
export const ARDUINO_BUFFER_MAX = 4096;
/** XMODEM: tries for the receiver's 'C', a block, the EOT. */
export const XMODEM_TRIES = 5;

export type SambaTransport = "usb" | "uart";

export class SambaSession {
  readonly reader: ExactReader;
  version: MonitorVersion | undefined;

  constructor(
    readonly link: ByteTransport,
    readonly transport: SambaTransport,
    private readonly signal?: AbortSignal,
  ) {
    this.reader = new ExactReader(link);
  }

  private get arduino(): boolean {
    return this.version?.extensions !== undefined && this.version.extensions !== "";
  }

  private async send(bytes: Uint8Array): Promise<void> {
    throwIfAborted(this.signal, "SAM-BA");
    log.trace({ tx: new TextDecoder().decode(bytes.subarray(0, 40)) }, "command");
    await this.link.write(bytes);
  }

  private gap(): Promise<void> {
    return this.transport === "usb"
      ? delay(this.link.clock, USB_PACKET_GAP_MS, this.signal, "USB packet gap")
      : Promise.resolve();
  }

  private async exact(n: number, ms: number, what: string): Promise<Uint8Array> {
    const r = await this.reader.read(n, ms, this.signal);
    if (r.length < n)
      throw new SamBaProtocolError(
        what,
        `${r.length} of ${n} reply bytes within ${ms} ms (got ${describeReply(r)})`,
      );
    return r;
  }

  /**
   * Greets the monitor: binary mode, then its version. Returns undefined when
   * nothing answers V# (not a SAM-BA monitor, or not in it).
   */
  async init(): Promise<MonitorVersion | undefined> {
    await this.reader.drain(SAMBA_QUICK_MS / 4, SAMBA_QUICK_MS, this.signal);
    if (this.transport === "uart") {
      // auto-baud bytes of the old SAM7 ROMs; the SAM3/SAM4 and SAMD monitors ignore them
      for (const b of [0x80, 0x80, 0x23]) {
        await this.send(Uint8Array.of(b));
        await this.reader.read(b === 0x23 ? 3 : 1, SAMBA_QUICK_MS, this.signal);
      }
    }
    // N# and V# in one go: the N# answer ("\n\r"; nothing from UF2) comes first, then the text
    await this.send(concatBytes([Command.normal(), Command.version()]));
    let text = await this.readText(SAMBA_QUICK_MS);
    while (text[0] === 0x0a || text[0] === 0x0d) text = text.subarray(1);
    if (text.length === 0) return undefined;
    const v = parseVersion(text);
    if (v.text.length === 0) return undefined;
    this.version = v;
    return v;
  }

  /**
   * Reads a text answer: until it ends in "\n\r" after some printable text
   * (then a short wait for UF2's trailing NUL), else until the line is quiet
   * for `quietMs` (the V# text has no length field).
   */
  private async readText(quietMs: number): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    for (;;) {
      const got = await this.reader.read(256, quietMs, this.signal);
      if (got.length === 0) break;
      parts.push(got);
      const all = concatBytes(parts);
      let start = 0;
      while (all[start] === 0x0a || all[start] === 0x0d) start++;
      const end = all.at(-1) === 0 ? all.length - 1 : all.length; // UF2 sends a NUL after the text
      if (end - start > 2 && all[end - 2] === 0x0a && all[end - 1] === 0x0d) {
        if (end === all.length) {
          const tail = await this.reader.read(1, quietMs / 10, this.signal);
          if (tail.length) parts.push(tail);
        }
        break;
      }
    }
    return concatBytes(parts);
  }

  /** A word read; `timeoutMs` covers what the monitor still has to do first (an applet). */
  async readWord(addr: number, timeoutMs = SAMBA_REPLY_MS): Promise<number> {
    await this.send(Command.readWord(addr));
    return le32(await this.exact(4, timeoutMs, `w${addr.toString(16)}`));
  }

  async readByte(addr: number): Promise<number> {
    await this.send(Command.readByte(addr));
    return (await this.exact(1, SAMBA_REPLY_MS, `o${addr.toString(16)}`))[0]!;
  }

  /** A word write; no reply. */
  async writeWord(addr: number, value: number): Promise<void> {
    await this.send(Command.writeWord(addr, value));
  }

  /** Several word writes in one transfer (they have no replies). */
  async writeWords(pairs: ReadonlyArray<readonly [number, number]>): Promise<void> {
    await this.send(concatBytes(pairs.map(([a, v]) => Command.writeWord(a, v))));
  }

  async writeByte(addr: number, value: number): Promise<void> {
    await this.send(Command.writeByte(addr, value));
  }

  /** `data` into memory at `addr` (RAM, normally). */
  async write(addr: number, data: Uint8Array): Promise<void> {
    await this.send(Command.send(addr, data.length));
    if (this.transport === "usb") {
      await this.gap();
      await this.send(data);
    } else await this.xmodemSend(data, `S${addr.toString(16)}`);
  }

  /** `n` bytes of memory at `addr`, in the chunks the monitor reads correctly. */
  async read(addr: number, n: number): Promise<Uint8Array> {
    const out: Uint8Array[] = [];
    if (this.transport === "usb" && !this.arduino && n > 32 && (n & (n - 1)) === 0) {
      out.push(Uint8Array.of(await this.readByte(addr)));
      addr++;
      n--;
    }
    const max = this.transport === "usb" && this.arduino ? ARDUINO_USB_READ_MAX : n;
    while (n > 0) {
      const chunk = Math.min(max, n);
      await this.send(Command.receive(addr, chunk));
      out.push(
        this.transport === "usb"
          ? await this.exact(chunk, SAMBA_REPLY_MS + chunk / 10, `R${addr.toString(16)}`)
          : await this.xmodemReceive(chunk, `R${addr.toString(16)}`),
      );
      addr += chunk;
      n -= chunk;
    }
    return concatBytes(out);
  }

  /** Runs the routine whose SP and entry are the two words at `vector`. The next reply comes after it returns. */
  async go(vector: number): Promise<void> {
    await this.send(Command.go(vector));
    if (this.transport === "usb") await this.gap();
    else if (this.arduino) {
      const ack = await this.reader.read(1, SAMBA_LONG_MS, this.signal);
      if (ack[0] !== Xmodem.ACK)
        throw new SamBaProtocolError(
          `G${vector.toString(16)}`,
          `expected 0x06, got ${describeReply(ack)}`,
        );
    }
  }

  private async expectAck(letter: "X" | "Y", what: string, ms: number): Promise<void> {
    const r = await this.exact(3, ms, what);
    const want = ackOf(letter);
    if (r[0] !== want[0])
      throw new SamBaProtocolError(what, `expected "${letter}\\n\\r", got ${describeReply(r)}`);
  }

  /** Arduino X: erase from `addr` to the end of flash. */
  async chipErase(addr: number): Promise<void> {
    await this.send(Command.chipErase(addr));
    await this.expectAck("X", `X${addr.toString(16)}`, SAMBA_LONG_MS * 4);
  }

  /** Arduino Y: `n` bytes from the RAM buffer at `src` into flash at `dst` (no erase). */
  async writeBuffer(src: number, dst: number, n: number): Promise<void> {
    // both commands at once: the monitor runs them in order, the two answers come in order
    await this.send(concatBytes([Command.setBuffer(src), Command.writeBuffer(dst, n)]));
    await this.expectAck("Y", `Y${src.toString(16)},0`, SAMBA_REPLY_MS);
    await this.expectAck("Y", `Y${dst.toString(16)}`, SAMBA_LONG_MS);
  }

  /** Arduino Z: CRC-16/XMODEM of `n` bytes at `addr`. */
  async checksum(addr: number, n: number): Promise<number> {
    await this.send(Command.checksum(addr, n));
    const r = await this.exact(CHECKSUM_REPLY_LENGTH, SAMBA_LONG_MS, `Z${addr.toString(16)}`);
    const crc = parseChecksumReply(r);
    if (crc === undefined)
      throw new SamBaProtocolError(
        `Z${addr.toString(16)}`,
        `not a checksum reply: ${describeReply(r)}`,
      );
    return crc;
  }

  // --- XMODEM-CRC, the host's side ---------------------------------------

  private async xmodemSend(data: Uint8Array, what: string): Promise<void> {
    let started = false;
    for (let i = 0; i < XMODEM_TRIES && !started; i++)
      started = (await this.reader.read(1, SAMBA_REPLY_MS, this.signal))[0] === Xmodem.START;
    if (!started)
      throw new SamBaProtocolError(what, "the monitor never asked for XMODEM data ('C')");
    for (let block = 1, at = 0; at < data.length; block++, at += Xmodem.BLOCK) {
      const frame = xmodemBlock(block, data.subarray(at, at + Xmodem.BLOCK));
      let acked = false;
      for (let i = 0; i < XMODEM_TRIES && !acked; i++) {
        await this.send(frame);
        acked = (await this.reader.read(1, SAMBA_REPLY_MS, this.signal))[0] === Xmodem.ACK;
      }
      if (!acked) throw new SamBaProtocolError(what, `XMODEM block ${block} was not acknowledged`);
    }
    for (let i = 0; i < XMODEM_TRIES; i++) {
      await this.send(Uint8Array.of(Xmodem.EOT));
      if ((await this.reader.read(1, SAMBA_REPLY_MS, this.signal))[0] === Xmodem.ACK) return;
    }
    throw new SamBaProtocolError(what, "XMODEM end (EOT) was not acknowledged");
  }

  private async xmodemReceive(n: number, what: string): Promise<Uint8Array> {
    const out: Uint8Array[] = [];
    let left = n;
    for (let block = 1; left > 0; block++) {
      let got: Uint8Array | undefined;
      for (let i = 0; i < XMODEM_TRIES && !got; i++) {
        await this.send(
          Uint8Array.of(i > 0 ? Xmodem.NAK : block === 1 ? Xmodem.START : Xmodem.ACK),
        );
        const frame = await this.reader.read(Xmodem.FRAME, SAMBA_REPLY_MS, this.signal);
        const c = checkXmodemBlock(frame, block);
        if (c.ok) got = c.data;
        else this.reader.discard();
      }
      if (!got) throw new SamBaProtocolError(what, `XMODEM block ${block} never arrived intact`);
      out.push(got.subarray(0, Math.min(left, Xmodem.BLOCK)));
      left -= Xmodem.BLOCK;
    }
    for (let i = 0; i < XMODEM_TRIES; i++) {
      await this.send(Uint8Array.of(i === 0 ? Xmodem.ACK : Xmodem.NAK));
      if ((await this.reader.read(1, SAMBA_REPLY_MS, this.signal))[0] === Xmodem.EOT) {
        await this.send(Uint8Array.of(Xmodem.ACK));
        return concatBytes(out);
      }
    }
    throw new SamBaProtocolError(what, "XMODEM end (EOT) never came");
  }
}
