// The SAM-BA monitor loop as the firmware runs it (the Arduino Zero and
// uf2-samdx1 sources, sam-ba.md §3), over a simulated chip: a byte-wise
// parser — hex digits shift into the current number, `,` moves it to the
// address, any other byte is the command letter, `#` executes, 0xFF is
// skipped — and the commands N T V o h w O H W S R G (+ X Y Z where the
// personality has them). Terminal mode prints "\n\r", hex text and ">".
// S and R carry raw bytes on USB and XMODEM-CRC on a UART. A command keeps
// the monitor busy for the firmware time it takes; input waits meanwhile.
// A bus fault or a HardFault in an applet leaves it hung, answering nothing.

import { Xmodem, checkXmodemBlock, xmodemBlock } from "../../bootloaders/sam-ba/codec.js";
import type { Clock } from "../../util/clock.js";
import type { SimChip } from "./chip.js";
import type { Personality } from "./personalities.js";
import { runThumb } from "./thumb.js";

/** Firmware time of one parsed command (ms). */
export const COMMAND_MS = 0.02;
/** CPU clock the applets run at (MHz). */
export const CPU_MHZ = 48;
/** An applet running longer than this many instructions never returns: the chip is hung. */
export const APPLET_MAX_INSTRUCTIONS = 20_000_000;
/** USB full-speed bulk packet: the monitor reads its input one packet at a time. */
export const USB_PACKET = 64;
/** XMODEM: how often the receiver repeats its 'C' while nothing comes, and how many times. */
export const XMODEM_START_EVERY_MS = 1000;
export const XMODEM_START_TRIES = 10;

export interface DeviceLink {
  write(bytes: Uint8Array): void;
  onData(cb: (bytes: Uint8Array) => void): void;
}

export type MonitorEvent =
  | { type: "command"; letter: string; address: number; value: number }
  | { type: "hung"; why: string }
  | { type: "applet"; entry: number; instructions: number; ms: number }
  | { type: "xmodem"; dir: "rx" | "tx"; result: string };

type State =
  | { s: "cmd" }
  | { s: "sdata"; addr: number; left: number; chunks: number[] }
  | {
      s: "xrx";
      addr: number;
      left: number;
      block: number;
      frame: number[];
      tries: number;
      cancel?: () => void;
    }
  | { s: "xtx"; data: Uint8Array; block: number; started: boolean; eot: boolean }
  | { s: "hung" };

export class SamBaMonitor {
  terminal: boolean;
  private cmd = 0x7a; // 'z': nothing
  private number = 0;
  private address = 0;
  private state: State = { s: "cmd" };
  private packets: Uint8Array[] = [];
  private busy = false;
  private stopped = false;
  readonly events: MonitorEvent[] = [];

  constructor(
    readonly chip: SimChip,
    private readonly link: DeviceLink,
    readonly o: {
      clock: Clock;
      iface: "usb" | "uart";
      personality: Personality;
      /** UART only: the line speed, for the time replies take on the wire. */
      baud?: number;
      onEvent?: (e: MonitorEvent) => void;
    },
  ) {
    this.terminal = o.personality.terminalAtStart[o.iface];
  }

  get hung(): boolean {
    return this.state.s === "hung";
  }

  /** The board left the monitor (reset): ignore everything from now on. */
  stop(): void {
    this.stopped = true;
    if (this.state.s === "xrx") this.state.cancel?.();
  }

  receive(bytes: Uint8Array): void {
    if (this.stopped) return;
    const step = this.o.iface === "usb" ? USB_PACKET : bytes.length;
    for (let i = 0; i < bytes.length; i += step) this.packets.push(bytes.slice(i, i + step));
    this.pump();
  }

  private emit(e: MonitorEvent): void {
    this.events.push(e);
    this.o.onEvent?.(e);
  }

  private hang(why: string): void {
    this.state = { s: "hung" };
    this.packets = [];
    this.emit({ type: "hung", why });
  }

  /** Sends `reply` after `ms` of firmware time; input waits until then (and the UART wire time). */
  private finish(ms: number, reply?: Uint8Array): void {
    const wire =
      reply && this.o.iface === "uart" ? (reply.length * 10_000) / (this.o.baud ?? 115200) : 0;
    this.busy = true;
    this.o.clock.schedule(ms, () => {
      if (this.stopped) return;
      if (reply && reply.length) this.link.write(reply);
      this.o.clock.schedule(wire, () => {
        this.busy = false;
        this.pump();
      });
    });
  }

  private pump(): void {
    while (!this.busy && !this.stopped && this.packets.length > 0) {
      const p = this.packets[0]!;
      if (p.length === 0) {
        this.packets.shift();
        continue;
      }
      const st = this.state;
      if (st.s === "hung") return void (this.packets = []);
      if (st.s === "sdata") {
        const n = Math.min(st.left, p.length);
        for (let i = 0; i < n; i++) st.chunks.push(p[i]!);
        this.packets[0] = p.subarray(n);
        st.left -= n;
        if (st.left === 0) this.storeData(st.addr, Uint8Array.from(st.chunks));
        continue;
      }
      if (st.s === "xrx" || st.s === "xtx") {
        this.packets[0] = p.subarray(1);
        if (st.s === "xrx") this.xmodemRx(st, p[0]!);
        else this.xmodemTx(st, p[0]!);
        continue;
      }
      const b = p[0]!;
      this.packets[0] = p.subarray(1);
      if (b === 0xff) {
        if (this.o.personality.ffDropsRestOfPacket) this.packets.shift();
        continue;
      }
      this.parse(b);
    }
  }

  private parse(b: number): void {
    if (b >= 0x30 && b <= 0x39) this.number = ((this.number << 4) | (b - 0x30)) >>> 0;
    else if (b >= 0x41 && b <= 0x46) this.number = ((this.number << 4) | (b - 0x37)) >>> 0;
    else if (b >= 0x61 && b <= 0x66) this.number = ((this.number << 4) | (b - 0x57)) >>> 0;
    else if (b === 0x2c) {
      this.address = this.number;
      this.number = 0;
    } else if (b === 0x23) this.execute();
    else {
      this.cmd = b;
      this.number = 0;
    }
  }

  private text(s: string): Uint8Array {
    return new TextEncoder().encode(s);
  }

  /** Runs the command; what it prints goes out after its firmware time. */
  private execute(): void {
    const letter = String.fromCharCode(this.cmd);
    const { address, number: value } = this;
    this.cmd = 0x7a;
    this.number = 0;
    this.emit({ type: "command", letter, address, value });
    const out: number[] = [];
    const put = (b: Uint8Array | number[]) => out.push(...b);
    if (this.terminal) put(this.text("\n\r"));
    const pers = this.o.personality;
    const bus = this.chip.bus;
    let ms = COMMAND_MS;
    try {
      switch (letter) {
        case "N":
          if (!this.terminal && pers.binaryNReply) put(this.text("\n\r"));
          this.terminal = false;
          break;
        case "T":
          if (!pers.terminalMode) break;
          this.terminal = true;
          put(this.text("\n\r"));
          break;
        case "V":
          put(pers.version);
          break;
        case "o":
        case "h":
        case "w": {
          const w = letter === "o" ? 1 : letter === "h" ? 2 : 4;
          const v = pers.hideRead?.(address, w) ? 0 : bus.read(address, w);
          if (this.terminal)
            put(
              this.text(
                `0x${v
                  .toString(16)
                  .toUpperCase()
                  .padStart(2 * w, "0")}\n\r`,
              ),
            );
          else for (let i = 0; i < w; i++) out.push((v >>> (8 * i)) & 0xff);
          break;
        }
        case "O":
        case "H":
        case "W":
          ms += this.chip.time.run(false, () =>
            bus.write(address, letter === "O" ? 1 : letter === "H" ? 2 : 4, value),
          );
          break;
        case "S":
          if (value === 0) break;
          if (this.o.iface === "usb")
            this.state = { s: "sdata", addr: address, left: value, chunks: [] };
          else this.startXmodemRx(address, value);
          break;
        case "R":
          if (this.o.iface === "usb") put(pers.readQuirk(bus, address, value, "usb"));
          else return this.startXmodemTx(pers.readQuirk(bus, address, value, "uart"));
          break;
        case "G": {
          const sp = bus.read32(value);
          const entry = bus.read32(value + 4);
          let instructions = 0;
          ms += this.chip.time.run(true, () => {
            instructions = runThumb(bus, {
              entry,
              sp,
              maxInstructions: APPLET_MAX_INSTRUCTIONS,
              onCycles: (c) => this.chip.time.charge(c / (CPU_MHZ * 1000)),
            }).instructions;
          });
          this.emit({ type: "applet", entry, instructions, ms });
          if (this.o.iface === "uart" && pers.gAckOnUart) out.push(Xmodem.ACK);
          break;
        }
        default: {
          const ext = pers.extensions?.[letter];
          if (ext) ms += this.chip.time.run(true, () => put(ext(this.chip, address, value)));
        }
      }
    } catch (e) {
      return this.hang((e as Error).message);
    }
    if (this.terminal) put(this.text(">"));
    this.finish(ms, Uint8Array.from(out));
  }

  private storeData(addr: number, data: Uint8Array): void {
    this.state = { s: "cmd" };
    try {
      this.chip.bus.writeBytes(addr, data);
    } catch (e) {
      this.hang((e as Error).message);
    }
  }

  // --- XMODEM-CRC, the monitor's side -------------------------------------

  private startXmodemRx(addr: number, n: number): void {
    const st: State & { s: "xrx" } = { s: "xrx", addr, left: n, block: 1, frame: [], tries: 0 };
    this.state = st;
    const ask = () => {
      if (this.state !== st || st.block !== 1 || st.frame.length > 0 || this.stopped) return;
      if (++st.tries > XMODEM_START_TRIES) return this.endXmodem("rx", "no sender");
      this.link.write(Uint8Array.of(Xmodem.START));
      st.cancel = this.o.clock.schedule(XMODEM_START_EVERY_MS, ask);
    };
    this.finish(COMMAND_MS);
    this.o.clock.schedule(COMMAND_MS, ask);
  }

  private xmodemRx(st: State & { s: "xrx" }, b: number): void {
    if (st.frame.length === 0 && b === Xmodem.EOT) {
      this.link.write(Uint8Array.of(Xmodem.ACK));
      return this.endXmodem("rx", st.left <= 0 ? "ok" : "short");
    }
    if (st.frame.length === 0 && b === Xmodem.CAN) return this.endXmodem("rx", "cancelled");
    if (st.frame.length === 0 && b !== Xmodem.SOH) return; // noise between frames
    st.cancel?.();
    st.frame.push(b);
    if (st.frame.length < Xmodem.FRAME) return;
    const frame = Uint8Array.from(st.frame);
    st.frame = [];
    const r = checkXmodemBlock(frame, st.block);
    if (!r.ok) {
      // a repeat of the previous block (our ACK was lost) is acknowledged again
      const repeat = checkXmodemBlock(frame, st.block - 1);
      return this.link.write(Uint8Array.of(repeat.ok ? Xmodem.ACK : Xmodem.NAK));
    }
    const keep = r.data.subarray(0, Math.max(0, Math.min(Xmodem.BLOCK, st.left)));
    try {
      this.chip.bus.writeBytes(st.addr, keep);
    } catch (e) {
      return this.hang((e as Error).message);
    }
    st.addr += keep.length;
    st.left -= Xmodem.BLOCK;
    st.block++;
    this.link.write(Uint8Array.of(Xmodem.ACK));
  }

  private startXmodemTx(data: Uint8Array): void {
    this.state = { s: "xtx", data, block: 1, started: false, eot: false };
    this.finish(COMMAND_MS);
  }

  private sendBlock(st: State & { s: "xtx" }): void {
    const at = (st.block - 1) * Xmodem.BLOCK;
    if (at >= st.data.length) {
      st.eot = true;
      return this.link.write(Uint8Array.of(Xmodem.EOT));
    }
    this.link.write(xmodemBlock(st.block, st.data.subarray(at, at + Xmodem.BLOCK)));
  }

  private xmodemTx(st: State & { s: "xtx" }, b: number): void {
    if (!st.started) {
      if (b !== Xmodem.START) return;
      st.started = true;
      return this.sendBlock(st);
    }
    if (b === Xmodem.ACK) {
      if (st.eot) return this.endXmodem("tx", "ok");
      st.block++;
      return this.sendBlock(st);
    }
    if (b === Xmodem.NAK) return this.sendBlock(st);
    if (b === Xmodem.CAN) return this.endXmodem("tx", "cancelled");
  }

  private endXmodem(dir: "rx" | "tx", result: string): void {
    this.state = { s: "cmd" };
    this.emit({ type: "xmodem", dir, result });
    if (this.terminal) this.link.write(this.text(">"));
    this.pump();
  }
}
