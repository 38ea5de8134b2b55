// A model of the two STK500v1 Arduino bootloaders (stk500v1.md §2, §4, §7,
// §10), for fast protocol tests on virtual time (the real ones run in simavr
// in test/avr):
// - Optiboot: after an external reset flashes its LED (~0.375 s, UART bytes
//   pile up in the 2-byte FIFO + shift register, more overrun), then serves
//   commands under a 1 s watchdog restarted by every byte; a missing 0x20
//   arms a 16 ms watchdog and the chip restarts into the application.
//   GET_PARAMETER: 0x81/0x82 → its version, anything else 0x03.
// - ATmegaBOOT: no LED phase; each byte must come within ~1.33 s; a missing
//   0x20 counts as an error, the fifth jumps to the application; its
//   GET_PARAMETER table differs (0x82 answers 0x10).
// Both erase each page as they program it, ignore writes into the boot
// section (lock bits), and start the application after LEAVE_PROGMODE.

import type { AvrPart } from "../../bootloaders/avr/parts.js";
import type { Clock } from "../../util/clock.js";
import type { SerialLink } from "../katapult-serial.js";

export type Stk500v1Flavour = "optiboot" | "atmegaboot";

export interface Stk500v1BootOptions {
  flavour: Stk500v1Flavour;
  part: AvrPart;
  bootStart: number;
  clock: Clock;
  /** Optiboot's LED flashes before it listens. */
  ledPhaseMs?: number;
  /** Idle time after which it leaves for the application. */
  idleTimeoutMs?: number;
  /** Page erase + write. */
  pageWriteMs?: number;
}

export type BootEvent =
  | { type: "reset"; cause: "external" | "watchdog" }
  | { type: "app"; why: string }
  | { type: "overrun"; lost: number }
  | { type: "page"; address: number }
  | { type: "nosync"; byte: number };

const FIFO = 3; // 2-byte receive FIFO plus the shift register

export class Stk500v1Boot {
  readonly flash: Uint8Array;
  readonly events: BootEvent[] = [];
  mode: "off" | "led" | "boot" | "busy" | "app" = "off";
  private queue: number[] = [];
  private cancelTimer: (() => void) | undefined;
  private address = 0; // byte address
  private extended = 0; // RAMPZ bits above 128 KiB
  private errors = 0;

  constructor(
    private readonly link: SerialLink,
    readonly o: Stk500v1BootOptions,
  ) {
    this.flash = new Uint8Array(o.part.flashSize).fill(0xff);
    link.onData((b) => this.receive(b));
  }

  private get version(): [number, number] {
    return this.o.flavour === "optiboot" ? [4, 4] : [1, 16];
  }

  /** The RESET pin (external reset: the bootloader stays). */
  reset(): void {
    this.events.push({ type: "reset", cause: "external" });
    this.queue = [];
    this.address = 0;
    this.extended = 0;
    this.errors = 0;
    this.cancelTimer?.();
    if (this.o.flavour === "optiboot") {
      this.mode = "led";
      this.cancelTimer = this.o.clock.schedule(this.o.ledPhaseMs ?? 375, () => {
        this.mode = "boot";
        this.armIdle();
        this.process();
      });
    } else {
      this.mode = "boot";
      this.armIdle();
    }
  }

  private armIdle(): void {
    this.cancelTimer?.();
    const ms = this.o.idleTimeoutMs ?? (this.o.flavour === "optiboot" ? 1000 : 1330);
    this.cancelTimer = this.o.clock.schedule(ms, () => this.startApp("listen window over"));
  }

  private startApp(why: string): void {
    this.cancelTimer?.();
    this.mode = "app";
    this.queue = [];
    this.events.push({ type: "app", why });
  }

  private watchdogReset(): void {
    this.mode = "busy";
    this.cancelTimer?.();
    this.cancelTimer = this.o.clock.schedule(16, () => {
      this.events.push({ type: "reset", cause: "watchdog" });
      this.startApp("watchdog reset (Optiboot only stays after an external reset)");
    });
  }

  private receive(bytes: Uint8Array): void {
    if (this.mode === "off" || this.mode === "app") return;
    for (const b of bytes) {
      if (this.queue.length >= FIFO && this.mode !== "boot") {
        this.events.push({ type: "overrun", lost: 1 });
        continue;
      }
      this.queue.push(b);
    }
    if (this.mode === "boot") {
      if (this.o.flavour === "optiboot" || this.queue.length > 0) this.armIdle();
      this.process();
    }
  }

  private send(...bytes: number[]): void {
    this.link.write(Uint8Array.from(bytes));
  }

  /** Runs every complete command in the queue. */
  private process(): void {
    while (this.mode === "boot" && this.queue.length > 0) {
      const need = this.commandLength(this.queue);
      if (need === undefined || this.queue.length < need) return;
      const cmd = this.queue.splice(0, need);
      this.execute(cmd);
    }
  }

  /** Bytes a command takes including its 0x20, or undefined until the length is known. */
  private commandLength(q: number[]): number | undefined {
    switch (q[0]) {
      case 0x41:
        return 3;
      case 0x42:
        return 22;
      case 0x45:
        return 7;
      case 0x55:
        return 4;
      case 0x56:
        return 6;
      case 0x64:
      case 0x74:
        if (q.length < 3) return undefined;
        return q[0] === 0x64 ? 5 + ((q[1]! << 8) | q[2]!) : 5;
      default:
        return 2;
    }
  }

  private execute(cmd: number[]): void {
    if (cmd[cmd.length - 1] !== 0x20) {
      this.events.push({ type: "nosync", byte: cmd[0]! });
      if (this.o.flavour === "optiboot") return this.watchdogReset();
      if (++this.errors >= 5) this.startApp("five bad commands");
      return;
    }
    const [op] = cmd;
    const ok = (...data: number[]) => this.send(0x14, ...data, 0x10);
    switch (op) {
      case 0x41: {
        const p = cmd[1]!;
        if (this.o.flavour === "optiboot")
          ok(p === 0x81 ? this.version[0] : p === 0x82 ? this.version[1] : 0x03);
        else ok({ 0x80: 0x02, 0x81: 0x01, 0x82: 0x10, 0x98: 0x03 }[p] ?? 0x00);
        return;
      }
      case 0x55:
        this.address = (((cmd[2]! << 8) | cmd[1]!) << 1) + this.extended;
        return ok();
      case 0x56:
        if (cmd[1] === 0x4d && this.o.flavour === "optiboot") this.extended = cmd[3]! << 17;
        if (cmd[1] === 0x30 && this.o.flavour === "atmegaboot")
          return ok(this.o.part.signature[cmd[3]!] ?? 0);
        return ok(0x00);
      case 0x64: {
        const len = (cmd[1]! << 8) | cmd[2]!;
        const data = cmd.slice(4, 4 + len);
        const at = this.address;
        this.send(0x14);
        this.mode = "busy";
        this.cancelTimer?.();
        this.o.clock.schedule(this.o.pageWriteMs ?? 9, () => {
          if (at < this.o.bootStart) {
            const page = at - (at % this.o.part.pageSize);
            this.flash.fill(0xff, page, page + this.o.part.pageSize);
            this.flash.set(data.slice(0, this.flash.length - at), at);
            this.events.push({ type: "page", address: at });
          }
          this.send(0x10);
          this.mode = "boot";
          this.armIdle();
          this.process();
        });
        return;
      }
      case 0x74: {
        const len = (cmd[1]! << 8) | cmd[2]!;
        return ok(...this.flash.subarray(this.address, this.address + len));
      }
      case 0x75:
        return ok(...this.o.part.signature);
      case 0x51:
        ok();
        if (this.o.flavour === "optiboot") this.watchdogReset();
        else this.startApp("LEAVE_PROGMODE");
        return;
      default:
        return ok(); // GET_SYNC, ENTER_PROGMODE, SET_DEVICE(_EXT), anything else
    }
  }
}
