// SlcanBus: a CAN bus through an slcan (Lawicel) adapter on a serial port,
// for machines without SocketCAN (macOS, Windows, a rescue system).
//
// The adapter answers every command in order (commands.ts matches the
// answers and hands received frames to the readers). Flow control: at most
// `window` frames wait for their answer — by default one, so a refused
// frame can always be resent in order; an accepted frame resolves its
// send(). A frame the adapter refuses
// (BEL: its transmit queue is full, or the bus is down) is sent again, in
// order, after a backoff — unless the adapter already accepted a later one,
// which would reorder the stream: that frame is reported lost
// (SlcanFrameLostError), never dropped silently; one refused past the send
// deadline fails with CanSendTimeoutError. Status flags ("F") are polled
// while open: they set the bus state, arrive at readers as error frames, and
// a receive overrun is reported to every reader (SlcanRxOverrunError).

import { BaseBus, type SendOptions } from "../../can/bus.js";
import { CanBusClosedError, CanBusStoppedError, CanSendTimeoutError } from "../../can/errors.js";
import { matchesAny, type CanFilter } from "../../can/filter.js";
import { formatFrame, type CanFrame } from "../../can/frame.js";
import { delay, realClock, type Clock } from "../../util/clock.js";
import { AbortedError } from "../../util/errors.js";
import { moduleLogger } from "../../util/log.js";
import { onAbort } from "../../util/abort.js";
import type { ByteTransport } from "../byte-transport.js";
import {
  decodeStatus,
  encodeFrame,
  errorFrameOfStatus,
  STATUS_ARBITRATION_LOST,
  STATUS_BUS_ERROR,
  STATUS_DATA_OVERRUN,
  statusNames,
  type SlcanLine,
  type SlcanStatus,
} from "./codec.js";
import {
  SlcanAdapterSilentError,
  SlcanFrameLostError,
  SlcanNoAnswerError,
  SlcanRefusedError,
  SlcanRxOverrunError,
} from "./errors.js";
import type { SlcanName } from "./name.js";
import { SlcanCommands, type CommandKind } from "./commands.js";

const log = moduleLogger("transport.slcan");

/** Frames sent to the adapter and not yet answered. */
export const SLCAN_TX_WINDOW = 1;
/** How long the adapter may take to answer a command before it counts as gone. */
export const SLCAN_ACK_TIMEOUT_MS = 2000;
/** How long a refused frame is retried (the adapter's queue stays full) before send() fails. */
export const SLCAN_SEND_BUSY_TIMEOUT_MS = 2000;
/** Backoff between resends of refused frames: first and longest wait. */
const BUSY_BACKOFF_MIN_MS = 1;
const BUSY_BACKOFF_MAX_MS = 16;
/** Status flags are read this often while the channel is open. */
export const SLCAN_STATUS_POLL_MS = 250;
/** Opening: the first command's answer (is anything there?). */
export const SLCAN_HELLO_TIMEOUT_MS = 1000;

export interface SlcanBusOptions {
  clock?: Clock;
  receiveOwn?: boolean;
  filters?: readonly CanFilter[];
  window?: number;
  ackTimeoutMs?: number;
  sendBusyTimeoutMs?: number;
  statusPollMs?: number;
}

/** What the adapter said about itself while opening. */
export interface SlcanAdapterInfo {
  /** The "V" answer ("V1013"; CANable: its firmware id), if it gave one. */
  version: string | undefined;
  /** The serial number the "N" answer carries ("A123" of "NA123"), if it gave one. */
  serial: string | undefined;
  /** It answers "F" (status flags); CANable's firmware does not. */
  statusFlags: boolean;
}

interface Outgoing {
  frame: CanFrame;
  resolve(): void;
  reject(e: Error): void;
  signal: AbortSignal | undefined;
  /** When the adapter first refused it (for the send deadline). */
  firstRefusal?: number;
  unsubscribeAbort?: () => void;
}

/**
 * Opens the adapter behind `transport` (already open at the tty baud) with
 * the bitrate of `name`. Throws SlcanNoAnswerError when nothing answers,
 * SlcanRefusedError when the bitrate or the open is refused. On failure the
 * transport is left open (the caller owns it).
 */
export async function startSlcanBus(
  iface: string,
  name: SlcanName,
  transport: ByteTransport,
  options: SlcanBusOptions = {},
): Promise<SlcanBus> {
  const bus = new SlcanBus(iface, name, transport, options);
  try {
    await bus.start();
  } catch (e) {
    await bus.abandon();
    throw e;
  }
  return bus;
}

export class SlcanBus extends BaseBus {
  adapter: SlcanAdapterInfo = { version: undefined, serial: undefined, statusFlags: false };
  private readonly commands: SlcanCommands;
  private readonly queue: Outgoing[] = [];
  private readonly inflight: Outgoing[] = [];
  /** A frame was refused: no new frame goes out until every one in flight is answered. */
  private holding = false;
  private refused: Outgoing[] = [];
  private lost: Outgoing[] = [];
  private backoff = BUSY_BACKOFF_MIN_MS;
  private filters: readonly CanFilter[];
  private cancelPoll: (() => void) | undefined;
  private lastStatus = 0;
  private readonly window: number;
  private readonly ackTimeoutMs: number;
  private readonly busyTimeoutMs: number;
  private readonly pollMs: number;
  private readonly receiveOwn: boolean;

  /** @internal use startSlcanBus / openSlcan. */
  constructor(
    iface: string,
    private readonly name: SlcanName,
    private readonly transport: ByteTransport,
    options: SlcanBusOptions,
  ) {
    super(iface, options.clock ?? realClock, {
      backend: "slcan",
      simulated: false,
      bitrate: name.bitrate,
    });
    this.filters = options.filters ?? [];
    this.window = Math.max(1, options.window ?? SLCAN_TX_WINDOW);
    this.ackTimeoutMs = options.ackTimeoutMs ?? SLCAN_ACK_TIMEOUT_MS;
    this.busyTimeoutMs = options.sendBusyTimeoutMs ?? SLCAN_SEND_BUSY_TIMEOUT_MS;
    this.pollMs = options.statusPollMs ?? SLCAN_STATUS_POLL_MS;
    this.receiveOwn = options.receiveOwn ?? false;
    this.commands = new SlcanCommands(iface, transport, this.clock, this.ackTimeoutMs, {
      onFrame: (frame) => {
        if (!this.closed && matchesAny(frame, this.filters)) this.dispatch(frame);
      },
      onFailure: (e, kind) =>
        this.failWith(kind === "silent" ? e : new CanBusStoppedError(this.channel, e)),
    });
  }

  private get opening(): boolean {
    return this.commands.opening;
  }

  setFilters(filters: readonly CanFilter[]): void {
    this.filters = [...filters];
  }

  /** @internal the opening handshake. */
  async start(): Promise<void> {
    await this.commands.begin();
    // "C" first: a channel left open refuses setup. Its answer (CR, or BEL when already closed) says something is there.
    try {
      await this.command("C", "setup", SLCAN_HELLO_TIMEOUT_MS);
    } catch (e) {
      if (e instanceof SlcanAdapterSilentError)
        throw new SlcanNoAnswerError(
          this.channel,
          this.name.path,
          this.name.ttyBaud,
          SLCAN_HELLO_TIMEOUT_MS,
        );
      throw e;
    }
    const v = await this.command("V", "setup");
    this.adapter.version = v.refused || !v.text ? undefined : v.text;
    const n = await this.command("N", "setup");
    this.adapter.serial = n.refused || !n.text.startsWith("N") ? undefined : n.text.slice(1);
    await this.command("Z0", "setup"); // timestamps off (CANable refuses Z: it sends none anyway)
    const purpose = `set the bitrate to ${this.name.bitrate} bit/s`;
    await this.mustAccept(this.name.setup, purpose);
    await this.mustAccept("O", "open the CAN channel");
    const f = await this.command("F", "status");
    const status = f.refused ? undefined : decodeStatus(f.text);
    this.adapter.statusFlags = status !== undefined;
    this.busState = "error-active";
    if (status) this.onStatus(status);
    this.commands.opening = false;
    this.schedulePoll();
    log.debug({ iface: this.channel, adapter: this.adapter }, "slcan channel open");
  }

  /** @internal a failed open: stop reading and drop what waits; the transport stays the caller's. */
  async abandon(): Promise<void> {
    await this.commands.stop(new CanBusClosedError(this.channel));
    await this.close();
  }

  protected transmit(frame: CanFrame, options: SendOptions): Promise<void> {
    return new Promise((resolve, reject) => {
      const entry: Outgoing = { frame, resolve, reject, signal: options.signal };
      if (options.signal) {
        entry.unsubscribeAbort = onAbort(options.signal, () => {
          const i = this.queue.indexOf(entry);
          if (i < 0) return; // already with the adapter: its answer decides
          this.queue.splice(i, 1);
          reject(new AbortedError("CAN send", options.signal?.reason));
        });
      }
      this.queue.push(entry);
      this.fill();
    });
  }

  protected async release(): Promise<void> {
    this.cancelPoll?.();
    this.cancelPoll = undefined;
    const closed = new CanBusClosedError(this.channel);
    for (const e of this.queue.splice(0)) settle(e, closed);
    if (!this.failed && !this.opening) {
      // The frames already with the adapter are answered before this "C".
      await this.command("C", "setup").catch((e: unknown) =>
        log.debug({ iface: this.channel, err: e }, "closing the slcan channel failed"),
      );
    }
    this.settleAll(closed);
    await this.commands.stop(closed);
    if (!this.opening) await this.transport.close();
    log.debug({ iface: this.channel }, "slcan channel closed");
  }

  // ---- commands ------------------------------------------------------------

  /** Sends a command and resolves its answer line (refused = BEL). */
  private command(text: string, kind: CommandKind, timeoutMs?: number): Promise<SlcanLine> {
    if (this.failed) return Promise.reject(this.failed);
    return this.commands.send(text, kind, timeoutMs);
  }

  private async mustAccept(text: string, purpose: string): Promise<void> {
    const line = await this.command(text, "setup");
    if (line.refused) throw new SlcanRefusedError(this.channel, text, purpose);
    if (line.text !== "")
      // Something answered, but not as an slcan adapter does: garbage at the wrong tty baud.
      throw new SlcanNoAnswerError(
        this.channel,
        this.name.path,
        this.name.ttyBaud,
        this.ackTimeoutMs,
      );
  }

  // ---- frames out -----------------------------------------------------------

  private fill(): void {
    while (
      !this.holding &&
      !this.failed &&
      this.inflight.length < this.window &&
      this.queue.length > 0
    ) {
      const entry = this.queue.shift()!;
      this.inflight.push(entry);
      this.command(encodeFrame(entry.frame), "frame").then(
        (line) => this.onFrameAnswer(entry, line),
        (e: Error) => {
          const i = this.inflight.indexOf(entry);
          if (i >= 0) this.inflight.splice(i, 1);
          settle(entry, e);
        },
      );
    }
  }

  private onFrameAnswer(entry: Outgoing, line: SlcanLine): void {
    const i = this.inflight.indexOf(entry);
    if (i >= 0) this.inflight.splice(i, 1);
    if (!line.refused) {
      // Every frame refused before this one can no longer go out in order.
      if (this.refused.length) this.lost.push(...this.refused.splice(0));
      this.backoff = BUSY_BACKOFF_MIN_MS;
      settle(entry);
      if (this.receiveOwn && !this.closed) this.dispatch(entry.frame);
    } else {
      this.holding = true;
      this.refused.push(entry);
      log.trace({ iface: this.channel, frame: formatFrame(entry.frame) }, "adapter refused frame");
    }
    if (this.holding && this.inflight.length === 0) void this.recover();
    else this.fill();
  }

  /** Every frame in flight is answered and some were refused: report the lost, resend the rest. */
  private async recover(): Promise<void> {
    const lost = this.lost.splice(0);
    const retry = this.refused.splice(0);
    const status = await this.readStatus();
    const flags = status ? statusNames(status) : [];
    for (const e of lost) {
      log.warn(
        { iface: this.channel, frame: formatFrame(e.frame), flags },
        "frame lost at adapter",
      );
      settle(e, new SlcanFrameLostError(this.channel, formatFrame(e.frame), flags));
    }
    const now = this.clock.now();
    const keep: Outgoing[] = [];
    for (const e of retry) {
      e.firstRefusal ??= now;
      if (now - e.firstRefusal >= this.busyTimeoutMs)
        settle(
          e,
          new CanSendTimeoutError(
            this.channel,
            this.busyTimeoutMs,
            formatFrame(e.frame),
            this.state,
          ),
        );
      else keep.push(e);
    }
    if (this.closed) {
      for (const e of keep) settle(e, new CanBusClosedError(this.channel));
      keep.length = 0;
    }
    this.queue.unshift(...keep);
    try {
      if (keep.length) await delay(this.clock, this.backoff);
    } finally {
      this.backoff = Math.min(this.backoff * 2, BUSY_BACKOFF_MAX_MS);
      this.holding = false;
      if (!this.closed && !this.failed) this.fill();
    }
  }

  // ---- status flags ---------------------------------------------------------

  private async readStatus(): Promise<SlcanStatus | undefined> {
    if (!this.adapter.statusFlags || this.closed || this.failed) return undefined;
    try {
      const line = await this.command("F", "status");
      const status = line.refused ? undefined : decodeStatus(line.text);
      if (status) this.onStatus(status);
      return status;
    } catch {
      return undefined;
    }
  }

  private schedulePoll(): void {
    if (!this.adapter.statusFlags || this.pollMs <= 0) return;
    this.cancelPoll = this.clock.schedule(this.pollMs, () => {
      this.cancelPoll = undefined;
      if (this.closed || this.failed) return;
      void this.readStatus().then(() => !this.closed && !this.failed && this.schedulePoll());
    });
  }

  private onStatus(s: SlcanStatus): void {
    // Overrun, lost arbitration and bus errors are events (each reading reports them again), not a state.
    const latched = s.raw & (STATUS_DATA_OVERRUN | STATUS_ARBITRATION_LOST | STATUS_BUS_ERROR);
    if (s.raw !== this.lastStatus || latched) {
      this.lastStatus = s.raw;
      this.dispatch(errorFrameOfStatus(s));
    }
    // A full receive FIFO loses nothing yet; an overrun has lost frames.
    if (s.dataOverrun) {
      const flags = statusNames(s);
      log.warn({ iface: this.channel, flags }, "adapter lost received frames");
      this.reportLoss(new SlcanRxOverrunError(this.channel, flags));
    }
  }

  private failWith(error: Error): void {
    if (this.failed || this.closed) return;
    log.warn({ iface: this.channel, err: error.message }, "slcan adapter failed");
    this.busState = "stopped";
    this.fail(error);
    this.cancelPoll?.();
    this.commands.rejectAll(error);
    this.settleAll(error);
  }

  /** Rejects every frame not yet answered for good. */
  private settleAll(error: Error): void {
    const all = [...this.queue, ...this.inflight, ...this.refused, ...this.lost];
    this.queue.length = 0;
    this.inflight.length = 0;
    this.refused = [];
    this.lost = [];
    for (const e of all) settle(e, error);
  }
}

function settle(e: Outgoing, error?: Error): void {
  e.unsubscribeAbort?.();
  if (error) e.reject(error);
  else e.resolve();
}
