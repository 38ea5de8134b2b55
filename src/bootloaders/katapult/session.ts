// KatapultSession: the host side of Katapult's command protocol over any
// ByteTransport (CAN node stream, serial, USB CDC). One command in flight;
// a reply is accepted only if it is an ACK echoing the command (and, for
// block commands, the address) — stale replies from earlier copies are
// skipped, and replies without an echo (COMMAND_ERROR, NACK) that earlier
// copies still owe are not taken for this command's answer.
//
// Recovery is fast: a command is sent again once a deadline derived from
// the round trips measured so far (per command kind, Karn's rule: only
// unambiguous answers count) plus what the device may spend on it (a page
// erase, told by the caller) has passed, doubling on each resend. The long
// protocol timeouts only bound how long a command is tried before giving
// up (tries × timeout, as before). Without a measurement yet, every try
// waits the long timeout. No fixed sleeps: every wait is a read with a
// deadline.
//
// Time the host itself did not run is not counted as time the device had to
// answer: a loaded host (a Raspberry Pi busy with Klipper) may write a
// command and then not run for a while, and frames that only leave when its
// event loop runs (a userspace USB adapter's transmit window) reach the
// device that much later. The device then erases later than the deadline
// assumed, and a resend landing in the erase overruns its 3-frame CAN
// receive FIFO: the cut frame wedges Katapult until reset. So while it
// waits the session watches its own timers (a probe every few ms, and each
// read that runs out); when one fires late, everything since the host last
// ran is added to the resend deadline — the device gets its full deadline
// after the host runs again — and to the give-up, by at most the give-up
// budget itself (a host that keeps stopping still gets an answer or an error).
// Round trips the host did not run through are not measured.

import type { ByteTransport } from "../../transport/byte-transport.js";
import { CanNodeStream } from "../../transport/can-node-stream.js";
import { delay, type Clock } from "../../util/clock.js";
import { throwIfAborted } from "../../util/errors.js";
import { moduleLogger } from "../../util/log.js";
import { uuidFromBytes, type Uuid } from "../../klippy-bridge/uuid.js";
import {
  Cmd,
  completeFrame,
  connectFrame,
  decodeConnect,
  decodeResponse,
  FrameParser,
  getCanbusIdFrame,
  PRIME_FRAME,
  readU32le,
  requestBlockFrame,
  sendBlockFrame,
  sendEofFrame,
  type ConnectInfo,
} from "./codec.js";
import { KatapultCommandError, KatapultNoResponseError, KatapultWedgedError } from "./errors.js";

const log = moduleLogger("canboot.session");

/** Deadlines and retry counts. Defaults follow flashtool where it is right to. */
export interface SessionTimeouts {
  /** Longest wait for a reply, for most commands (flashtool: 2 s). */
  replyMs: number;
  /** Longest wait for CONNECT: short, because the first one after a node-id assignment may be lost. */
  connectMs: number;
  /** Longest wait for SEND_BLOCK (and SEND_EOF): the device erases inside it (flashtool: 5 s). */
  sendBlockMs: number;
  /** Wait after a BUSY reply before trying again (flashtool: 1.5 s). */
  busyBackoffMs: number;
  /** Most commands give up after tries × replyMs (flashtool: 5 tries). */
  tries: number;
  /** CONNECT gives up after connectTries × connectMs. */
  connectTries: number;
  /** SEND_BLOCK gives up after sendBlockTries × sendBlockMs (flashtool: 3). */
  sendBlockTries: number;
  /** Floor of a resend deadline derived from measured round trips. */
  minResendMs: number;
}

/** Floor of an adaptive resend deadline, ms. */
export const MIN_RESEND_MS = 4;
/** Timer granularity allowed for in a resend deadline (RFC 6298's G), ms. */
export const RESEND_GRANULARITY_MS = 1;
/**
 * The device's receive buffer on a UART (katapult.md §7): bytes past it are
 * dropped and the parser wedges. Copies of a command the device has not
 * answered yet may all be sitting in it (a loaded host or adapter, an erase
 * longer than foreseen), so on a UART a quick resend is made only while every
 * unanswered copy fits (SessionOptions.rxBufferBytes).
 */
export const DEVICE_RX_BUFFER_BYTES = 192;
/** While a reply is awaited, how often the session checks that its own process runs on time, ms. */
export const HOST_LAG_PROBE_MS = 10;
/**
 * A probe this late is scheduling jitter, not a stalled host, ms: a busy Pi
 * or UML's coarse timers fire 10 ms and more late all the time, and counting
 * that as lost time would stop every round trip from being measured (every
 * lost reply would then wait the long timeout). The stalls that wedge a board
 * are ~100 ms and longer (test/e2e/katapult-host-stall.test.ts).
 */
export const HOST_LAG_TOLERANCE_MS = 25;
/** A command is never sent more often than this, whatever the deadlines. */
export const MAX_SENDS_PER_COMMAND = 24;

export const DEFAULT_TIMEOUTS: SessionTimeouts = {
  replyMs: 2000,
  connectMs: 400,
  sendBlockMs: 5000,
  busyBackoffMs: 1500,
  tries: 5,
  connectTries: 10,
  sendBlockTries: 3,
  minResendMs: MIN_RESEND_MS,
};

export interface SessionOptions {
  timeouts?: Partial<SessionTimeouts>;
  /** Aborts between commands and while waiting for a reply; a frame is never cut short. */
  signal?: AbortSignal;
  /**
   * Runs before a command is sent again (CAN: re-send the node-id
   * assignment, in case a late CLEAR took it away).
   */
  beforeResend?: (command: number, attempt: number) => Promise<void>;
  /**
   * The device's receive buffer where bytes past it are lost (a UART:
   * DEVICE_RX_BUFFER_BYTES): quick resends stop once every unanswered copy
   * would no longer fit. Absent where the link itself holds back what the
   * device cannot take (USB CDC NAKs) or the bus paces the copies (CAN).
   */
  rxBufferBytes?: number;
}

/**
 * Outcome of SEND_BLOCK. "refused" = the device answered COMMAND_ERROR; the
 * caller decides (katapult.md §3.2). `attempts` > 1 means the block was sent
 * again after an unanswered try, so a first copy may already be written.
 */
export interface SendBlockOutcome {
  result: "written" | "refused";
  attempts: number;
}

/**
 * How long the device may work on a command beyond the round trip before it
 * answers, in ms: the longest erase (and programming) the command can
 * trigger on this chip. Infinity = unknown: wait the long timeout before a
 * resend (a copy arriving during an erase overruns the receive FIFO, and the
 * device wedges).
 */
export type BusyMs = number;

interface Exchange {
  /** Set by exchange(): how many copies were sent. */
  attempts?: number;
  command: number;
  frame: Uint8Array;
  timeoutMs: number;
  tries: number;
  busyMs: BusyMs;
  /** Accept this ACK data (after the echo word)? */
  accept(data: Uint8Array): boolean;
  /** Return "refused" instead of throwing on COMMAND_ERROR. */
  refusalIsAnswer?: boolean;
  address?: number;
}

/** Smoothed round trip of one command kind (RFC 6298). */
class RoundTrip {
  srtt = 0;
  rttvar = 0;
  samples = 0;
  /** Fastest answer seen. */
  min = Infinity;
  add(ms: number): void {
    this.min = Math.min(this.min, ms);
    if (this.samples++ === 0) {
      this.srtt = ms;
      this.rttvar = ms / 2;
      return;
    }
    this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - ms);
    this.srtt = 0.875 * this.srtt + 0.125 * ms;
  }
  get rto(): number {
    return this.srtt + Math.max(RESEND_GRANULARITY_MS, 4 * this.rttvar);
  }
}

/**
 * Time the host process did not run while a reply was awaited. When one of
 * its timers — a probe every HOST_LAG_PROBE_MS, or a read running out — is
 * found more than HOST_LAG_TOLERANCE_MS past its time, the host stopped
 * somewhere after it last ran, and frames it wrote before may have reached
 * the device only at the end: everything since it last ran counts as lost.
 */
class HostLag {
  /** Lost time so far, ms. */
  lostMs = 0;
  /** When the host last ran its code here. */
  private lastRun: number;
  private probeDue = Infinity;
  private cancel: (() => void) | undefined;

  constructor(private readonly clock: Clock) {
    this.lastRun = clock.now();
  }

  /**
   * The host runs now: it wrote, a read returned, or a probe fired. `due`:
   * when the timer that woke it was due. A probe still pending past its time
   * (its turn has not come yet) tells the same as one that fired late.
   */
  observe(due?: number, now = this.clock.now()): void {
    const overdue = (t: number) => now - t > HOST_LAG_TOLERANCE_MS;
    const probeLate = overdue(this.probeDue);
    if (probeLate || (due !== undefined && overdue(due))) this.lostMs += now - this.lastRun;
    this.lastRun = now;
    if (probeLate) this.restart(now);
  }

  /** Starts probing, if not yet; `now`: the time the caller has just read. */
  start(now?: number): void {
    if (!this.cancel) this.restart(now);
  }

  stop(): void {
    this.cancel?.();
    this.cancel = undefined;
    this.probeDue = Infinity;
  }

  private restart(now = this.clock.now()): void {
    this.stop();
    const due = now + HOST_LAG_PROBE_MS;
    this.probeDue = due;
    this.cancel = this.clock.schedule(HOST_LAG_PROBE_MS, () => {
      this.cancel = undefined;
      this.probeDue = Infinity;
      this.observe(due);
      this.restart();
    });
  }
}

export class KatapultSession {
  readonly timeouts: SessionTimeouts;
  private readonly parser = new FrameParser();
  private readonly signal: AbortSignal | undefined;
  private readonly beforeResend: SessionOptions["beforeResend"];
  private readonly rxBufferBytes: number | undefined;
  /** Error replies still expected from an earlier prime write, to be skipped. */
  private staleErrors = 0;
  /** Replies earlier copies may still bring (a resent command answered twice). */
  private owed = 0;
  /** Copies of the last command the device may not have read yet (its answer came for an earlier one). */
  private unreadCarry = 0;
  private readonly rtt = new Map<string, RoundTrip>();
  /** Count of resends, for statistics. */
  retries = 0;

  constructor(
    readonly transport: ByteTransport,
    options: SessionOptions = {},
  ) {
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    this.signal = options.signal;
    this.beforeResend = options.beforeResend;
    this.rxBufferBytes = options.rxBufferBytes;
  }

  /**
   * Writes the invalid "prime" frame STM32 USBFS devices need before their
   * first reply can leave (katapult.md §8.2). Its COMMAND_ERROR is skipped.
   */
  async prime(): Promise<void> {
    await this.transport.write(PRIME_FRAME);
    this.staleErrors++;
  }

  async connect(): Promise<ConnectInfo> {
    const data = await this.exchange({
      command: Cmd.CONNECT,
      frame: connectFrame(),
      timeoutMs: this.timeouts.connectMs,
      tries: this.timeouts.connectTries,
      busyMs: 0,
      accept: (d) => d.length >= 12,
    });
    const info = decodeConnect(data as Uint8Array); // decodeConnect throws KatapultFrameError on short data
    log.debug({ link: this.transport.name, ...info }, "connected");
    return info;
  }

  async getCanbusId(): Promise<Uuid> {
    const data = (await this.exchange({
      command: Cmd.GET_CANBUS_ID,
      frame: getCanbusIdFrame(),
      timeoutMs: this.timeouts.replyMs,
      tries: this.timeouts.tries,
      busyMs: 0,
      accept: (d) => d.length >= 6,
    })) as Uint8Array;
    return uuidFromBytes(data.subarray(0, 6));
  }

  /**
   * Writes one block. "refused" = the device answered COMMAND_ERROR (see
   * katapult.md §3.2). `busyMs`: the longest erase this block can trigger.
   */
  async sendBlock(
    address: number,
    data: Uint8Array,
    busyMs: BusyMs = Infinity,
  ): Promise<SendBlockOutcome> {
    const x: Exchange = {
      command: Cmd.SEND_BLOCK,
      frame: sendBlockFrame(address, data),
      timeoutMs: this.timeouts.sendBlockMs,
      tries: this.timeouts.sendBlockTries,
      busyMs,
      accept: (d) => d.length >= 4 && readU32le(d, 0) === address >>> 0,
      refusalIsAnswer: true,
      address,
    };
    const r = await this.exchange(x);
    return { result: r === "refused" ? "refused" : "written", attempts: x.attempts ?? 1 };
  }

  /** Flushes buffered writes; returns the device's page count (meaning differs per target). */
  async sendEof(busyMs: BusyMs = Infinity): Promise<number> {
    const data = (await this.exchange({
      command: Cmd.SEND_EOF,
      frame: sendEofFrame(),
      timeoutMs: this.timeouts.sendBlockMs,
      tries: this.timeouts.tries,
      busyMs,
      accept: (d) => d.length >= 4,
    })) as Uint8Array;
    return readU32le(data, 0);
  }

  /** Reads one block back. */
  async requestBlock(address: number, blockSize: number): Promise<Uint8Array> {
    const data = (await this.exchange({
      command: Cmd.REQUEST_BLOCK,
      frame: requestBlockFrame(address),
      timeoutMs: this.timeouts.replyMs,
      tries: this.timeouts.tries,
      busyMs: 0,
      accept: (d) => d.length >= 4 + blockSize && readU32le(d, 0) === address >>> 0,
      address,
    })) as Uint8Array;
    return data.slice(4, 4 + blockSize);
  }

  /** Asks the bootloader to start the application (~100 ms later). Only after a passing verify. */
  async complete(): Promise<void> {
    await this.exchange({
      command: Cmd.COMPLETE,
      frame: completeFrame(),
      timeoutMs: this.timeouts.replyMs,
      tries: this.timeouts.tries,
      busyMs: 0,
      accept: () => true,
    });
  }

  /**
   * How long to wait for an answer before sending copy `attempt` + 1: the
   * kind's retransmission timeout (another kind's, doubled, before it has its
   * own) plus the work the device may do, doubled per resend, within
   * [minResendMs, timeoutMs]. The long timeout while nothing was measured or
   * the work is unknown.
   */
  private resendAfter(x: Exchange, attempt: number): number {
    const own = this.rtt.get(rttKey(x));
    let base: number | undefined = own?.rto;
    if (base === undefined) {
      for (const r of this.rtt.values()) base = Math.max(base ?? 0, 2 * r.rto);
    }
    if (base === undefined || !Number.isFinite(x.busyMs)) return x.timeoutMs;
    const ms = Math.max(this.timeouts.minResendMs, base + x.busyMs) * 2 ** (attempt - 1);
    return Math.min(x.timeoutMs, ms);
  }

  private async exchange(x: Exchange): Promise<Uint8Array | "refused"> {
    const lag = new HostLag(this.transport.clock);
    try {
      return await this.exchangeWith(x, lag);
    } finally {
      lag.stop();
    }
  }

  private async exchangeWith(x: Exchange, lag: HostLag): Promise<Uint8Array | "refused"> {
    const clock = this.transport.clock;
    const budget = x.timeoutMs * x.tries;
    let giveUpAt = clock.now() + budget;
    /** The host's lost time moves the give-up too, by at most the budget itself (never a hang). */
    const giveUp = () => giveUpAt + Math.min(lag.lostMs, budget);
    let nackSeen = false;
    let copies = 0;
    let sentAt = 0;
    let firstSentAt = 0;
    /** Lost host time when the current copy was written. */
    let lostAtSend = 0;
    /** Lost host time when the first copy was written. */
    let lostAtFirst = 0;
    /** Copies (of this command, and earlier ones still owed) the device may hold unread. */
    let unread = this.unreadCarry;
    for (let attempt = 1; attempt <= MAX_SENDS_PER_COMMAND; attempt++) {
      throwIfAborted(this.signal, "katapult session");
      if (attempt > 1) {
        this.retries++;
        this.parser.reset();
        await this.beforeResend?.(x.command, attempt);
      }
      await this.transport.write(x.frame);
      // Deadlines count from the moment the whole frame was handed over, not from before the write.
      sentAt = clock.now();
      lag.observe(undefined, sentAt);
      lag.start(sentAt);
      lostAtSend = lag.lostMs;
      if (attempt === 1) {
        firstSentAt = sentAt;
        lostAtFirst = lostAtSend;
      }
      copies++;
      unread++;
      x.attempts = attempt;
      const roomForCopy =
        this.rxBufferBytes === undefined || (unread + 1) * x.frame.length <= this.rxBufferBytes;
      /** Resend deadline in the host's running time: the host's lost time since the write is added. */
      let deadline = sentAt + (roomForCopy ? this.resendAfter(x, attempt) : x.timeoutMs);
      const due = () => Math.min(giveUp(), deadline + lag.lostMs - lostAtSend);
      let outcome: "timeout" | "nack" | "busy" = "timeout";
      // One clock read per wake-up: the time read after a read returns serves the next
      // deadline too (a reply split over many CAN frames wakes this loop once per frame, and
      // where a clock read is a system call — no vDSO, as on UML — each read counts).
      let now = sentAt;
      wait: for (;;) {
        const left = due() - now;
        if (left <= 0) break;
        const readDue = now + left;
        const bytes = await this.transport.read(left, { signal: this.signal });
        now = clock.now();
        lag.observe(bytes.length === 0 ? readDue : undefined, now);
        for (const frame of this.parser.push(bytes)) {
          // Each reply stands for one command frame the device has read (a dropped reply only
          // makes this count high: the safe side).
          unread = Math.max(0, unread - 1);
          const r = decodeResponse(frame);
          if (r.kind === "ack") {
            if (r.command === x.command && x.accept(r.data)) {
              // Replies come in order: nothing older can follow; later copies may still answer.
              this.owed = copies - 1;
              // Too soon to answer the copy just sent: an earlier copy's late answer, and the
              // later copies may still be unread. Otherwise the last copy was answered, and
              // replies come in order: the device has read every copy.
              const early = copies > 1 && now - sentAt < this.fastest(x) / 2;
              this.unreadCarry = early ? copies - 1 : 0;
              // A round trip the host was not running for is no measurement (Karn's rule, again).
              if (copies === 1 && lag.lostMs === lostAtSend) this.measure(x, now - sentAt);
              else if (copies === 2 && early && lag.lostMs === lostAtFirst)
                // The resend was spurious; the first copy's round trip is known after all, and
                // it widens the deadline.
                this.measure(x, now - firstSentAt);
              return r.data;
            }
            if (this.owed > 0) this.owed--;
            log.debug({ command: x.command, got: r.command }, "skipping a stale reply");
          } else if (r.kind === "error") {
            if (this.staleErrors > 0) {
              this.staleErrors--;
              continue;
            }
            if (this.owed > 0) {
              // No echo: it may answer an earlier copy (an LPC176x refusing a resent block).
              this.owed--;
              log.debug({ command: x.command }, "skipping an error an earlier copy may owe");
              continue;
            }
            this.owed = copies - 1;
            if (x.refusalIsAnswer) return "refused";
            throw new KatapultCommandError(x.command, x.address);
          } else if (r.kind === "nack") {
            nackSeen = true;
            outcome = "nack";
            // The frame (or bytes before it) was bad. Send again once the device can no longer
            // be busy with a copy it did parse: at once unless the command may erase (unknown
            // work: keep the deadline). The device answered just now: lost time before is moot.
            deadline = Math.min(deadline, now - (lag.lostMs - lostAtSend) + x.busyMs);
          } else if (r.kind === "busy") {
            outcome = "busy";
            break wait;
          }
        }
      }
      log.debug(
        {
          command: x.command,
          attempt,
          outcome,
          link: this.transport.name,
          ...(lag.lostMs > lostAtSend ? { hostLagMs: lag.lostMs - lostAtSend } : {}),
        },
        "no usable reply",
      );
      if (outcome === "busy") {
        // The device is alive and asked for time: the backoff does not count against the bound.
        giveUpAt += this.timeouts.busyBackoffMs;
        await delay(clock, this.timeouts.busyBackoffMs, this.signal, "katapult busy backoff");
      }
      if (clock.now() >= giveUp()) break;
    }
    if (nackSeen) throw new KatapultWedgedError(x.command, this.transport.name);
    throw new KatapultNoResponseError(
      x.command,
      x.timeoutMs,
      x.tries,
      this.transport.name,
      this.transport instanceof CanNodeStream ? "can" : "serial",
    );
  }

  private fastest(x: Exchange): number {
    return this.rtt.get(rttKey(x))?.min ?? 0;
  }

  private measure(x: Exchange, ms: number): void {
    const key = rttKey(x);
    let r = this.rtt.get(key);
    if (!r) this.rtt.set(key, (r = new RoundTrip()));
    r.add(ms);
  }
}

/** Round trips are kept per command, and apart for commands that may erase. */
function rttKey(x: Exchange): string {
  return `${x.command}${x.busyMs > 0 ? ":busy" : ""}`;
}
