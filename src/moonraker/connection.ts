// One JSON-RPC 2.0 connection to Moonraker over its Unix socket. Requests
// from us carry an id and resolve with Moonraker's result (or reject with
// MoonrakerRpcError / MoonrakerDisconnectedError); notifications carry
// none. Moonraker's requests to us (server.extensions.request relays, with
// an id) and remote-method calls (from G-code, no id) go to one handler:
// an id gets exactly one answer — the handler's value, never null (Moonraker
// takes a null result as the agent's error), or its error.

import { connect, type Socket } from "node:net";
import { realClock, type Clock } from "../util/clock.js";
import { CanflashError } from "../util/errors.js";
import { moduleLogger } from "../util/log.js";
import { encodeMessage, MessageSplitter } from "./framing.js";
import {
  MoonrakerDisconnectedError,
  MoonrakerRpcError,
  MoonrakerUnreachableError,
} from "./errors.js";

const log = moduleLogger("moonraker.rpc");

/** One request to Moonraker; Moonraker itself has no timeout, we do. */
export const MOONRAKER_CALL_TIMEOUT_MS = 10_000;
/** Opening the socket. */
export const MOONRAKER_CONNECT_TIMEOUT_MS = 3000;

/** An error we answer a request with: JSON-RPC code, message and data. */
export interface RpcErrorBody {
  code: number;
  message: string;
  data?: unknown;
}

/** What the handler of Moonraker's requests is given. */
export interface IncomingCall {
  method: string;
  params: unknown;
  /** Absent for remote-method calls from G-code (no answer is expected). */
  id?: number | string;
}

export interface ConnectionOptions {
  socketPath: string;
  clock?: Clock;
  callTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Moonraker calls a method on us; resolve to the result, throw to answer an error. */
  onCall?: (call: IncomingCall) => Promise<unknown>;
  /** A notification (notify_klippy_ready, notify_agent_event, …). */
  onNotification?: (method: string, params: unknown) => void;
  /** The socket closed (Moonraker stopped, or we closed it). */
  onClose?: () => void;
}

interface Pending {
  method: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  cancelTimer: () => void;
}

/** Maps any error to the JSON-RPC error we answer with. */
export function rpcErrorOf(e: unknown): RpcErrorBody {
  if (e instanceof CanflashError && e.code === "AGENT_METHOD_NOT_FOUND")
    return { code: -32601, message: e.message, data: { code: e.code } };
  if (e instanceof CanflashError)
    return {
      code: -32000,
      message: e.message,
      data: { code: e.code, ...fieldsOf(e) },
    };
  return { code: -32603, message: e instanceof Error ? e.message : String(e) };
}

/** An error's own plain fields (its facts), for the JSON answer. */
function fieldsOf(e: CanflashError): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) {
    if (["code", "cause", "name", "message", "stack"].includes(k) || v === undefined) continue;
    if (["string", "number", "boolean"].includes(typeof v) || Array.isArray(v)) out[k] = v;
  }
  return out;
}

export class MoonrakerConnection {
  private readonly splitter = new MessageSplitter();
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;

  private constructor(
    private readonly socket: Socket,
    private readonly o: ConnectionOptions,
  ) {
    socket.on("data", (chunk: Buffer) => {
      for (const text of this.splitter.push(chunk)) this.receive(text);
    });
    socket.on("close", () => this.closedBySocket());
    socket.on("error", (e) => log.debug({ err: e.message }, "socket error"));
  }

  /** Opens the socket. Throws MoonrakerUnreachableError. */
  static open(o: ConnectionOptions): Promise<MoonrakerConnection> {
    const clock = o.clock ?? realClock;
    return new Promise((resolve, reject) => {
      const socket = connect(o.socketPath);
      const cancel = clock.schedule(o.connectTimeoutMs ?? MOONRAKER_CONNECT_TIMEOUT_MS, () => {
        socket.destroy();
        reject(new MoonrakerUnreachableError(o.socketPath, "no answer"));
      });
      socket.once("error", (e: NodeJS.ErrnoException) => {
        cancel();
        reject(new MoonrakerUnreachableError(o.socketPath, e.code ?? e.message));
      });
      socket.once("connect", () => {
        cancel();
        socket.removeAllListeners("error");
        resolve(new MoonrakerConnection(socket, o));
      });
    });
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** Calls `method` on Moonraker and resolves with its result. */
  call<T = unknown>(method: string, params?: unknown, timeoutMs?: number): Promise<T> {
    if (this.closed) return Promise.reject(new MoonrakerDisconnectedError(method));
    const id = this.nextId++;
    const ms = timeoutMs ?? this.o.callTimeoutMs ?? MOONRAKER_CALL_TIMEOUT_MS;
    return new Promise<T>((resolve, reject) => {
      const cancelTimer = (this.o.clock ?? realClock).schedule(ms, () => {
        this.pending.delete(id);
        reject(new MoonrakerRpcError(method, -32001, `no answer within ${ms} ms`));
      });
      this.pending.set(id, {
        method,
        resolve: resolve as (v: unknown) => void,
        reject,
        cancelTimer,
      });
      this.send({ jsonrpc: "2.0", method, ...(params !== undefined ? { params } : {}), id });
    });
  }

  /** Sends a notification (no id: Moonraker does not answer). */
  notify(method: string, params?: unknown): void {
    if (this.closed) return;
    this.send({ jsonrpc: "2.0", method, ...(params !== undefined ? { params } : {}) });
  }

  close(): void {
    if (this.closed) return;
    this.socket.end();
    this.socket.destroy();
    this.closedBySocket();
  }

  private send(message: object): void {
    log.trace({ message }, "send");
    this.socket.write(encodeMessage(message));
  }

  private receive(text: string): void {
    let msg: {
      id?: number | string | null;
      method?: unknown;
      params?: unknown;
      result?: unknown;
      error?: { code?: number; message?: string };
    };
    try {
      msg = JSON.parse(text) as typeof msg;
    } catch {
      log.debug({ text }, "not JSON: ignored");
      return;
    }
    log.trace({ message: msg }, "receive");
    if (typeof msg.method === "string") {
      const id = msg.id ?? undefined;
      // Moonraker's own notifications are notify_*; anything else without an id is a remote-method call.
      if (id === undefined && msg.method.startsWith("notify_")) {
        this.o.onNotification?.(msg.method, msg.params);
        return;
      }
      void this.answer({
        method: msg.method,
        params: msg.params,
        ...(id !== undefined ? { id } : {}),
      });
      return;
    }
    if (typeof msg.id !== "number") return;
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    p.cancelTimer();
    if (msg.error)
      p.reject(new MoonrakerRpcError(p.method, msg.error.code ?? 0, msg.error.message ?? ""));
    else p.resolve(msg.result);
  }

  private async answer(call: IncomingCall): Promise<void> {
    let reply: object;
    try {
      const result = (await this.o.onCall?.(call)) ?? { ok: true };
      reply = { result };
    } catch (e) {
      reply = { error: rpcErrorOf(e) };
    }
    // A remote-method call from G-code has no id: Klipper takes no answer.
    if (call.id === undefined) return;
    if (!this.closed) this.send({ jsonrpc: "2.0", ...reply, id: call.id });
  }

  private closedBySocket(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) {
      p.cancelTimer();
      p.reject(new MoonrakerDisconnectedError(p.method));
    }
    this.pending.clear();
    this.o.onClose?.();
  }
}
