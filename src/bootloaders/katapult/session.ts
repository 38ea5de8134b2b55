// KatapultSession: the host side of Katapult's command protocol over any
// ByteTransport (CAN node stream, serial, USB CDC). One command in flight;
// a reply is accepted only if it is an ACK echoing the command (and, for
// block commands, the address) — stale replies from earlier tries are
// skipped. No fixed sleeps: every wait is a read with a named deadline.

import type { ByteTransport } from "../../transport/byte-transport.js";
import { CanNodeStream } from "../../transport/can-node-stream.js";
import { delay } from "../../util/clock.js";
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
  /** Per try, for most commands (flashtool: 2 s). */
  replyMs: number;
  /** Per try, for CONNECT: short, because the first one after a node-id assignment may be lost. */
  connectMs: number;
  /** Per try, for SEND_BLOCK: the device erases inside it (flashtool: 5 s). */
  sendBlockMs: number;
  /** Wait after a BUSY reply before trying again (flashtool: 1.5 s). */
  busyBackoffMs: number;
  /** Tries for most commands (flashtool: 5). */
  tries: number;
  /** Tries for CONNECT. */
  connectTries: number;
  /** Tries for SEND_BLOCK (flashtool: 3). */
  sendBlockTries: number;
}

export const DEFAULT_TIMEOUTS: SessionTimeouts = {
  replyMs: 2000,
  connectMs: 400,
  sendBlockMs: 5000,
  busyBackoffMs: 1500,
  tries: 5,
  connectTries: 10,
  sendBlockTries: 3,
};

export interface SessionOptions {
  timeouts?: Partial<SessionTimeouts>;
  /** Aborts between commands and while waiting for a reply; a frame is never cut short. */
  signal?: AbortSignal;
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

interface Exchange {
  /** Set by exchange(): the try that got the answer. */
  attempts?: number;
  command: number;
  frame: Uint8Array;
  timeoutMs: number;
  tries: number;
  /** Accept this ACK data (after the echo word)? */
  accept(data: Uint8Array): boolean;
  /** Return "refused" instead of throwing on COMMAND_ERROR. */
  refusalIsAnswer?: boolean;
  address?: number;
}

export class KatapultSession {
  readonly timeouts: SessionTimeouts;
  private readonly parser = new FrameParser();
  private readonly signal: AbortSignal | undefined;
  /** Error replies still expected from an earlier prime write, to be skipped. */
  private staleErrors = 0;
  /** Count of resends, for statistics. */
  retries = 0;

  constructor(
    readonly transport: ByteTransport,
    options: SessionOptions = {},
  ) {
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    this.signal = options.signal;
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
      accept: (d) => d.length >= 6,
    })) as Uint8Array;
    return uuidFromBytes(data.subarray(0, 6));
  }

  /** Writes one block. "refused" = the device answered COMMAND_ERROR (see katapult.md §3.2). */
  async sendBlock(address: number, data: Uint8Array): Promise<SendBlockOutcome> {
    const x: Exchange = {
      command: Cmd.SEND_BLOCK,
      frame: sendBlockFrame(address, data),
      timeoutMs: this.timeouts.sendBlockMs,
      tries: this.timeouts.sendBlockTries,
      accept: (d) => d.length >= 4 && readU32le(d, 0) === address >>> 0,
      refusalIsAnswer: true,
      address,
    };
    const r = await this.exchange(x);
    return { result: r === "refused" ? "refused" : "written", attempts: x.attempts ?? 1 };
  }

  /** Flushes buffered writes; returns the device's page count (meaning differs per target). */
  async sendEof(): Promise<number> {
    const data = (await this.exchange({
      command: Cmd.SEND_EOF,
      frame: sendEofFrame(),
      timeoutMs: this.timeouts.sendBlockMs,
      tries: this.timeouts.tries,
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
      accept: () => true,
    });
  }

  private async exchange(x: Exchange): Promise<Uint8Array | "refused"> {
    const clock = this.transport.clock;
    let nackSeen = false;
    for (let attempt = 1; attempt <= x.tries; attempt++) {
      throwIfAborted(this.signal, "katapult session");
      if (attempt > 1) {
        this.retries++;
        this.transport.discardInput();
        this.parser.reset();
      }
      await this.transport.write(x.frame);
      x.attempts = attempt;
      const deadline = clock.now() + x.timeoutMs;
      let outcome: "timeout" | "nack" | "busy" = "timeout";
      wait: for (;;) {
        const left = deadline - clock.now();
        if (left <= 0) break;
        const bytes = await this.transport.read(left, { signal: this.signal });
        for (const frame of this.parser.push(bytes)) {
          const r = decodeResponse(frame);
          if (r.kind === "ack") {
            if (r.command === x.command && x.accept(r.data)) return r.data;
            log.debug({ command: x.command, got: r.command }, "skipping a stale reply");
          } else if (r.kind === "error") {
            if (this.staleErrors > 0) {
              this.staleErrors--;
              continue;
            }
            if (x.refusalIsAnswer) return "refused";
            throw new KatapultCommandError(x.command, x.address);
          } else if (r.kind === "nack") {
            nackSeen = true;
            outcome = "nack";
            break wait;
          } else if (r.kind === "busy") {
            outcome = "busy";
            break wait;
          }
        }
      }
      log.debug(
        { command: x.command, attempt, outcome, link: this.transport.name },
        "no usable reply",
      );
      if (outcome === "busy")
        await delay(clock, this.timeouts.busyBackoffMs, this.signal, "katapult busy backoff");
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
}
