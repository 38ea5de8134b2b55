// Moonraker's HTTP API as a MoonrakerCaller: a JSON-RPC method "a.b.c" is
// the endpoint /a/b/c — GET without parameters, POST with them as a JSON
// body (Moonraker takes both); the answer's "result" is the result.

import { realClock, type Clock } from "../util/clock.js";
import { MoonrakerRpcError, MoonrakerUnreachableError } from "./errors.js";
import type { MoonrakerCaller } from "./printer.js";

/** Moonraker's HTTP port on the printer's host. */
export const DEFAULT_MOONRAKER_URL = "http://127.0.0.1:7125";
/** One HTTP request. */
export const MOONRAKER_HTTP_TIMEOUT_MS = 5000;

export class MoonrakerHttp implements MoonrakerCaller {
  constructor(
    readonly url: string = DEFAULT_MOONRAKER_URL,
    private readonly o: { timeoutMs?: number; clock?: Clock } = {},
  ) {}

  async call<T = unknown>(method: string, params?: unknown): Promise<T> {
    const path = `/${method.split(".").join("/")}`;
    const ac = new AbortController();
    const cancel = (this.o.clock ?? realClock).schedule(
      this.o.timeoutMs ?? MOONRAKER_HTTP_TIMEOUT_MS,
      () => ac.abort(),
    );
    let r: Response;
    try {
      r = await fetch(`${this.url}${path}`, {
        method: params === undefined ? "GET" : "POST",
        signal: ac.signal,
        ...(params === undefined
          ? {}
          : { body: JSON.stringify(params), headers: { "Content-Type": "application/json" } }),
      });
    } catch (e) {
      throw new MoonrakerUnreachableError(
        this.url,
        ac.signal.aborted
          ? "no answer"
          : ((e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message),
      );
    } finally {
      cancel();
    }
    const body = (await r.json().catch(() => ({}))) as {
      result?: T;
      error?: { code?: number; message?: string };
    };
    if (!r.ok || body.error)
      throw new MoonrakerRpcError(
        method,
        body.error?.code ?? r.status,
        body.error?.message ?? `HTTP ${r.status}`,
      );
    return body.result as T;
  }
}
