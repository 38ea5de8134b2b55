// A simulated slcan USB/UART-to-CAN adapter: the host side is a serial
// link speaking the Lawicel ASCII protocol, the far side an endpoint on a
// virtual CAN channel (where the simulated Katapult and Klipper nodes are).
// It behaves like the firmware: setup only while the channel is closed,
// frames only while open; a small transmit queue drained at the channel's
// bus rate, and a frame that finds it full answered with BEL and the "TX
// FIFO full" flag; an uplink to the host that may be slower than the bus
// (a UART adapter), whose receive FIFO overruns and says so in the status
// flags. A bitrate other than the bus's leaves the adapter unable to send
// or receive: its queue fills, bus-error and error-passive flags rise.
// Two dialects: "lawicel" (z/Z answers, F, N, Z, s supported; S7 = 800k)
// and "canable" (bare CR answers; F, N, Z, s unknown; S7 = 750k).

import type { CanFrame } from "../../can/frame.js";
import type { VirtualCanBus, VirtualCanChannel } from "../../can/virtual.js";
import type { Clock } from "../../util/clock.js";
import {
  bitrateOfBtr,
  bitrateOfSetup,
  BEL,
  CR,
  decodeFrame,
  encodeFrame,
  SLCAN_MAX_LINE,
  STATUS_ARBITRATION_LOST,
  STATUS_BUS_ERROR,
  STATUS_DATA_OVERRUN,
  STATUS_ERROR_PASSIVE,
  STATUS_ERROR_WARNING,
  STATUS_RX_FIFO_FULL,
  STATUS_TX_FIFO_FULL,
} from "../../transport/slcan/codec.js";
import type { SerialLink } from "../katapult-serial.js";

export interface SimSlcanAdapterOptions {
  dialect?: "lawicel" | "canable";
  /** Frames the adapter holds for the bus (accepted, not yet transmitted). Default 8. */
  txQueueLength?: number;
  /** Bytes per second the adapter can send the host (a UART: baud / 10). Default: unlimited (USB). */
  uplinkBytesPerSec?: number;
  /** Lines the adapter buffers for a slow uplink before it overruns. Default 32. */
  rxFifoLength?: number;
  /** Label of its endpoint on the channel. */
  label?: string;
}

export interface SimSlcanStats {
  /** Frames it put on the bus. */
  sent: number;
  /** Frames it refused with BEL (queue full). */
  refused: number;
  /** Received frames it dropped (receive FIFO full). */
  overruns: number;
  /** Commands it received, by first letter ("t": 812, "F": 4). */
  commands: Record<string, number>;
}

const LAWICEL_STD_BITRATES = [10e3, 20e3, 50e3, 100e3, 125e3, 250e3, 500e3, 800e3, 1e6];

export class SimSlcanAdapter {
  readonly stats: SimSlcanStats = { sent: 0, refused: 0, overruns: 0, commands: {} };
  private readonly dialect: "lawicel" | "canable";
  private readonly txLimit: number;
  private readonly rxFifoLength: number;
  private readonly endpoint: VirtualCanBus;
  private readonly clock: Clock;
  private input = "";
  private overlong = false;
  private open = false;
  private bitrate: number | undefined;
  private timestamps = false;
  private flags = 0;
  /** Frames accepted while the bitrate is wrong: they never leave. */
  private stuck = 0;
  private readonly uplink: string[] = [];
  private uplinkBusy = false;
  private stopped = false;

  constructor(
    private readonly link: SerialLink,
    private readonly channel: VirtualCanChannel,
    private readonly options: SimSlcanAdapterOptions = {},
  ) {
    this.dialect = options.dialect ?? "lawicel";
    this.txLimit = options.txQueueLength ?? 8;
    this.rxFifoLength = options.rxFifoLength ?? 32;
    this.endpoint = channel.open({
      label: options.label ?? "slcan adapter",
      txQueueLength: this.txLimit,
    });
    this.clock = channel.clock;
  }

  /** The bitrate the host set (S/s), if any. */
  get configuredBitrate(): number | undefined {
    return this.bitrate;
  }

  get isOpen(): boolean {
    return this.open;
  }

  start(): void {
    this.link.onData((bytes) => this.onBytes(bytes));
    void this.receiveLoop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.endpoint.close();
  }

  private onBytes(bytes: Uint8Array): void {
    if (this.stopped) return;
    for (const b of bytes) {
      if (b === CR) {
        const line = this.input;
        const overlong = this.overlong;
        this.input = "";
        this.overlong = false;
        this.answer(overlong ? "\x07" : this.execute(line));
      } else if (b === 0x0a) {
        // LF: ignored
      } else if (this.input.length >= SLCAN_MAX_LINE) {
        this.overlong = true;
      } else {
        this.input += String.fromCharCode(b);
      }
    }
  }

  private answer(text: string): void {
    if (text) this.link.write(new TextEncoder().encode(text));
  }

  /** Runs one command; returns the answer with its CR or BEL. */
  private execute(line: string): string {
    const ok = "\r";
    const no = String.fromCharCode(BEL);
    const c = line[0] ?? "";
    this.stats.commands[c] = (this.stats.commands[c] ?? 0) + 1;
    const lawicel = this.dialect === "lawicel";
    switch (c) {
      case "":
        return ok;
      case "S": {
        if (this.open) return no;
        const n = Number(line.slice(1));
        if (line.length !== 2 || !(n >= 0 && n <= 8)) return no;
        this.bitrate =
          !lawicel && n === 7 ? 750e3 : (bitrateOfSetup(line) ?? LAWICEL_STD_BITRATES[n]);
        return ok;
      }
      case "s": {
        if (!lawicel || this.open || !/^s[0-9A-Fa-f]{4}$/.test(line)) return no;
        this.bitrate = bitrateOfBtr(parseInt(line.slice(1, 3), 16), parseInt(line.slice(3, 5), 16));
        return ok;
      }
      case "O":
        if (lawicel && (this.open || this.bitrate === undefined)) return no;
        this.open = true;
        this.flags = 0;
        return ok;
      case "C":
        if (lawicel && !this.open) return no;
        this.open = false;
        return ok;
      case "V":
        return lawicel ? "V1013\r" : "4c6e4ac sim/canable-fw\r";
      case "N":
        return lawicel ? "NSIM1\r" : no;
      case "Z":
        if (!lawicel || this.open || (line !== "Z0" && line !== "Z1")) return no;
        this.timestamps = line === "Z1";
        return ok;
      case "F": {
        if (!lawicel || !this.open) return no;
        const f = this.currentFlags();
        // Reading clears the latched events.
        this.flags &= ~(STATUS_DATA_OVERRUN | STATUS_ARBITRATION_LOST | STATUS_BUS_ERROR);
        return `F${f.toString(16).toUpperCase().padStart(2, "0")}\r`;
      }
      case "t":
      case "T":
      case "r":
      case "R":
        return this.transmit(line) ? (lawicel ? (c === "t" || c === "r" ? "z\r" : "Z\r") : ok) : no;
      default:
        return no;
    }
  }

  private currentFlags(): number {
    let f = this.flags;
    if (this.queued() >= this.txLimit) f |= STATUS_TX_FIFO_FULL;
    if (this.uplink.length >= this.rxFifoLength) f |= STATUS_RX_FIFO_FULL;
    if (this.stuck > 0) f |= STATUS_BUS_ERROR | STATUS_ERROR_WARNING;
    if (this.stuck >= this.txLimit) f |= STATUS_ERROR_PASSIVE;
    return f;
  }

  private queued(): number {
    return this.endpoint.unsent + this.stuck;
  }

  private wrongBitrate(): boolean {
    return this.channel.bitrate !== undefined && this.bitrate !== this.channel.bitrate;
  }

  private transmit(line: string): boolean {
    if (!this.open) return false;
    const frame = decodeFrame(line);
    if (!frame || line.length !== encodeFrame(frame).length) return false;
    if (this.queued() >= this.txLimit) {
      this.stats.refused++;
      return false;
    }
    if (this.wrongBitrate()) {
      // Nobody acknowledges it at this bitrate: it stays in the queue, retried by the controller.
      this.stuck++;
      this.flags |= STATUS_BUS_ERROR;
      return true;
    }
    this.stats.sent++;
    void this.endpoint.send(frame);
    return true;
  }

  private async receiveLoop(): Promise<void> {
    for (;;) {
      let frame: CanFrame | undefined;
      try {
        frame = await this.endpoint.recv();
      } catch {
        return; // endpoint closed
      }
      if (!frame || frame.error || !this.open || this.wrongBitrate()) continue;
      let text = encodeFrame(frame);
      if (this.timestamps)
        text += (Math.floor(this.clock.now()) % 60000).toString(16).toUpperCase().padStart(4, "0");
      this.toHost(`${text}\r`);
    }
  }

  private toHost(line: string): void {
    const rate = this.options.uplinkBytesPerSec;
    if (rate === undefined) {
      this.answer(line);
      return;
    }
    if (this.uplink.length >= this.rxFifoLength) {
      this.stats.overruns++;
      this.flags |= STATUS_DATA_OVERRUN;
      return;
    }
    this.uplink.push(line);
    if (!this.uplinkBusy) this.drainUplink(rate);
  }

  private drainUplink(rate: number): void {
    const next = this.uplink[0];
    if (next === undefined || this.stopped) {
      this.uplinkBusy = false;
      return;
    }
    this.uplinkBusy = true;
    this.clock.schedule((next.length * 1000) / rate, () => {
      this.uplink.shift();
      this.answer(next);
      this.drainUplink(rate);
    });
  }
}
