// canflash as a Moonraker agent. It connects to Moonraker's Unix socket,
// identifies as type "agent" (one per name: a second is refused), registers
// its G-code callable remote methods, and answers the methods front ends
// reach through server.extensions.request — each at once and never with a
// null result: `flash` answers with a job id and the job reports through
// connection.send_event (every client sees notify_agent_event). When
// Moonraker goes away the agent reconnects with a doubling backoff and
// registers again; a job keeps running and its Moonraker calls wait for
// the new connection.
//
// Methods (extensions request):  status, plan {mcus?}, flash {mcus?},
//   cancel {job?}, job {job?}
// Remote methods (G-code):       canflash_flash (MCU="EBBCan,T1"),
//   canflash_flash_all, canflash_cancel

import { realClock, delay, type Clock } from "../util/clock.js";
import { CanflashError } from "../util/errors.js";
import { moduleLogger } from "../util/log.js";
import type { AgentConfig } from "./config.js";
import { MoonrakerConnection, type IncomingCall } from "./connection.js";
import {
  AgentBadArgumentsError,
  AgentBusyError,
  AgentFlashDisabledError,
  AgentNameTakenError,
  MoonrakerDisconnectedError,
  MoonrakerRpcError,
} from "./errors.js";
import {
  boardRequests,
  FlashJob,
  planBoards,
  refuseWhilePrinting,
  type BoardContext,
  type JobStatus,
} from "./jobs.js";
import { outdatedBoards } from "./outdated.js";
import {
  hostInfo,
  klippyState,
  mcuReport,
  printerActivity,
  waitingBoards,
  type MoonrakerCaller,
  type ServiceWait,
} from "./printer.js";
import { choosePrinterConfig } from "../flasher/printer-config.js";

const log = moduleLogger("moonraker.agent");

/** The socket Moonraker opens for local clients. */
export const DEFAULT_MOONRAKER_SOCKET = "~/printer_data/comms/moonraker.sock";
export const DEFAULT_AGENT_NAME = "canflash";
/** First wait before reconnecting; doubles per failed attempt up to the maximum. */
export const AGENT_RECONNECT_MIN_MS = 500;
export const AGENT_RECONNECT_MAX_MS = 15_000;
/** How long a job's Moonraker call waits for Moonraker to come back. */
export const AGENT_MOONRAKER_WAIT_MS = 120_000;
/** machine.services.stop/start answer when systemd has done it: a slow Klippy shutdown takes a while. */
export const MOONRAKER_SERVICE_CALL_TIMEOUT_MS = 60_000;

/** G-code callable methods, registered with Klipper through Moonraker. */
export const REMOTE_METHODS = ["canflash_flash", "canflash_flash_all", "canflash_cancel"] as const;

export type AgentEvent =
  | { type: "connecting"; socket: string }
  | { type: "identified"; connectionId: number | undefined; name: string }
  | { type: "disconnected" }
  | { type: "retry"; inMs: number; reason: string }
  | { type: "call"; method: string; fromGcode: boolean }
  | { type: "sent"; event: string; data: Record<string, unknown> };

export interface AgentOptions {
  /** Absolute path of Moonraker's Unix socket. */
  socketPath: string;
  name?: string;
  version: string;
  url?: string;
  config: AgentConfig;
  cwd: string;
  home?: string | undefined;
  clock?: Clock;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** How Klipper's stop and start are waited for (tests shorten them). */
  service?: Partial<Omit<ServiceWait, "service">>;
  /** Stops the agent (a running job finishes its board and restarts Klipper first). */
  signal: AbortSignal;
  onEvent?: (e: AgentEvent) => void;
}

const PROJECT_URL = "https://www.npmjs.com/package/canflash";

export class MoonrakerAgent implements MoonrakerCaller {
  private conn: MoonrakerConnection | undefined;
  private waiters: Array<() => void> = [];
  private job: FlashJob | undefined;
  private readonly jobs = new Map<string, FlashJob>();
  private jobSeq = 0;
  /** printer.cfg as Klippy last reported it (kept for when Klippy is stopped). */
  private printerConfig: string | undefined;
  private readonly clock: Clock;

  constructor(private readonly o: AgentOptions) {
    this.clock = o.clock ?? realClock;
    this.printerConfig = o.config.printerConfig;
  }

  private get name(): string {
    return this.o.name ?? DEFAULT_AGENT_NAME;
  }

  private emit(e: AgentEvent): void {
    this.o.onEvent?.(e);
  }

  /**
   * Runs until the signal fires. Throws AgentNameTakenError when the very
   * first identify finds the name taken; later connections retry.
   */
  async run(): Promise<void> {
    const min = this.o.reconnectMinMs ?? AGENT_RECONNECT_MIN_MS;
    const max = this.o.reconnectMaxMs ?? AGENT_RECONNECT_MAX_MS;
    let wait = min;
    let first = true;
    const signal = this.o.signal;
    // Stopping the agent (SIGTERM) cancels a job between boards: the board being flashed finishes.
    signal.addEventListener("abort", () => this.job?.requestCancel(), { once: true });
    while (!signal.aborted) {
      let conn: MoonrakerConnection | undefined;
      let closed: Promise<void> | undefined;
      try {
        this.emit({ type: "connecting", socket: this.o.socketPath });
        let onClose = (): void => undefined;
        closed = new Promise<void>((resolve) => (onClose = resolve));
        conn = await MoonrakerConnection.open({
          socketPath: this.o.socketPath,
          clock: this.clock,
          onCall: (call) => this.onCall(call),
          onClose: () => onClose(),
        });
        await this.identify(conn);
        first = false;
        wait = min;
        this.conn = conn;
        for (const w of this.waiters.splice(0)) w();
        // A front end that connected meanwhile learns where a running job is.
        if (this.job) this.send("job_status", { ...this.job.status });
        await Promise.race([closed, abortPromise(signal)]);
        if (!signal.aborted) {
          this.emit({ type: "disconnected" });
          this.emit({ type: "retry", inMs: wait, reason: "Moonraker closed the connection" });
        }
      } catch (e) {
        if (e instanceof AgentNameTakenError && first) {
          conn?.close();
          throw e;
        }
        this.emit({ type: "retry", inMs: wait, reason: (e as Error).message });
      } finally {
        // Stopping: the job finishes its board and starts Klipper over this connection first.
        if (signal.aborted) await this.job?.done;
        if (this.conn === conn) this.conn = undefined;
        if (signal.aborted) conn?.close();
      }
      if (signal.aborted) break;
      try {
        await delay(this.clock, wait, signal, "agent reconnect");
      } catch {
        break;
      }
      wait = Math.min(wait * 2, max);
    }
    await this.job?.done;
    this.conn?.close();
  }

  private async identify(conn: MoonrakerConnection): Promise<void> {
    let r: { connection_id?: number };
    try {
      r = await conn.call("server.connection.identify", {
        client_name: this.name,
        version: this.o.version,
        type: "agent",
        url: this.o.url ?? PROJECT_URL,
      });
    } catch (e) {
      if (e instanceof MoonrakerRpcError && /already registered/i.test(e.rpcMessage))
        throw new AgentNameTakenError(this.name, e.rpcMessage);
      throw e;
    }
    for (const method_name of REMOTE_METHODS)
      await conn.call("connection.register_remote_method", { method_name });
    this.emit({ type: "identified", connectionId: r.connection_id, name: this.name });
  }

  /** A Moonraker call that waits for a live connection (and retries once Moonraker is back). */
  async call<T = unknown>(method: string, params?: unknown): Promise<T> {
    const deadline = this.clock.now() + AGENT_MOONRAKER_WAIT_MS;
    for (;;) {
      const conn = this.conn ?? (await this.waitForConnection(deadline - this.clock.now()));
      try {
        return await conn.call<T>(
          method,
          params,
          method.startsWith("machine.services.") ? MOONRAKER_SERVICE_CALL_TIMEOUT_MS : undefined,
        );
      } catch (e) {
        if (!(e instanceof MoonrakerDisconnectedError) || this.clock.now() >= deadline) throw e;
      }
    }
  }

  private waitForConnection(ms: number): Promise<MoonrakerConnection> {
    return new Promise((resolve, reject) => {
      const cancel = this.clock.schedule(Math.max(0, ms), () => {
        this.waiters = this.waiters.filter((w) => w !== done);
        reject(new MoonrakerDisconnectedError("(waiting for Moonraker)"));
      });
      const done = (): void => {
        cancel();
        resolve(this.conn!);
      };
      this.waiters.push(done);
    });
  }

  private send(event: string, data: Record<string, unknown>): void {
    this.emit({ type: "sent", event, data });
    // No id: Moonraker does not answer, and an event while disconnected is dropped (job_status catches up).
    this.conn?.notify("connection.send_event", { event, data });
  }

  private context(): BoardContext {
    return {
      config: this.o.config,
      printerConfig: this.o.config.printerConfig ?? this.printerConfig,
      cwd: this.o.cwd,
      home: this.o.home,
    };
  }

  /** Where printer.cfg is, from Klippy while it runs. */
  private async learnPrinterConfig(): Promise<void> {
    if (this.o.config.printerConfig) return;
    const k = await klippyState(this);
    if (!k.connected) return;
    const info = await hostInfo(this);
    if (info.configFile) this.printerConfig = info.configFile;
  }

  private async onCall(call: IncomingCall): Promise<unknown> {
    const fromGcode = call.id === undefined;
    this.emit({ type: "call", method: call.method, fromGcode });
    if (fromGcode) {
      // Klipper takes no answer: a refusal goes out as an event.
      try {
        await this.onRemoteMethod(call);
      } catch (e) {
        this.send("request_refused", {
          method: call.method,
          error: {
            code: e instanceof CanflashError ? e.code : "ERROR",
            message: (e as Error).message,
          },
        });
      }
      return undefined;
    }
    const args = argumentsOf(call);
    switch (call.method) {
      case "status":
        return this.statusMethod(args.canbus === true);
      case "plan": {
        await this.learnPrinterConfig();
        const requests = await boardRequests(mcusArg(call.method, args), this.context());
        return { boards: await planBoards(requests, this.context(), this.o.signal) };
      }
      case "flash": {
        const job = await this.startJob(mcusArg(call.method, args), "request");
        return { job: job.status.job, boards: job.status.boards, state: job.status.state };
      }
      case "cancel":
        return this.cancelMethod(jobArg(call.method, args));
      case "job":
        return this.jobMethod(jobArg(call.method, args));
      default:
        throw new MethodNotFoundError(call.method);
    }
  }

  private async onRemoteMethod(call: IncomingCall): Promise<void> {
    const args = argumentsOf(call);
    switch (call.method) {
      case "canflash_flash_all":
        await this.startJob(undefined, "gcode");
        return;
      case "canflash_flash": {
        const raw = args.mcu ?? args.MCU ?? args.mcus;
        const names =
          typeof raw === "string"
            ? raw
                .split(",")
                .map((s) => s.trim())
                .filter(Boolean)
            : mcusArg(call.method, args);
        await this.startJob(names, "gcode");
        return;
      }
      case "canflash_cancel":
        this.cancelMethod(undefined);
        return;
      default:
        log.debug({ method: call.method }, "unknown remote method");
    }
  }

  private async startJob(
    names: string[] | undefined,
    source: "request" | "gcode",
  ): Promise<FlashJob> {
    if (!this.o.config.allowFlash) throw new AgentFlashDisabledError(this.o.config.path);
    if (this.job) throw new AgentBusyError(this.job.status.job);
    await refuseWhilePrinting(this);
    await this.learnPrinterConfig();
    const requests = await boardRequests(names, this.context());
    if (this.job) throw new AgentBusyError((this.job as FlashJob).status.job);
    const id = `flash-${++this.jobSeq}`;
    const job = new FlashJob({
      id,
      requests,
      context: this.context(),
      moonraker: this,
      service: { service: this.o.config.klipperService, clock: this.clock, ...this.o.service },
      send: (event, data) => this.send(event, data),
      source,
    });
    this.job = job;
    this.jobs.set(id, job);
    void job.done.finally(() => {
      if (this.job === job) this.job = undefined;
    });
    return job;
  }

  private cancelMethod(id: string | undefined): { job: string | null; cancelling: boolean } {
    const job = id ? this.jobs.get(id) : this.job;
    if (!job || job.status.step === "finished") return { job: id ?? null, cancelling: false };
    job.requestCancel();
    return { job: job.status.job, cancelling: true };
  }

  private jobMethod(id: string | undefined): JobStatus | { job: null } {
    const job = id ? this.jobs.get(id) : (this.job ?? [...this.jobs.values()].at(-1));
    if (!job) {
      if (id) throw new AgentBadArgumentsError("job", `no job ${id}`);
      return { job: null };
    }
    return job.status;
  }

  private async statusMethod(canbus: boolean): Promise<Record<string, unknown>> {
    const k = await klippyState(this);
    const base = {
      agent: { name: this.name, version: this.o.version, allowFlash: this.o.config.allowFlash },
      klippy: k,
      job: this.job?.status ?? null,
    };
    if (!k.connected || k.state !== "ready") {
      // Often why Klippy is not ready: a board left in its bootloader. printer.cfg names it.
      if (k.connected) await this.learnPrinterConfig().catch(() => undefined);
      const config = await this.configSections();
      return { ...base, boards: [], waiting: await waitingBoards(this, { canbus, config }) };
    }
    const [info, report, activity] = await Promise.all([
      hostInfo(this),
      mcuReport(this),
      printerActivity(this),
    ]);
    if (info.configFile) this.printerConfig = info.configFile;
    const boards = outdatedBoards({
      hostVersion: info.softwareVersion,
      mcus: report.mcus,
      warnings: report.warnings,
      config: report.config,
    }).map((b) =>
      report.canbusStats[b.name] ? { ...b, canbusStats: report.canbusStats[b.name] } : b,
    );
    return {
      ...base,
      hostVersion: info.softwareVersion ?? null,
      printState: activity.printState ?? null,
      boards,
      needsFlash: boards.filter((b) => b.needsFlash).map((b) => b.name),
      waiting: await waitingBoards(this, { canbus, config: report.config }),
    };
  }

  /** printer.cfg's [mcu] sections as raw options, read from the file (Klippy is not there to ask). */
  private async configSections(): Promise<Record<string, Record<string, string>>> {
    const c = await choosePrinterConfig({
      path: this.context().printerConfig,
      iface: "",
      cwd: this.o.cwd,
      home: this.o.home,
    }).catch(() => ({ config: undefined }));
    const out: Record<string, Record<string, string>> = {};
    for (const m of c.config?.mcus ?? [])
      out[m.section] = {
        ...(m.canbusUuid
          ? { canbus_uuid: m.canbusUuid, canbus_interface: m.canbusInterface! }
          : {}),
        ...(m.serial ? { serial: m.serial } : {}),
      };
    return out;
  }
}

declare module "../util/errors.js" {
  interface ErrorCodes {
    AGENT_METHOD_NOT_FOUND: true;
  }
}

/** A front end called a method the agent does not have. */
export class MethodNotFoundError extends CanflashError {
  constructor(readonly method: string) {
    super("AGENT_METHOD_NOT_FOUND", `the canflash agent has no method "${method}"`);
  }
}

function argumentsOf(call: IncomingCall): Record<string, unknown> {
  const p = call.params;
  if (p === undefined || p === null) return {};
  if (Array.isArray(p)) return p.length === 0 ? {} : { mcus: p };
  if (typeof p === "object") return p as Record<string, unknown>;
  throw new AgentBadArgumentsError(call.method, "arguments must be an object");
}

function mcusArg(method: string, args: Record<string, unknown>): string[] | undefined {
  const v = args.mcus ?? args.mcu;
  if (v === undefined) return undefined;
  if (typeof v === "string") return [v];
  if (Array.isArray(v) && v.every((x) => typeof x === "string")) return v;
  throw new AgentBadArgumentsError(method, "mcus must be a list of printer.cfg names");
}

function jobArg(method: string, args: Record<string, unknown>): string | undefined {
  const v = args.job;
  if (v === undefined) return undefined;
  if (typeof v !== "string") throw new AgentBadArgumentsError(method, "job must be a job id");
  return v;
}

function abortPromise(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

/** Runs the agent until the signal fires. */
export function runAgent(o: AgentOptions): Promise<void> {
  return new MoonrakerAgent(o).run();
}
