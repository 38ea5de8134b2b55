// A client of OpenOCD's TCL RPC server over TCP: one command at a time,
// each wrapped so its success or failure comes back with its output
// (rpc-codec.ts). A failed command is an OpenOcdCommandError, or the typed
// error its text names (classify.ts); a reply that does not come within
// the command's deadline is an OperationTimeoutError.

import { createConnection, type Socket } from "node:net";
import type { Clock } from "../../util/clock.js";
import { AbortedError, OperationTimeoutError } from "../../util/errors.js";
import { onAbort } from "../../util/abort.js";
import { moduleLogger } from "../../util/log.js";
import { classifyOpenOcd, type ClassifyContext } from "./classify.js";
import { OpenOcdCommandError, OpenOcdProtocolError, OpenOcdUnreachableError } from "./errors.js";
import { encodeCommand, parseWrappedReply, RpcFrameDecoder, wrapCommand } from "./rpc-codec.js";

const log = moduleLogger("openocd.rpc");

/** How long one TCP connect to the RPC port may take. */
export const RPC_CONNECT_TIMEOUT_MS = 2000;
/** Default deadline of one command's reply (queries; erase and program pass their own). */
export const RPC_COMMAND_TIMEOUT_MS = 10_000;

export interface RunOptions {
  timeoutMs?: number;
  signal?: AbortSignal | undefined;
  /** Facts for turning a failure's text into a typed error. */
  classify?: ClassifyContext;
}

interface Waiter {
  resolve(reply: string): void;
  reject(e: Error): void;
}

export class OpenOcdRpc {
  private readonly decoder = new RpcFrameDecoder();
  private waiter: Waiter | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private closed: Error | undefined;

  private constructor(
    private readonly socket: Socket,
    private readonly clock: Clock,
    readonly host: string,
    readonly port: number,
  ) {
    socket.on("data", (chunk: Buffer) => {
      for (const reply of this.decoder.push(chunk)) {
        const w = this.waiter;
        this.waiter = undefined;
        if (w) w.resolve(reply);
        else log.warn({ reply }, "reply without a command");
      }
    });
    const end = (why: string) => () => {
      this.closed ??= new OpenOcdUnreachableError(host, port, why, false);
      const w = this.waiter;
      this.waiter = undefined;
      w?.reject(this.closed);
    };
    socket.on("close", end("OpenOCD closed the connection"));
    socket.on("error", (e) => end(e.message)());
  }

  /** Connects once; rejects with OpenOcdUnreachableError (refused, unreachable) or on the deadline. */
  static connect(
    host: string,
    port: number,
    clock: Clock,
    timeoutMs = RPC_CONNECT_TIMEOUT_MS,
  ): Promise<OpenOcdRpc> {
    return new Promise((resolve, reject) => {
      const socket = createConnection({ host, port });
      const cancel = clock.schedule(timeoutMs, () => {
        socket.destroy();
        reject(
          new OpenOcdUnreachableError(host, port, `no connection within ${timeoutMs} ms`, false),
        );
      });
      socket.once("connect", () => {
        cancel();
        socket.removeAllListeners("error");
        socket.setNoDelay(true);
        resolve(new OpenOcdRpc(socket, clock, host, port));
      });
      socket.once("error", (e) => {
        cancel();
        reject(new OpenOcdUnreachableError(host, port, e.message, false));
      });
    });
  }

  /** Sends a raw script and resolves with OpenOCD's reply text, unwrapped. */
  raw(script: string, o: RunOptions = {}): Promise<string> {
    const next = this.queue.then(() => this.exchange(script, o));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /**
   * Runs one OpenOCD command; resolves with what it printed (or returned).
   * A failure throws the typed error its text names, else OpenOcdCommandError.
   */
  async run(command: string, o: RunOptions = {}): Promise<string> {
    const reply = await this.raw(wrapCommand(command), o);
    const r = parseWrappedReply(reply);
    if (!r) throw new OpenOcdProtocolError(command, reply);
    log.debug({ command, code: r.code, output: r.output }, "openocd command");
    if (r.code === 0) return r.output;
    const typed = classifyOpenOcd(r.output, o.classify);
    if (typed) throw typed;
    throw new OpenOcdCommandError(command, r.output, r.code);
  }

  private exchange(script: string, o: RunOptions): Promise<string> {
    if (this.closed) return Promise.reject(this.closed);
    const timeoutMs = o.timeoutMs ?? RPC_COMMAND_TIMEOUT_MS;
    return new Promise<string>((resolve, reject) => {
      let off = (): void => undefined;
      const cancel = this.clock.schedule(timeoutMs, () => {
        off();
        this.waiter = undefined;
        // A late reply would be taken for the next command's: this connection is done.
        this.socket.destroy();
        reject(new OperationTimeoutError(`OpenOCD reply to ${firstLine(script)}`, timeoutMs));
      });
      off = onAbort(o.signal, () => {
        cancel();
        this.waiter = undefined;
        this.socket.destroy();
        reject(new AbortedError(`OpenOCD ${firstLine(script)}`, o.signal?.reason));
      });
      this.waiter = {
        resolve: (r) => {
          cancel();
          off();
          resolve(r);
        },
        reject: (e) => {
          cancel();
          off();
          reject(e);
        },
      };
      log.trace({ script }, "openocd send");
      this.socket.write(encodeCommand(script));
    });
  }

  /** Closes the connection (OpenOCD keeps running). */
  async close(): Promise<void> {
    if (this.socket.destroyed) return;
    await new Promise<void>((resolve) => {
      this.socket.once("close", () => resolve());
      this.socket.end();
      this.clock.schedule(RPC_CONNECT_TIMEOUT_MS, () => {
        this.socket.destroy();
        resolve();
      });
    });
  }
}

const firstLine = (s: string): string => {
  const m = /capture \{([\s\S]*)\}\} _cf_out/.exec(s);
  return (m ? m[1]! : s).split("\n")[0]!.slice(0, 80);
};
