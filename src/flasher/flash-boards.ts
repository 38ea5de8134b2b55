// Flashing one board or many, as a library call (the CLI and the Moonraker
// agent both use it). Requests are checked first — a driver for every row,
// a link the driver takes — so bad input opens nothing. Then, in order: the
// Klipper guard; per CAN interface one bus, the image's link checks before
// any frame, --skip-current's identify, one gate (one clear and one
// bootloader-request round) for its nodes, the USB-to-CAN bridge last;
// serial boards on their own ttys; USB bootloaders (DFU …) on their backend. Boards flash concurrently per bus
// (`jobs`), buses in parallel. Each board ends with a typed outcome;
// progress goes out as events.

import { driverFor } from "../bootloaders/index.js";
import type { CanBus } from "../can/bus.js";
import { CanBootloaderGate, type RequestReason } from "../entry/index.js";
import type { DriverEnv, Link } from "../flash-api/driver.js";
import type { BootloaderDriver } from "../flash-api/driver.js";
import { DryRunStopError } from "../flash-api/errors.js";
import type { FlashEvent } from "../flash-api/progress.js";
import { KLIPPY_PROBE_IDS } from "../klippy-bridge/assigned.js";
import { sameBuild, type KlipperDictionary } from "../klippy-bridge/dictionary.js";
import type { Uuid } from "../klippy-bridge/uuid.js";
import type { ByteTransport } from "../transport/byte-transport.js";
import { TracedTransport } from "../transport/trace.js";
import { UsbTree, type BridgeNetdev } from "../transport/usb-tree.js";
import { realClock } from "../util/clock.js";
import { CanflashError, throwIfAborted } from "../util/errors.js";
import { runBatch, type BatchJob } from "./batch.js";
import { lockBoards, lockKeyOf } from "./locks.js";
import { bridgesOf } from "./bridges.js";
import { isSimulatedInterface, openBus, type TraceSink } from "./buses.js";
import { FlashError } from "./errors.js";
import { runFlash, type FlashResult } from "./execute.js";
import { checkLink } from "./link-check.js";
import { checkKlipper, type GuardOptions, type KlipperEvent } from "./guard.js";
import {
  checkCanLink,
  checkDevice,
  checkImageForTarget,
  ImageMcuMismatchError,
} from "./preflight.js";
import type { FlashRequest } from "./requests.js";
import { scanCanBus } from "./scan.js";
import { usbBackend } from "../usb/backends.js";
import type { UsbBackend } from "../usb/device.js";

/** What happens on the way, in order per board (its FlashEvents keep their documented order). */
export type BatchEvent =
  | { type: "board"; board: string; event: FlashEvent }
  | { type: "bootloader-request"; board: string; uuid: Uuid; why: RequestReason }
  /** Before the request round: the running Klipper of these boards is identified. */
  | { type: "identifying"; iface: string; boards: string[] }
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
    | { status: "skipped"; error: Error; returnedToApplication?: boolean }
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
  /** Read each board's flash back first and write only when it differs (runFlash's compareFirst). */
  compareFirst?: boolean;
  /** The Klipper guard: may it stop Klipper, which printer.cfg, where to look. */
  klipper: Omit<GuardOptions, "dryRun" | "onEvent">;
  signal?: AbortSignal;
  /** After it fires no further board starts; boards being flashed finish (a cancel between boards). */
  stopStarting?: AbortSignal;
  onEvent?: (e: BatchEvent) => void;
  /** Every CAN frame and serial byte (--trace-file). */
  trace?: TraceSink;
  /** System roots (tests): the USB tree in sysfs, /proc. */
  usbTree?: UsbTree;
  procRoot?: string;
  /** Where block devices and /dev/disk/by-label live (tests: a fake tree). */
  devRoot?: string;
  /** Where the per-board lock files go (default: /run/lock, else the temp folder). */
  lockDir?: string;
  /** USB boards: the backend (default: by name from the environment, see usb/backends.ts). */
  usbBackend?: UsbBackend;
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
      request.link.kind === "serial" ? request.link.lines : undefined,
    );
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
  const resolved = await resolveDrivers(requests);
  const emit = (e: BatchEvent): void => o.onEvent?.(e);
  // One canflash per board: in-process buses (the demo, virtual channels) belong to this process alone.
  const unlock = lockBoards(
    requests
      .filter((r) => r.link.kind !== "can" || !isSimulatedInterface(r.link.iface))
      .map((r) => ({ board: r.id, key: lockKeyOf(r.link) })),
    o.lockDir,
  );
  try {
    return await flashLocked(requests, resolved, o, emit);
  } finally {
    unlock();
  }
}

async function flashLocked(
  requests: readonly FlashRequest[],
  resolved: Planned[],
  o: FlashBoardsOptions,
  emit: (e: BatchEvent) => void,
): Promise<BoardOutcome[]> {
  // A board in a USB bootloader of its own is no Klipper MCU: the guard looks at the others.
  const { restart: restartKlipper, klipperRunning } = await checkKlipper(
    requests.flatMap((r) =>
      r.link.kind === "usb" || r.link.kind === "openocd"
        ? []
        : [
            {
              label: r.id,
              ...(r.link.kind === "can"
                ? { uuid: r.link.uuid, iface: r.link.iface }
                : r.link.device !== undefined
                  ? { device: r.link.device }
                  : {}),
            },
          ],
    ),
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
  /** The link and driver of each job, to release a board that was asked in but never started. */
  const jobLinks = new Map<FlashRequest, { link: Link; p: Planned; env: DriverEnv }>();
  const current = new Map<FlashRequest, string>();
  /** Dry run: boards identified as running Klipper, stopped before any request. */
  const dryStops = new Map<FlashRequest, DryRunStopError>();
  /** Boards refused before anything was sent to them, with why. */
  const refused = new Map<FlashRequest, Error>();
  const refuse = (list: readonly Planned[], check: (p: Planned) => void): Planned[] =>
    list.filter((p) => {
      try {
        check(p);
        return true;
      } catch (e) {
        if (!(e instanceof CanflashError)) throw e;
        e.nothingSent = true;
        refused.set(p.request, e);
        return false;
      }
    });
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
    ...(o.devRoot ? { devRoot: o.devRoot } : {}),
    ...(o.usbBackend ? { usbBackend: o.usbBackend } : {}),
  });
  const job = (p: Planned, group: string, link: Link, bus?: CanBus, last = false): BatchJob => {
    const env = envFor(bus?.clock);
    jobRequests.push(p.request);
    jobLinks.set(p.request, { link, p, env });
    return {
      id: p.request.id,
      group,
      last,
      run: (onEvent, signal) =>
        runFlash(p.driver.adapter(p.request.target, link, env), p.request.firmware.image, {
          clock: env.clock,
          checks: [
            (plan, device) =>
              checkDevice(p.request.firmware.dictionary, plan, device, {
                uf2FamilyId: p.request.firmware.parsed?.uf2FamilyId,
              }),
          ],
          onEvent,
          ...(signal ? { signal } : {}),
          ...(o.dryRun ? { dryRun: true } : {}),
          ...(o.compareFirst ? { compareFirst: true } : {}),
        }),
    };
  };
  // Per board, before anything is opened: is the image one for this row at all?
  const planned = refuse(resolved, (p) =>
    checkImageForTarget(p.request.firmware, p.request.target),
  );
  try {
    const byIface = new Map<string, Planned[]>();
    for (const p of planned)
      if (p.request.link.kind === "can")
        byIface.set(p.request.link.iface, [...(byIface.get(p.request.link.iface) ?? []), p]);
    for (const [iface, all] of byIface) {
      const bus = await openBus(iface, o.trace);
      buses.push(bus);
      const uuidOf = (p: Planned): Uuid => (p.request.link as { uuid: Uuid }).uuid;
      // Reading sysfs sends nothing: which node is the interface's own USB-to-CAN bridge?
      const bridges = bus.info.simulated
        ? new Map<Uuid, BridgeNetdev>()
        : await bridgesOf(iface, tree);
      // Before any frame goes out: an image for another bus speed or transport would strand the board.
      let list = refuse(all, (p) =>
        checkCanLink(p.request.firmware.dictionary, {
          iface,
          interfaceBitrate: bus.info.bitrate,
          isBridge: bridges.has(uuidOf(p)),
          ...(o.force ? { force: true } : {}),
        }),
      );
      // Before any bootloader request: what the running Klipper says about itself.
      // Klippy's own node ids are probed only where no Klippy talks: a simulated bus, or Klipper stopped.
      const probeKlippy = bus.info.simulated || klipperRunning === false;
      const known = await identifyBoards(bus, list, iface, o, emit, probeKlippy);
      list = refuse(list, (p) => {
        const running = known.get(p.request);
        const image = p.request.firmware.dictionary;
        if (running?.mcu && image?.mcu && running.mcu !== image.mcu)
          throw new ImageMcuMismatchError(image.mcu, running.mcu);
      });
      if (o.skipCurrent) {
        for (const p of list) {
          const running = known.get(p.request);
          const image = p.request.firmware.dictionary;
          if (!running || !image || !sameBuild(running, image)) continue;
          current.set(p.request, running.version);
          emit({ type: "current", board: p.request.id, uuid: uuidOf(p), version: running.version });
        }
        list = list.filter((p) => !current.has(p.request));
      }
      if (o.dryRun)
        // A real run would ask these into their bootloader; the dry run knows what they run and stops here.
        list = list.filter((p) => {
          const running = known.get(p.request);
          if (!running) return true;
          dryStops.set(
            p.request,
            new DryRunStopError(uuidOf(p), "request its bootloader", "answered-as-klipper"),
          );
          return false;
        });
      if (list.length === 0) continue;
      const gate = new CanBootloaderGate(
        bus,
        list.filter((p) => !bridges.has(uuidOf(p))).map(uuidOf),
        {
          ...(o.signal ? { signal: o.signal } : {}),
          ...(o.dryRun ? { dryRun: true } : {}),
          // Identified just now: they run Klipper and hold the identify's node id (silent to queries).
          knownKlipper: list.filter((p) => known.has(p.request)).map(uuidOf),
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
      if (l.kind === "drive") {
        const link: Link = {
          kind: "drive",
          ...(l.device !== undefined ? { device: l.device } : {}),
        };
        jobs.push(job(p, `drive:${l.device ?? p.request.target.id}`, link));
        continue;
      }
      if (l.kind !== "serial") continue;
      jobs.push(
        job(p, `tty:${l.device}`, {
          kind: "serial",
          device: l.device,
          ...(l.baud !== undefined ? { baud: l.baud } : {}),
          ...(l.mode ? { mode: l.mode } : {}),
          ...(l.lines ? { lines: l.lines } : {}),
        }),
      );
    }

    for (const p of planned) {
      const l = p.request.link;
      if (l.kind === "openocd") jobs.push(job(p, lockKeyOf(l), l));
    }

    for (const p of planned) {
      const l = p.request.link;
      if (l.kind !== "usb") continue;
      jobs.push(
        job(p, `usb:${l.spec}`, {
          kind: "usb",
          selector: l.selector,
          backend: o.usbBackend ?? usbBackend(l.backend),
          label: l.spec,
        }),
      );
    }

    const ran = await runBatch(jobs, {
      ...(o.jobs !== undefined ? { jobs: o.jobs } : {}),
      keepGoing: !!o.keepGoing,
      ...(o.signal ? { signal: o.signal } : {}),
      ...(o.stopStarting ? { stopStarting: o.stopStarting } : {}),
      onEvent: (board, event) => emit({ type: "board", board, event }),
    });
    const byRequest = new Map(ran.map((r, i) => [jobRequests[i]!, r]));
    // Boards the request round asked into their bootloader but that never started: back to their application.
    const released = new Set<FlashRequest>();
    for (const [request, r] of byRequest) {
      if (r.status !== "skipped") continue;
      const j = jobLinks.get(request)!;
      const back = await j.p.driver
        .release?.(request.target, j.link, { ...j.env, signal: undefined })
        .catch(() => false);
      if (back) released.add(request);
    }
    return requests.map((request): BoardOutcome => {
      const no = refused.get(request);
      if (no) return { id: request.id, request, ms: 0, status: "failed", error: no };
      const dry = dryStops.get(request);
      if (dry) return { id: request.id, request, ms: 0, status: "dry-run", stop: dry };
      const version = current.get(request);
      if (version !== undefined)
        return { id: request.id, request, ms: 0, status: "current", version };
      const r = byRequest.get(request)!;
      const base = { id: request.id, request, ms: r.ms };
      if (r.status === "ok")
        return r.result!.dryRun
          ? { ...base, status: "dry-run", result: r.result! }
          : { ...base, status: "ok", result: r.result! };
      if (r.status === "skipped")
        return {
          ...base,
          status: "skipped",
          error: r.error!,
          ...(released.has(request) ? { returnedToApplication: true } : {}),
        };
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
 * Before the request round: the data dictionary each board's running
 * Klipper reports (identified on canflash's own node ids, so a later Klippy
 * start cannot collide). Asked only when an image carries a dictionary to
 * compare with. A board that does not answer, runs Katapult, or cannot be
 * identified is missing from the map and checked after CONNECT as usual.
 */
async function identifyBoards(
  bus: CanBus,
  list: readonly Planned[],
  iface: string,
  o: FlashBoardsOptions,
  emit: (e: BatchEvent) => void,
  probeKlippy: boolean,
): Promise<Map<FlashRequest, KlipperDictionary>> {
  const out = new Map<FlashRequest, KlipperDictionary>();
  // A dry run identifies every board, so it says what a real run would find.
  const wanted = list.filter((p) => p.request.firmware.dictionary || o.dryRun);
  if (wanted.length === 0) return out;
  emit({ type: "identifying", iface, boards: wanted.map((p) => p.request.id) });
  const scan = await scanCanBus(bus, {
    identify: true,
    wanted: wanted.map((p) => (p.request.link as { uuid: Uuid }).uuid),
    ...(probeKlippy ? { probeIds: KLIPPY_PROBE_IDS } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  });
  for (const { request } of wanted) {
    const uuid = (request.link as { uuid: Uuid }).uuid;
    const node = scan.nodes.find((n) => n.uuid === uuid);
    if (node?.dictionary) out.set(request, node.dictionary);
  }
  return out;
}
