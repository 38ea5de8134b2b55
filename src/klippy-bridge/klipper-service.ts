// Stopping and starting Klipper around a flash: through Moonraker's machine
// API when it answers (it knows the service name and needs no sudo), else
// systemctl. Stop waits until no sign of a running Klippy remains; start
// waits until Klippy reports a state. Moonraker also tells whether a print
// is running — a flash then must not stop Klipper.

import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { CanflashError } from "../util/errors.js";
import { delay, realClock, type Clock } from "../util/clock.js";
import { moduleLogger } from "../util/log.js";
import { detectKlipper, type DetectOptions, type KlipperStatus } from "./klippy.js";

declare module "../util/errors.js" {
  interface ErrorCodes {
    KLIPPER_CONTROL: true;
  }
}

const log = moduleLogger("klippy.service");

/** Klippy shuts down its MCUs and exits within seconds; allow for a slow Pi. */
export const KLIPPER_STOP_TIMEOUT_MS = 20_000;
/** From start to a state Moonraker reports (ready, error, shutdown). */
export const KLIPPER_START_TIMEOUT_MS = 30_000;
/** How often the state is polled while waiting. */
export const KLIPPER_POLL_MS = 250;
/** One Moonraker HTTP request. */
export const MOONRAKER_REQUEST_MS = 3000;

/** One way of controlling the service that failed, and how. */
export interface ControlProblem {
  via: "moonraker" | "systemctl";
  message: string;
}

/** What went wrong controlling the service. */
export interface ControlFailure {
  action: "stop" | "start";
  /** The systemd unit / Moonraker service. */
  service: string;
  /** "refused": no way worked; "still-running": asked to stop, it did not within the deadline. */
  reason: "refused" | "still-running";
  problems: readonly ControlProblem[];
  /** For still-running: how it was asked, and how long canflash waited. */
  via?: "moonraker" | "systemctl";
  timeoutMs?: number;
}

/** Klipper could not be stopped or started (Moonraker and systemctl both failed, or it did not stop). */
export class KlipperControlError extends CanflashError implements ControlFailure {
  readonly action: ControlFailure["action"];
  readonly service: string;
  readonly reason: ControlFailure["reason"];
  readonly problems: readonly ControlProblem[];
  readonly via: ControlFailure["via"];
  readonly timeoutMs: number | undefined;

  constructor(f: ControlFailure) {
    super(
      "KLIPPER_CONTROL",
      f.reason === "still-running"
        ? `Klipper was asked to stop (via ${f.via}) but still runs after ${f.timeoutMs} ms`
        : `cannot ${f.action} Klipper (${f.problems.map((p) => `${p.via === "moonraker" ? "Moonraker" : "systemctl"}: ${p.message}`).join("; ") || "neither Moonraker nor systemd is available"})`,
    );
    this.action = f.action;
    this.service = f.service;
    this.reason = f.reason;
    this.problems = f.problems;
    this.via = f.via;
    this.timeoutMs = f.timeoutMs;
  }
}

export interface ServiceOptions {
  /** Moonraker's base URL; null: do not use Moonraker. */
  moonrakerUrl?: string | null;
  /** Runs `systemctl <args>`; null: no systemd. */
  systemctl?: ((args: string[]) => Promise<void>) | null;
  /** The systemd unit / Moonraker service name (KIAUH multi-instance: klipper-1, …). */
  service?: string;
  /** How Klipper's state is read while waiting. */
  detect?: DetectOptions;
  clock?: Clock;
  stopTimeoutMs?: number;
  startTimeoutMs?: number;
}

const DEFAULT_MOONRAKER = "http://127.0.0.1:7125";

async function moonrakerRequest(
  url: string,
  path: string,
  method: "GET" | "POST",
): Promise<unknown> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), MOONRAKER_REQUEST_MS);
  try {
    const r = await fetch(`${url}${path}`, { method, signal: ac.signal });
    const body = (await r.json().catch(() => ({}))) as {
      result?: unknown;
      error?: { message?: string };
    };
    if (!r.ok) throw new Error(body.error?.message ?? `HTTP ${r.status}`);
    return body.result;
  } finally {
    clearTimeout(timer);
  }
}

const defaultSystemctl = async (args: string[]): Promise<void> => {
  try {
    await promisify(execFile)("systemctl", args, { timeout: 10_000 });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error((err.stderr || err.message).trim());
  }
};

/** Moonraker's print_stats.state ("printing", "paused", "standby", …), or undefined when unknown. */
export async function printState(o: ServiceOptions = {}): Promise<string | undefined> {
  if (o.moonrakerUrl === null) return undefined;
  try {
    const r = (await moonrakerRequest(
      o.moonrakerUrl ?? DEFAULT_MOONRAKER,
      "/printer/objects/query?print_stats",
      "GET",
    )) as { status?: { print_stats?: { state?: string } } };
    return r.status?.print_stats?.state;
  } catch {
    return undefined;
  }
}

async function control(
  action: "stop" | "start",
  o: ServiceOptions,
): Promise<"moonraker" | "systemctl"> {
  const service = o.service ?? "klipper";
  const problems: ControlProblem[] = [];
  if (o.moonrakerUrl !== null) {
    try {
      await moonrakerRequest(
        o.moonrakerUrl ?? DEFAULT_MOONRAKER,
        `/machine/services/${action}?service=${encodeURIComponent(service)}`,
        "POST",
      );
      return "moonraker";
    } catch (e) {
      problems.push({ via: "moonraker", message: (e as Error).message });
    }
  }
  if (o.systemctl !== null) {
    try {
      await (o.systemctl ?? defaultSystemctl)([action, service]);
      return "systemctl";
    } catch (e) {
      problems.push({ via: "systemctl", message: (e as Error).message });
    }
  }
  throw new KlipperControlError({ action, service, reason: "refused", problems });
}

async function waitFor(
  o: ServiceOptions,
  timeoutMs: number,
  done: (s: KlipperStatus) => boolean,
): Promise<KlipperStatus | undefined> {
  const clock = o.clock ?? realClock;
  const deadline = clock.now() + timeoutMs;
  for (;;) {
    const s = await detectKlipper(o.detect ?? {});
    if (done(s)) return s;
    if (clock.now() >= deadline) return undefined;
    await delay(clock, KLIPPER_POLL_MS, undefined, "waiting for Klipper");
  }
}

/** Stops Klipper and waits until it is gone. */
export async function stopKlipper(
  o: ServiceOptions = {},
): Promise<{ via: "moonraker" | "systemctl" }> {
  const via = await control("stop", o);
  log.info({ via }, "klipper stop requested");
  const timeoutMs = o.stopTimeoutMs ?? KLIPPER_STOP_TIMEOUT_MS;
  if (!(await waitFor(o, timeoutMs, (s) => !s.running)))
    throw new KlipperControlError({
      action: "stop",
      service: o.service ?? "klipper",
      reason: "still-running",
      problems: [],
      via,
      timeoutMs,
    });
  return { via };
}

/** Starts Klipper and waits for the state Klippy reports (undefined: none within the timeout). */
export async function startKlipper(
  o: ServiceOptions = {},
): Promise<{ via: "moonraker" | "systemctl"; state: string | undefined }> {
  const via = await control("start", o);
  log.info({ via }, "klipper start requested");
  const s = await waitFor(o, o.startTimeoutMs ?? KLIPPER_START_TIMEOUT_MS, (st) =>
    o.moonrakerUrl === null || !st.moonraker?.reachable
      ? st.running
      : ["ready", "error", "shutdown"].includes(st.moonraker.klippyState ?? ""),
  );
  return { via, state: s?.moonraker?.klippyState ?? (s?.running ? "running" : undefined) };
}
