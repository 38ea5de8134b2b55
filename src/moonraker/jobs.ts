// The agent's work on boards, through the library orchestration: which
// boards a request means (printer.cfg names, or every flashable [mcu]),
// the dry run behind `plan`, and a flash job — Klipper stopped once through
// Moonraker, the boards flashed and verified (the bridge last, as
// flashBoards orders them), Klipper started again and waited for "ready"
// after success, failure or cancel. Everything that happens goes out as
// agent events; the job's state can be read at any time.

import { flashBoards, type BatchEvent, type BoardOutcome } from "../flasher/flash-boards.js";
import {
  choosePrinterConfig,
  findConfiguredMcu,
  McuNotConfiguredError,
  NoPrinterConfigError,
  resolveMcuNames,
} from "../flasher/printer-config.js";
import { prepareRequests, type BoardSpec, type FlashRequest } from "../flasher/requests.js";
import type { FlashPhase } from "../flash-api/progress.js";
import { KlipperPrintingError } from "../flasher/guard.js";
import type { ConfiguredMcu } from "../klippy-bridge/mcu-inventory.js";
import { CanflashError } from "../util/errors.js";
import type { AgentConfig } from "./config.js";
import {
  isPrinting,
  klippyState,
  printerActivity,
  startKlipperService,
  stopKlipperService,
  type MoonrakerCaller,
  type ServiceWait,
} from "./printer.js";

/** A board's end, as events and results carry it. */
export interface BoardResult {
  board: string;
  uuid?: string;
  interface?: string;
  device?: string;
  status: BoardOutcome["status"];
  bytes?: number;
  verified?: boolean;
  /** A dry run: what would be written. */
  plan?: { blocks: number; start: number; end: number; device: string };
  note?: string;
  error?: { code: string; message: string; phase?: string; deviceState?: string };
  ms: number;
}

export type JobState = "running" | "done" | "failed" | "cancelled";

export interface JobStatus {
  job: string;
  state: JobState;
  boards: string[];
  /** What runs now: "klipper-stop", "flash", "klipper-start", "finished". */
  step: string;
  results: BoardResult[];
  klipper: { stopped: boolean; restarted?: boolean; firmwareRestart?: boolean; error?: string };
  cancelRequested: boolean;
}

/** Sends an agent event (connection.send_event). */
export type SendEvent = (event: string, data: Record<string, unknown>) => void;

export interface BoardContext {
  config: AgentConfig;
  /** printer.cfg: the agent config's, else the one Klippy reports. */
  printerConfig: string | undefined;
  cwd: string;
  home?: string | undefined;
}

const flashable = (m: ConfiguredMcu): boolean =>
  !m.problem && (!!m.canbusUuid || (!!m.serial && !m.serial.startsWith("/tmp/")));

/** The boards a request names (printer.cfg names), or every flashable [mcu] when none. */
export async function boardSpecs(
  names: readonly string[] | undefined,
  c: BoardContext,
): Promise<BoardSpec[]> {
  const choice = await choosePrinterConfig({
    path: c.printerConfig,
    iface: "",
    cwd: c.cwd,
    home: c.home,
  });
  if (!choice.config) throw new NoPrinterConfigError(c.printerConfig ? [c.printerConfig] : []);
  const mcus = choice.config.mcus;
  const chosen = names?.length
    ? names.map((n) => {
        const m = findConfiguredMcu(mcus, n);
        if (!m)
          throw new McuNotConfiguredError(
            n,
            choice.config!.path,
            mcus.map((x) => x.name),
          );
        return m;
      })
    : mcus.filter(flashable);
  const specs = chosen.map((m): BoardSpec => ({
    label: m.name,
    mcu: m.name,
    iface: c.config.interface ?? m.canbusInterface ?? "can0",
    ...(c.config.interface ? { explicitIface: true } : {}),
    file: c.config.boards[m.name] ?? c.config.firmware,
  }));
  return resolveMcuNames(specs, { path: choice.config.path, cwd: c.cwd, home: c.home });
}

/** Specs → requests: firmware read and parsed, targets chosen. Opens nothing. */
export async function boardRequests(
  names: readonly string[] | undefined,
  c: BoardContext,
): Promise<FlashRequest[]> {
  return prepareRequests(await boardSpecs(names, c), { cwd: c.cwd, home: c.home });
}

function errorOf(e: Error): NonNullable<BoardResult["error"]> {
  const fe = e as { phase?: string; deviceState?: string };
  return {
    code: e instanceof CanflashError ? e.code : "ERROR",
    message: e.message,
    ...(fe.phase ? { phase: fe.phase } : {}),
    ...(fe.deviceState ? { deviceState: fe.deviceState } : {}),
  };
}

export function resultOf(oc: BoardOutcome): BoardResult {
  const r = oc.request;
  const base: BoardResult = {
    board: oc.id,
    ...(r.link.kind === "can"
      ? { uuid: r.link.uuid, interface: r.link.iface }
      : r.link.kind === "usb"
        ? { device: r.link.spec }
        : { device: r.link.device }),
    status: oc.status,
    ms: Math.round(oc.ms),
  };
  switch (oc.status) {
    case "ok":
      return { ...base, bytes: oc.result.plan.imageBytes, verified: oc.result.verified };
    case "dry-run":
      if (oc.result) {
        const p = oc.result.plan;
        return {
          ...base,
          bytes: p.imageBytes,
          plan: {
            blocks: p.blocks.length,
            start: p.start,
            end: p.end,
            device: oc.result.device.description,
          },
        };
      }
      return { ...base, ...(oc.stop ? { note: oc.stop.message } : {}) };
    case "current":
      return { ...base, note: `already runs Klipper ${oc.version}` };
    case "failed":
    case "skipped":
      return {
        ...base,
        error: errorOf(oc.error),
        ...(oc.status === "skipped" && oc.returnedToApplication
          ? { note: "asked into its bootloader, then sent back to its application" }
          : {}),
      };
  }
}

/** The dry run: what a flash of these boards would do. Klipper is not stopped. */
export async function planBoards(
  requests: readonly FlashRequest[],
  c: BoardContext,
  signal?: AbortSignal,
): Promise<BoardResult[]> {
  const outcomes = await flashBoards(requests, {
    dryRun: true,
    jobs: c.config.jobs,
    klipper: { stopKlipper: true, cwd: c.cwd, home: c.home },
    ...(signal ? { signal } : {}),
  });
  return outcomes.map(resultOf);
}

/** Refuses (KlipperPrintingError) while a print runs or is paused. */
export async function refuseWhilePrinting(m: MoonrakerCaller): Promise<void> {
  const k = await klippyState(m);
  if (!k.connected || k.state !== "ready") return;
  const printing = isPrinting(await printerActivity(m));
  if (printing) throw new KlipperPrintingError(printing);
}

/** Progress goes out at most every this many percent per board and phase. */
export const PROGRESS_STEP_PERCENT = 10;

export interface FlashJobOptions {
  id: string;
  requests: readonly FlashRequest[];
  context: BoardContext;
  moonraker: MoonrakerCaller;
  service: ServiceWait;
  send: SendEvent;
  /** Where the flash came from: an extensions request or a G-code macro. */
  source: "request" | "gcode";
  signal?: AbortSignal;
}

/** A flash job; `done` settles when Klipper has been started again (or that failed). */
export class FlashJob {
  readonly status: JobStatus;
  readonly done: Promise<JobStatus>;
  private readonly cancel = new AbortController();

  constructor(private readonly o: FlashJobOptions) {
    this.status = {
      job: o.id,
      state: "running",
      boards: o.requests.map((r) => r.id),
      step: "klipper-stop",
      results: [],
      klipper: { stopped: false },
      cancelRequested: false,
    };
    this.done = this.run();
  }

  /** No further board starts; the one being flashed finishes. */
  requestCancel(): void {
    this.status.cancelRequested = true;
    this.cancel.abort();
  }

  private event(event: string, data: Record<string, unknown> = {}): void {
    this.o.send(event, { job: this.o.id, ...data });
  }

  private async run(): Promise<JobStatus> {
    const { o, status } = this;
    const m = o.moonraker;
    this.event("job_started", { boards: status.boards, source: o.source });
    let klipperWasUp = false;
    try {
      const k = await klippyState(m);
      klipperWasUp = k.connected;
      if (klipperWasUp) {
        // Checked again here: a print may have started since the request was answered.
        await refuseWhilePrinting(m);
        if (this.cancel.signal.aborted) throw new JobCancelledError();
        this.event("klipper", { action: "stopping" });
        await stopKlipperService(m, o.service);
        status.klipper.stopped = true;
        this.event("klipper", { action: "stopped" });
      }
      status.step = "flash";
      const outcomes = await flashBoards(o.requests, {
        jobs: o.context.config.jobs,
        klipper: { stopKlipper: false, cwd: o.context.cwd, home: o.context.home },
        stopStarting: this.cancel.signal,
        ...(o.signal ? { signal: o.signal } : {}),
        onEvent: (e) => this.onBatchEvent(e),
      });
      status.results = outcomes.map(resultOf);
      for (const r of status.results) this.event("board_done", { ...r });
      status.state = status.results.every((r) => r.status === "ok" || r.status === "current")
        ? "done"
        : status.cancelRequested && status.results.every((r) => r.status !== "failed")
          ? "cancelled"
          : "failed";
    } catch (e) {
      status.state = e instanceof JobCancelledError ? "cancelled" : "failed";
      this.event("job_error", { error: errorOf(e as Error) });
    }
    if (klipperWasUp) await this.restartKlipper();
    status.step = "finished";
    this.event("job_finished", {
      state: status.state,
      results: status.results,
      klipper: status.klipper,
    });
    return status;
  }

  private async restartKlipper(): Promise<void> {
    const { o, status } = this;
    status.step = "klipper-start";
    this.event("klipper", { action: "starting" });
    try {
      const r = await startKlipperService(o.moonraker, o.service);
      status.klipper.restarted = true;
      if (r.firmwareRestart) status.klipper.firmwareRestart = true;
      this.event("klipper", { action: "ready", firmwareRestart: r.firmwareRestart });
    } catch (e) {
      status.klipper.restarted = false;
      status.klipper.error = (e as Error).message;
      this.event("klipper", { action: "start-failed", error: errorOf(e as Error) });
    }
  }

  private readonly lastPercent = new Map<string, number>();

  private onBatchEvent(e: BatchEvent): void {
    if (e.type !== "board") return;
    const ev = e.event;
    const phase = (p: FlashPhase, what: string, extra: Record<string, unknown> = {}) =>
      this.event("board", { board: e.board, phase: p, state: what, ...extra });
    switch (ev.type) {
      case "phase-start":
        return phase(ev.phase, "started");
      case "phase-end":
        return phase(ev.phase, "done", { ms: Math.round(ev.ms) });
      case "phase-failed":
        return phase(ev.phase, "failed", { error: errorOf(ev.error) });
      case "progress": {
        const pct = ev.totalBytes > 0 ? Math.floor((ev.bytes / ev.totalBytes) * 100) : 0;
        const key = `${e.board}/${ev.phase}`;
        const last = this.lastPercent.get(key) ?? -PROGRESS_STEP_PERCENT;
        if (pct - last < PROGRESS_STEP_PERCENT && pct < 100) return;
        this.lastPercent.set(key, pct);
        this.event("progress", {
          board: e.board,
          phase: ev.phase,
          percent: pct,
          bytes: ev.bytes,
          totalBytes: ev.totalBytes,
        });
        return;
      }
      case "info":
        return;
    }
  }
}

declare module "../util/errors.js" {
  interface ErrorCodes {
    JOB_CANCELLED: true;
  }
}

/** Cancelled before any board started. */
export class JobCancelledError extends CanflashError {
  constructor() {
    super("JOB_CANCELLED", "cancelled before any board started");
  }
}
