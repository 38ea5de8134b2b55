// A model of the Arduino Mega 2560 STK500v2 bootloader (stk500v2.md §1–§9)
// for fast protocol tests on virtual time (the real one runs in simavr):
// - after an external reset it waits ~0.83 s for a first byte, else it starts
//   the application; once talking, it waits several seconds between bytes;
// - messages with a bad token or checksum, or a body over its 285-byte
//   buffer, are dropped silently; replies echo the host's sequence number;
// - PROGRAM_FLASH erases the page at its OWN erase pointer (from 0, one page
//   per message) and programs at the loaded address — so pages sent out of
//   order or with gaps land on unerased flash (bits only clear), as on the
//   chip; CHIP_ERASE always answers FAILED;
// - "!!!" within the first 9 bytes enters its monitor (it stops answering).

import type { AvrPart } from "../../bootloaders/avr/parts.js";
import {
  BOOTLOADER_MAX_BODY,
  Cmd,
  encodeMessage,
  MESSAGE_START,
  Status,
  TOKEN,
} from "../../bootloaders/avr/stk500v2/codec.js";
import type { Clock } from "../../util/clock.js";
import type { SerialLink } from "../katapult-serial.js";
import type { BootEvent } from "./stk500v1-boot.js";

export interface Stk500v2BootOptions {
  part: AvrPart;
  bootStart: number;
  clock: Clock;
  firstByteTimeoutMs?: number;
  interByteTimeoutMs?: number;
  pageWriteMs?: number;
}

export class Stk500v2Boot {
  readonly flash: Uint8Array;
  readonly events: Array<BootEvent | { type: "monitor" } | { type: "chip-erase" }> = [];
  mode: "off" | "boot" | "busy" | "monitor" | "app" = "off";
  private buf: number[] = [];
  private received = 0;
  private bangs = 0;
  private address = 0;
  private erasePointer = 0;
  private cancelTimer: (() => void) | undefined;
  private pending: number[] = [];

  constructor(
    private readonly link: SerialLink,
    readonly o: Stk500v2BootOptions,
  ) {
    this.flash = new Uint8Array(o.part.flashSize).fill(0xff);
    link.onData((b) => this.receive(b));
  }

  reset(): void {
    this.events.push({ type: "reset", cause: "external" });
    this.buf = [];
    this.pending = [];
    this.received = 0;
    this.bangs = 0;
    this.address = 0;
    this.erasePointer = 0;
    this.mode = "boot";
    this.arm(this.o.firstByteTimeoutMs ?? 830);
  }

  private arm(ms: number): void {
    this.cancelTimer?.();
    this.cancelTimer = this.o.clock.schedule(ms, () => {
      this.mode = "app";
      this.events.push({ type: "app", why: "timeout" });
    });
  }

  private receive(bytes: Uint8Array): void {
    if (this.mode === "busy") {
      this.pending.push(...bytes);
      return;
    }
    if (this.mode !== "boot") return;
    for (const b of bytes) {
      if (this.received < 9) {
        this.bangs = b === 0x21 ? this.bangs + 1 : 0;
        if (this.bangs === 3) {
          this.mode = "monitor";
          this.cancelTimer?.();
          this.events.push({ type: "monitor" });
          return;
        }
      }
      this.received++;
      this.buf.push(b);
    }
    this.arm(this.o.interByteTimeoutMs ?? 4000);
    this.parse();
  }

  private parse(): void {
    for (;;) {
      const start = this.buf.indexOf(MESSAGE_START);
      if (start < 0) {
        this.buf = [];
        return;
      }
      this.buf.splice(0, start);
      if (this.buf.length < 5) return;
      const size = (this.buf[2]! << 8) | this.buf[3]!;
      if (this.buf[4] !== TOKEN || size > BOOTLOADER_MAX_BODY) {
        this.buf.shift();
        continue;
      }
      if (this.buf.length < 6 + size) return;
      const msg = this.buf.splice(0, 6 + size);
      let x = 0;
      for (let i = 0; i < msg.length - 1; i++) x ^= msg[i]!;
      if (x !== msg[msg.length - 1]) continue; // silently dropped
      this.execute(msg[1]!, msg.slice(5, 5 + size));
      if (this.mode !== "boot") return;
    }
  }

  private reply(seq: number, body: number[]): void {
    this.link.write(encodeMessage(seq, body));
  }

  private execute(seq: number, body: number[]): void {
    const id = body[0]!;
    const ok = (...rest: number[]) => this.reply(seq, [id, Status.CMD_OK, ...rest]);
    switch (id) {
      case Cmd.SIGN_ON:
        return ok(8, ...new TextEncoder().encode("AVRISP_2"));
      case Cmd.GET_PARAMETER:
        return ok({ 0x90: 0x0f, 0x91: 0x02, 0x92: 0x0a }[body[1]!] ?? 0);
      case Cmd.SET_PARAMETER:
      case Cmd.ENTER_PROGMODE_ISP:
        return ok();
      case Cmd.LOAD_ADDRESS:
        this.address =
          (((body[1]! << 24) | (body[2]! << 16) | (body[3]! << 8) | body[4]!) << 1) >>> 0;
        return ok();
      case Cmd.CHIP_ERASE_ISP:
        this.erasePointer = 0;
        this.events.push({ type: "chip-erase" });
        return this.reply(seq, [id, Status.CMD_FAILED]);
      case Cmd.PROGRAM_FLASH_ISP: {
        const n = (body[1]! << 8) | body[2]!;
        const data = body.slice(10, 10 + n);
        const at = this.address;
        this.mode = "busy";
        this.o.clock.schedule(this.o.pageWriteMs ?? 9, () => {
          if (this.erasePointer < this.o.bootStart) {
            this.flash.fill(0xff, this.erasePointer, this.erasePointer + this.o.part.pageSize);
            this.erasePointer += this.o.part.pageSize;
          }
          if (at < this.o.bootStart) {
            for (let i = 0; i < data.length && at + i < this.o.bootStart; i++)
              this.flash[at + i]! &= data[i]!;
            this.events.push({ type: "page", address: at });
          }
          this.address = at + n;
          ok();
          this.mode = "boot";
          const more = this.pending.splice(0);
          if (more.length) this.receive(Uint8Array.from(more));
        });
        return;
      }
      case Cmd.READ_FLASH_ISP: {
        const n = (body[1]! << 8) | body[2]!;
        const data = [...this.flash.subarray(this.address, this.address + n)];
        this.address += n;
        return ok(...data, 0);
      }
      case Cmd.READ_SIGNATURE_ISP:
        return ok(this.o.part.signature[body[4]!] ?? 0, 0);
      case Cmd.LEAVE_PROGMODE_ISP:
        ok();
        this.cancelTimer?.();
        this.mode = "app";
        this.events.push({ type: "app", why: "LEAVE_PROGMODE" });
        return;
      default:
        return this.reply(seq, [id, Status.CMD_FAILED]);
    }
  }
}
