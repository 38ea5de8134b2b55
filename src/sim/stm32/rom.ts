// A model of the STM32 system-memory bootloader on USART1 (ST AN3155,
// AN2606), byte for byte, as the firmware behaves: after a reset with
// BOOT0 high it measures the first byte as the autobaud 0x7F (once: any
// other first byte makes it lock onto a wrong rate and stay deaf until the
// next reset); then it reads commands as `code, ~code` and answers each
// step ACK or NACK, with no input timeout, so after a NACK the next bytes
// are read as a new command. It keeps the firmware's limits: 256 bytes per
// READ/WRITE, word-aligned writes, only the commands its GET announces,
// only addresses its memory map has, flash that must be erased before an
// F1 writes it, write-protected units, and readout protection (only GET,
// GET_VERSION and GET_ID answer; READOUT_UNPROTECT mass-erases). Erase and
// programming take the part's datasheet time, during which the receive
// register holds one byte and loses the rest (see uart.ts).

import * as c from "../../bootloaders/stm32-usart/codec.js";
import type { Stm32Part } from "../../bootloaders/stm32-usart/parts.js";
import type { Clock } from "../../util/clock.js";
import type { SerialLink } from "../katapult-serial.js";
import { Stm32Memory, type Stm32FlashTiming } from "./memory.js";
import { RomUart, type RomLine } from "./uart.js";

export type Stm32RomEvent =
  | { type: "reset"; into: "rom" | "app" }
  | { type: "sync" }
  | { type: "deaf"; why: string }
  | { type: "command"; code: number }
  | { type: "nack"; code: number; step: string; why: string }
  | { type: "read"; address: number; length: number }
  | { type: "write"; address: number; length: number }
  | { type: "erase"; units: number[] | "mass" }
  | { type: "protection"; change: string }
  | { type: "go"; address: number; sp: number; pc: number; runs: boolean };

export interface Stm32RomOptions {
  part: Stm32Part;
  /** The part's own flash (default: the id's largest). */
  flashSize?: number;
  /** GET's version byte (0x22 = 2.2). */
  version: number;
  /** GET's command list. */
  commands: readonly number[];
  timing: Stm32FlashTiming;
  clock: Clock;
  line: RomLine;
  readoutProtected?: boolean;
  writeProtected?: readonly number[];
  initial?: Uint8Array;
  /** BOOT0 at power-on (default high: the ROM runs). */
  boot0?: boolean;
  /** The fastest rate the ROM's autobaud measures (AN2606: 115200 on F1/F4). */
  maxBaud?: number;
}

type Collector = (bytes: number[], at: number) => void;

export class Stm32Rom {
  readonly memory: Stm32Memory;
  readonly uart: RomUart;
  readonly events: Stm32RomEvent[] = [];
  mode: "wait-sync" | "rom" | "deaf" | "app" = "app";
  boot0: boolean;
  private want = 0;
  private buf: number[] = [];
  private then: Collector = () => undefined;

  constructor(
    link: SerialLink,
    readonly o: Stm32RomOptions,
  ) {
    this.memory = new Stm32Memory({
      part: o.part,
      flashSize: o.flashSize ?? o.part.maxFlashSize,
      timing: o.timing,
      ...(o.readoutProtected ? { readoutProtected: true } : {}),
      ...(o.writeProtected ? { writeProtected: o.writeProtected } : {}),
      ...(o.initial ? { initial: o.initial } : {}),
    });
    this.boot0 = o.boot0 ?? true;
    this.uart = new RomUart(link, o.clock, o.line);
    this.uart.onByte((b, at) => this.step(b, at));
    this.reset();
  }

  /** The RESET pin: the ROM runs when BOOT0 is high, else the application. */
  reset(): void {
    this.uart.reset();
    this.buf = [];
    this.mode = this.boot0 ? "wait-sync" : "app";
    this.events.push({ type: "reset", into: this.boot0 ? "rom" : "app" });
  }

  /** The host changed the line speed (a pty reports it): the ROM measures the next sync byte at it. */
  setBaud(baud: number): void {
    this.uart.line = { ...this.uart.line, baud };
  }

  /** The whole flash, as a dump. */
  flash(): Uint8Array {
    return Uint8Array.from(this.memory.flash);
  }

  count(type: Stm32RomEvent["type"]): number {
    return this.events.filter((e) => e.type === type).length;
  }

  private emit(e: Stm32RomEvent): void {
    this.events.push(e);
  }

  private step(b: number, at: number): void {
    if (this.mode === "app" || this.mode === "deaf") return;
    if (this.mode === "wait-sync") {
      const baud = this.uart.line.baud;
      if (b !== c.SYNC || baud > (this.o.maxBaud ?? 115200) || baud < 1200) {
        this.mode = "deaf";
        this.emit({
          type: "deaf",
          why:
            b !== c.SYNC
              ? `first byte 0x${b.toString(16)} is not the 0x7f sync: autobaud measured a wrong rate`
              : `${baud} baud is outside the autobaud range`,
        });
        return;
      }
      this.mode = "rom";
      this.emit({ type: "sync" });
      this.reply([c.ACK], at);
      this.expectCommand();
      return;
    }
    this.buf.push(b);
    if (this.buf.length < this.want) return;
    const bytes = this.buf;
    this.buf = [];
    this.then(bytes, at);
  }

  private expect(n: number, then: Collector): void {
    this.want = n;
    this.buf = [];
    this.then = then;
  }

  private expectCommand(): void {
    this.expect(2, ([code, inv], at) => this.command(code!, inv!, at));
  }

  /** Sends bytes; a multi-byte reply keeps the ROM from reading until its last byte is being sent. */
  private reply(bytes: number[], at: number): number {
    const end = this.uart.send(bytes, at);
    if (bytes.length > 1) this.uart.busy(end - this.uart.charMs);
    return end;
  }

  private nack(at: number, code: number, step: string, why: string): void {
    this.emit({ type: "nack", code, step, why });
    this.reply([c.NACK], at);
    this.expectCommand();
  }

  private ackThen(at: number, n: number, then: Collector): void {
    this.reply([c.ACK], at);
    this.expect(n, then);
  }

  /** Waits `ms` (erase, programming: the receive register holds one byte), then ACKs. */
  private busyAck(at: number, ms: number): void {
    this.uart.busy(at + ms);
    this.reply([c.ACK], at + ms);
    this.expectCommand();
  }

  private command(code: number, inv: number, at: number): void {
    if (inv !== (~code & 0xff)) return this.nack(at, code, "command", "complement does not match");
    if (!this.o.commands.includes(code))
      return this.nack(at, code, "command", "not a command of this ROM");
    this.emit({ type: "command", code });
    const rdp = this.memory.readoutProtected;
    const open = [
      c.Cmd.GET,
      c.Cmd.GET_VERSION,
      c.Cmd.GET_ID,
      c.Cmd.READOUT_PROTECT,
      c.Cmd.READOUT_UNPROTECT,
    ];
    if (rdp && !open.includes(code as (typeof open)[number]))
      return this.nack(at, code, "command", "readout protection is on");
    switch (code) {
      case c.Cmd.GET: {
        const cmds = [...this.o.commands];
        this.reply([c.ACK, cmds.length, this.o.version, ...cmds, c.ACK], at);
        return this.expectCommand();
      }
      case c.Cmd.GET_VERSION:
        this.reply([c.ACK, this.o.version, 0x00, 0x00, c.ACK], at);
        return this.expectCommand();
      case c.Cmd.GET_ID:
        this.reply([c.ACK, 0x01, this.o.part.pid >>> 8, this.o.part.pid & 0xff, c.ACK], at);
        return this.expectCommand();
      case c.Cmd.READ_MEMORY:
        return this.ackThen(at, 5, (a, t) => this.readAddress(a, t));
      case c.Cmd.WRITE_MEMORY:
        return this.ackThen(at, 5, (a, t) => this.writeAddress(a, t));
      case c.Cmd.GO:
        return this.ackThen(at, 5, (a, t) => this.go(a, t));
      case c.Cmd.ERASE:
        return this.ackThen(at, 1, (n) => this.erase(n[0]!));
      case c.Cmd.EXTENDED_ERASE:
        return this.ackThen(at, 2, (n) => this.extendedErase((n[0]! << 8) | n[1]!, n));
      default:
        return this.protection(code, at);
    }
  }

  /** Address step: 4 bytes big endian + XOR; undefined (after a NACK) when the checksum is wrong. */
  private address(bytes: number[], code: number, at: number): number | undefined {
    if (c.xorOf(bytes.slice(0, 4)) !== bytes[4]) {
      this.nack(at, code, "address", "address checksum is wrong");
      return undefined;
    }
    return ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
  }

  private readAddress(bytes: number[], at: number): void {
    const a = this.address(bytes, c.Cmd.READ_MEMORY, at);
    if (a === undefined) return;
    if (!this.memory.accessible(a, 1, "read"))
      return this.nack(at, c.Cmd.READ_MEMORY, "address", "no readable memory there");
    this.ackThen(at, 2, ([n, inv], t) => {
      if (inv !== (~n! & 0xff))
        return this.nack(t, c.Cmd.READ_MEMORY, "length", "complement does not match");
      const len = n! + 1;
      if (!this.memory.accessible(a, len, "read"))
        return this.nack(t, c.Cmd.READ_MEMORY, "length", "the read runs past readable memory");
      this.emit({ type: "read", address: a, length: len });
      this.reply([c.ACK, ...this.memory.read(a, len)], t);
      this.expectCommand();
    });
  }

  private writeAddress(bytes: number[], at: number): void {
    const a = this.address(bytes, c.Cmd.WRITE_MEMORY, at);
    if (a === undefined) return;
    if (a % c.WRITE_ALIGN !== 0 || !this.memory.accessible(a, 1, "write"))
      return this.nack(at, c.Cmd.WRITE_MEMORY, "address", "not a writable, word-aligned address");
    this.ackThen(at, 1, ([n]) => this.expect(n! + 2, (rest, t) => this.writeData(a, n!, rest, t)));
  }

  private writeData(a: number, n: number, rest: number[], at: number): void {
    const data = Uint8Array.from(rest.slice(0, n + 1));
    if (c.xorOf(data, n) !== rest[n + 1])
      return this.nack(at, c.Cmd.WRITE_MEMORY, "data", "data checksum is wrong");
    if (data.length % c.WRITE_ALIGN !== 0)
      return this.nack(at, c.Cmd.WRITE_MEMORY, "data", "length is not a multiple of 4");
    if (!this.memory.accessible(a, data.length, "write"))
      return this.nack(at, c.Cmd.WRITE_MEMORY, "data", "the write runs past writable memory");
    const r = this.memory.write(a, data);
    if ("error" in r) return this.nack(at, c.Cmd.WRITE_MEMORY, "data", r.error);
    this.emit({ type: "write", address: a, length: data.length });
    this.busyAck(at, r.ms);
  }

  private go(bytes: number[], at: number): void {
    const a = this.address(bytes, c.Cmd.GO, at);
    if (a === undefined) return;
    if (!this.memory.inFlash(a, 8) && !this.memory.accessible(a, 8, "write"))
      return this.nack(at, c.Cmd.GO, "address", "not a flash or RAM address");
    const w = this.memory.read(a, 8);
    const sp = (w[0]! | (w[1]! << 8) | (w[2]! << 16) | (w[3]! << 24)) >>> 0;
    const pc = (w[4]! | (w[5]! << 8) | (w[6]! << 16) | (w[7]! << 24)) >>> 0;
    this.reply([c.ACK], at);
    const runs = (pc & 1) === 1 && this.memory.inFlash(pc - 1) && sp >>> 28 === 0x2;
    this.emit({ type: "go", address: a, sp, pc, runs });
    this.mode = "app";
  }

  private erase(n: number): void {
    if (n === 0xff)
      return this.expect(1, ([x], t) => {
        if (x !== 0x00) return this.nack(t, c.Cmd.ERASE, "pages", "global erase checksum is wrong");
        if (this.memory.writeProtected.size)
          return this.nack(t, c.Cmd.ERASE, "pages", "write-protected pages");
        this.emit({ type: "erase", units: "mass" });
        this.busyAck(t, this.memory.massErase());
      });
    this.expect(n + 2, (rest, t) => {
      const pages = rest.slice(0, n + 1);
      if (c.xorOf(pages, n) !== rest[n + 1])
        return this.nack(t, c.Cmd.ERASE, "pages", "checksum is wrong");
      this.eraseUnits(c.Cmd.ERASE, pages, t);
    });
  }

  private extendedErase(n: number, head: number[]): void {
    if (n >= 0xfff0)
      return this.expect(1, ([x], t) => {
        if (c.xorOf(head) !== x)
          return this.nack(t, c.Cmd.EXTENDED_ERASE, "pages", "checksum is wrong");
        const dual = this.memory.part.layout.kind === "sectors" && this.memory.part.layout.dualBank;
        if (
          n === c.EXTENDED_ERASE_SPECIAL.MASS ||
          (n === c.EXTENDED_ERASE_SPECIAL.BANK1 && !dual)
        ) {
          if (this.memory.writeProtected.size)
            return this.nack(t, c.Cmd.EXTENDED_ERASE, "pages", "write-protected sectors");
          this.emit({ type: "erase", units: "mass" });
          return this.busyAck(t, this.memory.massErase());
        }
        this.nack(
          t,
          c.Cmd.EXTENDED_ERASE,
          "pages",
          `special code 0x${n.toString(16)} not supported here`,
        );
      });
    this.expect((n + 1) * 2 + 1, (rest, t) => {
      if (c.xorOf(rest.slice(0, -1), head[0]! ^ head[1]!) !== rest.at(-1))
        return this.nack(t, c.Cmd.EXTENDED_ERASE, "pages", "checksum is wrong");
      const units: number[] = [];
      for (let i = 0; i + 1 < rest.length - 1; i += 2) units.push((rest[i]! << 8) | rest[i + 1]!);
      this.eraseUnits(c.Cmd.EXTENDED_ERASE, units, t);
    });
  }

  private eraseUnits(code: number, units: number[], at: number): void {
    const known = new Set(this.memory.units.map((u) => u.index));
    const bad = units.find((u) => !known.has(u) || this.memory.writeProtected.has(u));
    if (bad !== undefined)
      return this.nack(at, code, "pages", `unit ${bad} does not exist or is write-protected`);
    let ms = 0;
    for (const u of units) ms += this.memory.eraseUnit(u)!;
    this.emit({ type: "erase", units });
    this.busyAck(at, ms);
  }

  /** The protection commands: each ends with a system reset (the ROM then waits for a new sync). */
  private protection(code: number, at: number): void {
    const m = this.memory;
    const done = (t: number, ms: number, change: string): void => {
      this.emit({ type: "protection", change });
      this.uart.busy(t + ms);
      const end = this.reply([c.ACK], t + ms);
      this.mode = "deaf"; // resetting
      this.o.clock.schedule(Math.max(0, end - this.o.clock.now()), () => this.reset());
    };
    const known: number[] = [
      c.Cmd.READOUT_PROTECT,
      c.Cmd.READOUT_UNPROTECT,
      c.Cmd.WRITE_UNPROTECT,
      c.Cmd.WRITE_PROTECT,
    ];
    if (!known.includes(code)) return this.nack(at, code, "command", "not modelled");
    this.reply([c.ACK], at);
    switch (code) {
      case c.Cmd.READOUT_PROTECT:
        m.readoutProtected = true;
        return done(at, 0, "readout protection on");
      case c.Cmd.READOUT_UNPROTECT: {
        const ms = m.massErase();
        m.readoutProtected = false;
        m.writeProtected.clear();
        return done(at, ms, "readout protection off (flash mass-erased)");
      }
      case c.Cmd.WRITE_UNPROTECT:
        m.writeProtected.clear();
        return done(at, 0, "write protection off");
      case c.Cmd.WRITE_PROTECT:
        return this.expect(1, ([n]) =>
          this.expect(n! + 2, (rest, t2) => {
            const units = rest.slice(0, n! + 1);
            if (c.xorOf(units, n) !== rest[n! + 1])
              return this.nack(t2, code, "sectors", "checksum is wrong");
            for (const u of units) m.protect(u);
            done(t2, 0, `write protection on for ${units.join(", ")}`);
          }),
        );
    }
  }
}
