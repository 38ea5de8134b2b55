// Flashing one board or many, as a library call (the CLI and the Moonraker
// agent both use it). Requests are checked first — a driver for every row,
// a link the driver takes — so bad input opens nothing. Then, in order: the
// Klipper guard; per CAN interface one bus, the image's link checks before
// any frame, --skip-current's identify, one gate (one clear and one
// bootloader-request round) for its nodes, the USB-to-CAN bridge last;
// serial boards on their own ttys. Boards flash concurrently per bus
// (`jobs`), buses in parallel. Each board ends with a typed outcome;
// progress goes out as events.

import { driverFor } from "../bootloaders/index.js";
import type { CanBus } from "../can/bus.js";
import { CanBootloaderGate, type RequestReason } from "../entry/index.js";
import type { DriverEnv, Link } from "../flash-api/driver.js";
import type { BootloaderDriver } from "../flash-api/driver.js";
import { DryRunStopError } from "../flash-api/errors.js";
import type { FlashEvent } from "../flash-api/progress.js";
import { sameBuild } from "../klippy-bridge/dictionary.js";
import type { Uuid } from "../klippy-bridge/uuid.js";
import type { ByteTransport } from "../transport/byte-transport.js";
import { TracedTransport } from "../transport/trace.js";
import { UsbTree, type BridgeNetdev } from "../transport/usb-tree.js";
import { realClock } from "../util/clock.js";
import { throwIfAborted } from "../util/errors.js";
import { runBatch, type BatchJob } from "./batch.js";
import { bridgesOf } from "./bridges.js";
import { openBus, type TraceSink } from "./buses.js";
import { FlashError } from "./errors.js";
import { runFlash, type FlashResult } from "./execute.js";
import { checkLink } from "./link-check.js";
import { guardKlipper, type GuardOptions, type KlipperEvent } from "./guard.js";
import { checkCanLink, checkDevice, checkImageForTarget } from "./preflight.js";
import type { FlashRequest } from "./requests.js";
import { scanCanBus } from "./scan.js";

/** What happens on the way, in order per board (its FlashEvents keep their documented order). */
export type BatchEvent =
  | { type: "board"; board: string; event: FlashEvent }
  | { type: "bootloader-request"; board: string; uuid: Uuid; why: RequestReason }
  | { type: "checking-current"; iface: string; boards: string[] }
  /** --skip-current found the board on the image's build: it is left alone. */
  | { type: "current"; board: string; uuid: Uuid; version: string }
  | KlipperEvent;

interface OutcomeBase {
  /** The request's id (its label). */
  id: string;
  request: FlashRequest;
  /** Wall time of its flash, ms (0 when it did not run). */
  ms: number;
}

/** How one board ended. */
export type BoardOutcome = OutcomeBase &
  (
    | { status: "ok"; result: FlashResult }
    /** A dry run: the plan (when the bootloader answered), or where a real run would have changed the board. */
    | { status: "dry-run"; result?: FlashResult; stop?: DryRunStopError }
    /** --skip-current: it already runs the image's build. */
    | { status: "current"; version: string }
    | { status: "failed"; error: Error }
    /** Not started (an earlier board failed, or the run was interrupted). */
    | { status: "skipped"; error: Error }
  );

export interface FlashBoardsOptions {
  /** Concurrent flashes per bus (default: all). */
  jobs?: number;
  /** After a failure, still start the remaining boards. */
  keepGoing?: boolean;
  /** Connect and plan, change nothing. */
  dryRun?: boolean;
  /** Skip the overridable link checks (CAN bitrate, build transport); never MCU or offset. */
  force?: boolean;
  /** Leave CAN boards alone that already run the image's build (same data dictionary). */
  skipCurrent?: boolean;
  /** The Klipper guard: may it stop Klipper, which printer.cfg, where to look. */
  klipper: Omit<GuardOptions, "dryRun" | "onEvent">;
  signal?: AbortSignal;
  onEvent?: (e: BatchEvent) => void;
  /** Every CAN frame and serial byte (--trace-file). */
  trace?: TraceSink;
  /** System roots (tests): the USB tree in sysfs, /proc. */
  usbTree?: UsbTree;
  procRoot?: string;
}

interface Planned {
  request: FlashRequest;
  driver: BootloaderDriver;
}

/** Throws before anything is opened when a request's row has no driver, or the driver not its link. */
async function resolveDrivers(requests: readonly FlashRequest[]): Promise<Planned[]> {
  const out: Planned[] = [];
  for (const request of requests) {
    const driver = await driverFor(request.target);
    checkLink(
      request.target,
      driver,
      request.link.kind,
      request.link.kind === "serial" ? request.link.mode : undefined,
    );
    checkImageForTarget(request.firmware, request.target);
    out.push({ request, driver });
  }
  return out;
}

/**
 * Flashes the requests; resolves one outcome per request, in request order.
 * Throws (before any board is touched) for a row without a driver, a link
 * its driver does not take, a Klipper that holds the boards, an interface
 * that cannot be opened, or an image the link checks refuse.
 */
export async function flashBoards(
  requests: readonly FlashRequest[],
  o: FlashBoardsOptions,
): Promise<BoardOutcome[]> {
  throwIfAborted(o.signal, "flash");
  const planned = await resolveDrivers(requests);
  const emit = (e: BatchEvent): void => o.onEvent?.(e);
  const restartKlipper = await guardKlipper(
    requests.map((r) => ({
      label: r.id,
      ...(r.link.kind === "can"
        ? { uuid: r.link.uuid, iface: r.link.iface }
        : { device: r.link.device }),
    })),
    { ...o.klipper, dryRun: !!o.dryRun, onEvent: emit },
  );
  const buses: CanBus[] = [];
  const jobs: BatchJob[] = [];
  try {
    throwIfAborted(o.signal, "flash");
  } catch (e) {
    await restartKlipper?.();
    throw e;
  }
  /** The request of each job, in job order (runBatch answers in that order). */
  const jobRequests: FlashRequest[] = [];
  const current = new Map<FlashRequest, string>();
  const tree = o.usbTree ?? new UsbTree();
  const wrapTransport = o.trace
    ? (t: ByteTransport): ByteTransport => new TracedTransport(t, o.trace!)
    : undefined;
  const envFor = (clock = realClock): DriverEnv => ({
    clock,
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.dryRun ? { dryRun: true } : {}),
    ...(wrapTransport ? { wrapTransport } : {}),
    usbTree: tree,
    ...(o.procRoot ? { procRoot: o.procRoot } : {}),
  });
  const job = (p: Planned, group: string, link: Link, bus?: CanBus, last = false): BatchJob => {
    const env = envFor(bus?.clock);
    jobRequests.push(p.request);
    return {
      id: p.request.id,
      group,
      last,
      run: (onEvent, signal) =>
        runFlash(p.driver.adapter(p.request.target, link, env), p.request.firmware.image, {
          clock: env.clock,
          checks: [(plan, device) => checkDevice(p.request.firmware.dictionary, plan, device)],
          onEvent,
          ...(signal ? { signal } : {}),
          ...(o.dryRun ? { dryRun: true } : {}),
        }),
    };
  };
  try {
    const byIface = new Map<string, Planned[]>();
    for (const p of planned)
      if (p.request.link.kind === "can")
        byIface.set(p.request.link.iface, [...(byIface.get(p.request.link.iface) ?? []), p]);
    for (const [iface, all] of byIface) {
      const bus = await openBus(iface, o.trace);
      buses.push(bus);
      // Before any frame goes out: an image for another bus speed or transport would strand the board.
      for (const p of all)
        checkCanLink(p.request.firmware.dictionary, {
          iface,
          interfaceBitrate: bus.info.bitrate,
          ...(o.force ? { force: true } : {}),
        });
      let list = all;
      if (o.skipCurrent) {
        for (const [r, version] of await boardsRunningTheirImage(bus, list, iface, o, emit)) {
          current.set(r, version);
          emit({ type: "current", board: r.id, uuid: (r.link as { uuid: Uuid }).uuid, version });
        }
        list = list.filter((p) => !current.has(p.request));
      }
      if (list.length === 0) continue;
      const uuidOf = (p: Planned): Uuid => (p.request.link as { uuid: Uuid }).uuid;
      const bridges = bus.info.simulated
        ? new Map<Uuid, BridgeNetdev>()
        : await bridgesOf(iface, tree);
      const gate = new CanBootloaderGate(
        bus,
        list.filter((p) => !bridges.has(uuidOf(p))).map(uuidOf),
        {
          ...(o.signal ? { signal: o.signal } : {}),
          ...(o.dryRun ? { dryRun: true } : {}),
          onRequest: (uuid, why) =>
            emit({
              type: "bootloader-request",
              board: list.find((p) => uuidOf(p) === uuid)?.request.id ?? uuid,
              uuid,
              why,
            }),
        },
      );
      for (const p of list) {
        const uuid = uuidOf(p);
        const bridge = bridges.get(uuid);
        const link: Link = { kind: "can", iface, bus, uuid, gate, ...(bridge ? { bridge } : {}) };
        jobs.push(job(p, `can:${iface}`, link, bus, !!bridge));
      }
    }
    for (const p of planned) {
      const l = p.request.link;
      if (l.kind !== "serial") continue;
      jobs.push(
        job(p, `tty:${l.device}`, {
          kind: "serial",
          device: l.device,
          ...(l.baud !== undefined ? { baud: l.baud } : {}),
          ...(l.mode ? { mode: l.mode } : {}),
        }),
      );
    }

    const ran = await runBatch(jobs, {
      ...(o.jobs !== undefined ? { jobs: o.jobs } : {}),
      keepGoing: !!o.keepGoing,
      ...(o.signal ? { signal: o.signal } : {}),
      onEvent: (board, event) => emit({ type: "board", board, event }),
    });
    const byRequest = new Map(ran.map((r, i) => [jobRequests[i]!, r]));
    return requests.map((request): BoardOutcome => {
      const version = current.get(request);
      if (version !== undefined)
        return { id: request.id, request, ms: 0, status: "current", version };
      const r = byRequest.get(request)!;
      const base = { id: request.id, request, ms: r.ms };
      if (r.status === "ok")
        return r.result!.dryRun
          ? { ...base, status: "dry-run", result: r.result! }
          : { ...base, status: "ok", result: r.result! };
      if (r.status === "skipped") return { ...base, status: "skipped", error: r.error! };
      const stop = dryRunStop(r.error);
      if (o.dryRun && stop) return { ...base, status: "dry-run", stop };
      return { ...base, status: "failed", error: r.error! };
    });
  } finally {
    for (const bus of buses) await bus.close().catch(() => undefined);
    await restartKlipper?.();
  }
}

const dryRunStop = (e: Error | undefined): DryRunStopError | undefined =>
  e instanceof DryRunStopError
    ? e
    : e instanceof FlashError && e.cause instanceof DryRunStopError
      ? e.cause
      : undefined;

/**
 * --skip-current: the boards on this bus whose running Klipper has the data
 * dictionary of their image (identified on canflash's own node ids, so a
 * later Klippy start cannot collide). A board that does not answer, runs
 * Katapult, or cannot be identified is flashed as usual.
 */
async function boardsRunningTheirImage(
  bus: CanBus,
  list: readonly Planned[],
  iface: string,
  o: FlashBoardsOptions,
  emit: (e: BatchEvent) => void,
): Promise<Map<FlashRequest, string>> {
  const out = new Map<FlashRequest, string>();
  const wanted = list.filter((p) => p.request.firmware.dictionary);
  if (wanted.length === 0) return out;
  emit({ type: "checking-current", iface, boards: wanted.map((p) => p.request.id) });
  const scan = await scanCanBus(bus, { identify: true, ...(o.signal ? { signal: o.signal } : {}) });
  for (const { request } of wanted) {
    const uuid = (request.link as { uuid: Uuid }).uuid;
    const node = scan.nodes.find((n) => n.uuid === uuid);
    if (node?.dictionary && sameBuild(node.dictionary, request.firmware.dictionary!))
      out.set(request, node.dictionary.version);
  }
  return out;
}
