// The command/answer layer of an slcan link: commands go out in order,
// each answer (CR, BEL or a value) is matched to the oldest unanswered
// command, and received frames — which arrive between the answers — go to
// `onFrame`. A command unanswered past its deadline means the adapter is
// gone (or, while opening, that nothing is there).

import type { CanFrame } from "../../can/frame.js";
import type { Clock } from "../../util/clock.js";
import { AbortedError } from "../../util/errors.js";
import { moduleLogger } from "../../util/log.js";
import type { ByteTransport } from "../byte-transport.js";
import { decodeFrame, SlcanLineSplitter, type SlcanLine } from "./codec.js";
import { SlcanAdapterSilentError } from "./errors.js";

const log = moduleLogger("transport.slcan");
const ASCII = new TextEncoder();

/** Opening: the adapter's answers to the CRs that clear a half-sent command end within this much silence. */
export const SLCAN_FLUSH_QUIET_MS = 50;
/** …and the clearing gives up waiting for silence after this long (frames may be streaming). */
const SLCAN_FLUSH_MAX_MS = 500;
/** The read loop's wait per read (it wakes on data; this only bounds one read call). */
const READ_WAIT_MS = 1000;

/** What a command is: a frame's answer must look like one (CR, "z", "Z" or BEL). */
export type CommandKind = "setup" | "frame" | "status";

interface Command {
  text: string;
  kind: CommandKind;
  resolve(line: SlcanLine): void;
  reject(e: Error): void;
  cancelTimer: () => void;
}

export interface SlcanCommandsHooks {
  /** A frame the adapter received. */
  onFrame(frame: CanFrame): void;
  /** The link failed for good: a command went unanswered (while not opening), a read or write failed. */
  onFailure(error: Error, kind: "silent" | "io"): void;
}

export class SlcanCommands {
  private readonly splitter = new SlcanLineSplitter();
  private readonly pending: Command[] = [];
  private writing: Promise<void> = Promise.resolve();
  private readonly reading = new AbortController();
  private readLoop: Promise<void> | undefined;
  /** While opening, an unanswered command only fails itself (the opener explains it). */
  opening = true;

  constructor(
    private readonly channel: string,
    private readonly transport: ByteTransport,
    private readonly clock: Clock,
    private readonly ackTimeoutMs: number,
    private readonly hooks: SlcanCommandsHooks,
  ) {}

  /** Ends whatever half-sent command the adapter holds (CRs) and drops the answers, then starts reading. */
  async begin(): Promise<void> {
    await this.transport.write(ASCII.encode("\r\r\r"));
    const start = this.clock.now();
    while (this.clock.now() - start < SLCAN_FLUSH_MAX_MS) {
      const got = await this.transport.read(SLCAN_FLUSH_QUIET_MS);
      if (got.length === 0) break;
    }
    this.transport.discardInput();
    this.readLoop = this.runReadLoop();
  }

  /** Sends a command; resolves its answer line (refused: BEL). */
  send(text: string, kind: CommandKind, timeoutMs = this.ackTimeoutMs): Promise<SlcanLine> {
    return new Promise((resolve, reject) => {
      const cmd: Command = { text, kind, resolve, reject, cancelTimer: () => undefined };
      this.pending.push(cmd);
      cmd.cancelTimer = this.clock.schedule(timeoutMs, () => {
        const error = new SlcanAdapterSilentError(this.channel, text, timeoutMs);
        if (this.opening) this.rejectAll(error);
        else this.hooks.onFailure(error, "silent");
      });
      const bytes = ASCII.encode(`${text}\r`);
      this.writing = this.writing.then(() =>
        this.transport.write(bytes).catch((e: unknown) => this.hooks.onFailure(e as Error, "io")),
      );
    });
  }

  /** Every unanswered command rejects with `error`. */
  rejectAll(error: Error): void {
    for (const c of this.pending.splice(0)) {
      c.cancelTimer();
      c.reject(error);
    }
  }

  /** Stops reading; unanswered commands reject with `error`. The transport stays open. */
  async stop(error: Error): Promise<void> {
    this.reading.abort();
    this.rejectAll(error);
    await this.readLoop;
  }

  private async runReadLoop(): Promise<void> {
    for (;;) {
      let bytes: Uint8Array;
      try {
        bytes = await this.transport.read(READ_WAIT_MS, { signal: this.reading.signal });
      } catch (e) {
        if (e instanceof AbortedError || this.reading.signal.aborted) return;
        this.hooks.onFailure(e as Error, "io");
        return;
      }
      for (const line of this.splitter.push(bytes)) this.onLine(line);
    }
  }

  private onLine(line: SlcanLine): void {
    if (!line.refused) {
      const frame = decodeFrame(line.text);
      if (frame) {
        this.hooks.onFrame(frame);
        return;
      }
    }
    const cmd = this.pending[0];
    if (!cmd) {
      log.debug({ iface: this.channel, line: line.text }, "unasked slcan line ignored");
      return;
    }
    // A frame's answer is CR, "z\r" or "Z\r" (or BEL); anything else is not its answer.
    if (cmd.kind === "frame" && !line.refused && !/^[zZ]?$/.test(line.text)) {
      log.debug({ iface: this.channel, line: line.text }, "unexpected slcan line ignored");
      return;
    }
    this.pending.shift();
    cmd.cancelTimer();
    cmd.resolve(line);
  }
}
