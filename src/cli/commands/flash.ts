// canflash flash: one board or many. Every input is checked first (UUIDs,
// files, duplicates) so bad input sends nothing. Boards are grouped by
// interface; each CAN interface gets one gate (one clear, one bootloader
// round), its boards flash concurrently (--jobs), the USB-to-CAN bridge last;
// serial boards run in parallel. A final table for batches; the exit code
// is the worst result.

import { katapultAdapterForCanNode, findBridgeFor } from "../../canboot/bridge.js";
import { KatapultCanGate } from "../../canboot/can-gate.js";
import { katapultSerialAdapter, DEFAULT_KATAPULT_BAUD } from "../../canboot/serial.js";
import type { CanBus } from "../../can/bus.js";
import { isVirtualChannel } from "../../can/open.js";
import { FlashError } from "../../flasher/errors.js";
import { DryRunStopError } from "../../flash-api/errors.js";
import { runBatch, type BatchJob } from "../../flasher/batch.js";
import { runFlash } from "../../flasher/execute.js";
import { checkCanLink, checkDevice } from "../../flasher/preflight.js";
import { scanCanBus } from "../../flasher/scan.js";
import { sameBuild } from "../../klippy-bridge/dictionary.js";
import { avrAdapterFor, isAvrTarget } from "../../flasher/avr.js";
import { targets, type Target } from "../../flasher/targets.js";
import type { ByteTransport } from "../../transport/byte-transport.js";
import { parseUuid, type Uuid } from "../../klippy-bridge/uuid.js";
import { CanflashError } from "../../util/errors.js";
import { DEMO_INTERFACE, openCliBus } from "../bus.js";
import { ExitCode, type ExitCodeValue } from "../exit-codes.js";
import { expandPath, readFirmware, type FirmwareFile } from "../firmware.js";
import { explain } from "../hints.js";
import type { BoardRow } from "../output.js";
import { UsageError } from "../usage-error.js";
import { TracedTransport } from "../../transport/trace.js";
import type { CommandContext } from "./context.js";
import { guardKlipper } from "../klipper-guard.js";

export interface FlashEntry {
  /** Label: printer.cfg section, or the UUID/tty. */
  label: string;
  uuid?: string;
  device?: string;
  baud?: number;
  iface: string;
  /** The interface was given for this board (else a printer.cfg name takes its canbus_interface). */
  explicitIface?: boolean;
  /** Named by printer.cfg section ("EBBCan"): resolved to uuid/device before anything is opened. */
  mcu?: string;
  file: string;
  flashEnd?: number;
  /** The board's row of the target table (--target, manifest `target:`); picks the protocol for -d boards. */
  target?: Target;
}

export interface FlashOptions {
  entries: FlashEntry[];
  jobs?: number;
  keepGoing?: boolean;
  dryRun?: boolean;
  /** Skip the overridable link checks (CAN bitrate, build transport); never MCU or offset. */
  force?: boolean;
  /** Stop a running Klipper that holds boards, and start it again afterwards. */
  stopKlipper?: boolean;
  /** Leave CAN boards alone that already run the image's build (same data dictionary). */
  skipCurrent?: boolean;
  /** printer.cfg (to know which boards Klipper holds). */
  config?: string;
}

interface Prepared extends FlashEntry {
  uuidParsed?: Uuid;
  firmware: FirmwareFile;
}

/** Exit codes by how bad they are, for "the worst result". */
const SEVERITY: ExitCodeValue[] = [
  ExitCode.OK,
  ExitCode.USAGE,
  ExitCode.INTERFACE,
  ExitCode.NO_NODE,
  ExitCode.REFUSED,
  ExitCode.BUSY,
  ExitCode.FAILURE,
  ExitCode.VERIFY_MISMATCH,
  ExitCode.INTERRUPTED,
];

export function worstExitCode(codes: readonly ExitCodeValue[]): ExitCodeValue {
  return codes.reduce<ExitCodeValue>(
    (w, c) => (SEVERITY.indexOf(c) > SEVERITY.indexOf(w) ? c : w),
    ExitCode.OK,
  );
}

async function prepare(o: FlashOptions, cwd: string): Promise<Prepared[]> {
  if (o.entries.length === 0)
    throw new UsageError(
      "no boards to flash",
      "give -u <uuid> (repeatable), -d <tty> or --manifest <file>",
    );
  const seen = new Set<string>();
  const files = new Map<string, Promise<FirmwareFile>>();
  const out: Prepared[] = [];
  for (const e of o.entries) {
    if (e.mcu !== undefined && !e.uuid && !e.device)
      throw new UsageError(`${e.label}: printer.cfg name not resolved`);
    const key = e.uuid ? `${e.iface}/${parseUuid(e.uuid)}` : expandPath(e.device!, cwd);
    if (seen.has(key)) throw new UsageError(`${e.label} is listed twice`, "list each board once");
    seen.add(key);
    if (!files.has(e.file)) files.set(e.file, readFirmware(e.file, cwd));
    const firmware = await files.get(e.file)!;
    out.push({
      ...e,
      ...(e.uuid ? { uuidParsed: parseUuid(e.uuid) } : {}),
      ...(e.device && !e.target ? avrTargetFromImage(firmware, e) : {}),
      firmware,
    });
  }
  return out;
}

export async function flashBoards(o: FlashOptions, ctx: CommandContext): Promise<ExitCodeValue> {
  const boards = await prepare(o, ctx.io.cwd);
  const single = boards.length === 1;
  ctx.out.setMulti?.(!single);
  if (single) {
    const b = boards[0]!;
    if (b.uuid) ctx.iface = b.iface;
    ctx.retry = b.uuid
      ? `canflash -i ${b.iface} -u ${b.uuidParsed} ${b.file}`
      : `canflash${b.target ? ` --target ${b.target.id}` : ""} -d ${b.device}${b.baud ? ` -b ${b.baud}` : ""} ${b.file}`;
    ctx.out.info(
      `Flashing '${b.firmware.path}' to ${b.uuidParsed ?? expandPath(b.device!, ctx.io.cwd)}${b.uuid ? ` on ${b.iface}` : ""}`,
    );
  } else {
    ctx.out.info(`Flashing ${boards.length} boards: ${boards.map((b) => b.label).join(", ")}`);
  }
  for (const f of new Set(boards.map((b) => b.firmware))) {
    const d = f.dictionary;
    ctx.out.info(
      d
        ? `${f.path}: Klipper ${d.version ?? "(unknown version)"} for ${d.mcu ?? "an unknown MCU"}${d.transport !== "unknown" ? `, ${d.transport}` : ""}${d.canbusFrequency ? ` at ${d.canbusFrequency} bit/s` : ""}`
        : `${f.path}: no Klipper data dictionary inside; the MCU and bitrate checks are skipped`,
    );
  }
  const checksFor = (b: Prepared) => [
    (plan: Parameters<typeof checkDevice>[1], device: Parameters<typeof checkDevice>[2]) =>
      checkDevice(b.firmware.dictionary, plan, device),
  ];

  // Before anything is sent: a running Klipper must not lose a board under it.
  const restartKlipper = await guardKlipper(
    boards.map((b) => ({
      label: b.label,
      iface: b.iface,
      ...(b.uuidParsed ? { uuid: b.uuidParsed } : {}),
      ...(b.device ? { device: expandPath(b.device, ctx.io.cwd) } : {}),
    })),
    { stopKlipper: !!o.stopKlipper, dryRun: !!o.dryRun, config: o.config },
    ctx,
  );

  const buses = new Map<string, { bus: CanBus; close: () => Promise<void> }>();
  const jobs: BatchJob[] = [];
  const skippedRows: BoardRow[] = [];
  try {
    // CAN: one bus and one gate per interface; the bridge (if targeted) goes last.
    const byIface = new Map<string, Prepared[]>();
    for (const b of boards.filter((x) => x.uuid))
      byIface.set(b.iface, [...(byIface.get(b.iface) ?? []), b]);
    for (const [iface, all] of byIface) {
      let list = all;
      const cliBus = await openCliBus(iface, ctx.trace);
      buses.set(iface, cliBus);
      // Before any frame goes out: an image for another bus speed or transport would strand the board.
      for (const b of list)
        checkCanLink(b.firmware.dictionary, {
          iface,
          interfaceBitrate: cliBus.bitrate,
          ...(o.force ? { force: true } : {}),
        });
      if (o.skipCurrent) {
        const current = await boardsRunningTheirImage(cliBus.bus, list, ctx);
        for (const [b, version] of current) {
          const note = `already runs Klipper ${version}, the same build as ${b.file}`;
          skippedRows.push({
            board: b.label,
            uuid: b.uuidParsed!,
            interface: iface,
            result: "skipped",
            note,
          });
          if (single)
            ctx.out.info(
              `${b.uuidParsed} ${note}: not flashed (drop --skip-current to flash it anyway)`,
            );
          else ctx.out.info(`${note}: skipped`, b.label);
        }
        list = list.filter((b) => !current.has(b));
        if (list.length === 0) continue;
      }
      const real = iface !== DEMO_INTERFACE && !isVirtualChannel(iface);
      const bridges = new Map<Uuid, boolean>();
      for (const b of list)
        bridges.set(
          b.uuidParsed!,
          real && (await findBridgeFor(b.uuidParsed!, iface)) !== undefined,
        );
      const gate = new KatapultCanGate(
        cliBus.bus,
        list.filter((b) => !bridges.get(b.uuidParsed!)).map((b) => b.uuidParsed!),
        {
          signal: ctx.signal,
          ...(o.dryRun ? { dryRun: true } : {}),
          onRequest: (uuid, why) => {
            const what =
              why === "answered-as-klipper"
                ? "runs Klipper: requesting its bootloader"
                : "did not answer a query: requesting its bootloader";
            if (single) ctx.out.info(`${uuid} ${what}`);
            else ctx.out.info(what, labelOf(list, uuid));
          },
        },
      );
      for (const b of list) {
        const isBridge = bridges.get(b.uuidParsed!)!;
        jobs.push({
          id: b.label,
          group: `can:${iface}`,
          last: isBridge,
          run: async (onEvent, signal) => {
            const adapter = isBridge
              ? (await katapultAdapterForCanNode({ bus: cliBus.bus, uuid: b.uuidParsed!, iface }))
                  .adapter
              : gate.adapter(
                  b.uuidParsed!,
                  b.flashEnd !== undefined ? { flashEnd: b.flashEnd } : {},
                );
            return runFlash(adapter, b.firmware.image, {
              clock: cliBus.bus.clock,
              checks: checksFor(b),
              onEvent,
              ...(signal ? { signal } : {}),
              ...(o.dryRun ? { dryRun: true } : {}),
            });
          },
        });
      }
    }
    for (const b of boards.filter((x) => x.device)) {
      const traced = ctx.trace
        ? { wrapTransport: (t: ByteTransport) => new TracedTransport(t, ctx.trace!) }
        : {};
      jobs.push({
        id: b.label,
        group: `tty:${b.device}`,
        run: (onEvent, signal) =>
          runFlash(
            isAvrTarget(b.target)
              ? avrAdapterFor(b.target, {
                  device: expandPath(b.device!, ctx.io.cwd),
                  ...(b.baud !== undefined ? { baud: b.baud } : {}),
                  ...traced,
                })
              : katapultSerialAdapter({
                  device: expandPath(b.device!, ctx.io.cwd),
                  ...(ctx.trace
                    ? { wrapTransport: (t) => new TracedTransport(t, ctx.trace!) }
                    : {}),
                  baud: b.baud ?? DEFAULT_KATAPULT_BAUD,
                  ...(b.flashEnd !== undefined ? { flashEnd: b.flashEnd } : {}),
                }),
            b.firmware.image,
            {
              onEvent,
              checks: checksFor(b),
              ...(signal ? { signal } : {}),
              ...(o.dryRun ? { dryRun: true } : {}),
            },
          ),
      });
    }

    if (jobs.length === 0 && skippedRows.length > 0) {
      ctx.rows = skippedRows;
      if (single) ctx.out.line("Already Current");
      else ctx.out.table(skippedRows);
      return ExitCode.OK;
    }
    const outcomes = await runBatch(jobs, {
      ...(o.jobs !== undefined ? { jobs: o.jobs } : {}),
      keepGoing: !!o.keepGoing,
      signal: ctx.signal,
      onEvent: (id, e) => ctx.out.flashEvent(id, e),
    });

    const rows: BoardRow[] = [];
    const codes: ExitCodeValue[] = [];
    for (const [i, oc] of outcomes.entries()) {
      const b = boards.find((x) => x.label === oc.id) ?? boards[i]!;
      const row: BoardRow = {
        board: b.label,
        ...(b.uuidParsed ? { uuid: b.uuidParsed, interface: b.iface } : { device: b.device! }),
        result: oc.status,
        ms: Math.round(oc.ms),
        ...(oc.result ? { bytes: oc.result.plan.imageBytes } : {}),
      };
      if (oc.result?.dryRun) {
        const p = oc.result.plan;
        row.note = `would write ${p.blocks.length} blocks at 0x${p.start.toString(16)}..0x${p.end.toString(16)} to ${oc.result.device.description}`;
      }
      const dryStop =
        !!o.dryRun && oc.error instanceof FlashError && oc.error.cause instanceof DryRunStopError;
      if (dryStop) {
        // Not a failure: the board runs its application and a real run would ask it into the bootloader.
        row.result = "ok";
        row.note = (oc.error as FlashError).cause.message;
        codes.push(ExitCode.OK);
      } else if (oc.error) {
        const ex = explain(oc.error, {
          iface: b.iface,
          ...(ctx.retry ? { retry: ctx.retry } : {}),
        });
        row.error = {
          code:
            oc.error instanceof FlashError
              ? oc.error.causeCode
              : ((oc.error as CanflashError).code ?? "ERROR"),
          message: ex.message,
          ...(oc.error instanceof FlashError
            ? { phase: oc.error.phase, deviceState: oc.error.deviceState }
            : {}),
        };
        if (oc.status === "failed") {
          codes.push(ex.exitCode);
          if (single) throw oc.error; // one board: the program renders the error with its hints
          ctx.out.error({ ...ex, message: `${b.label}: ${ex.message}` });
        }
      } else codes.push(ExitCode.OK);
      rows.push(row);
    }
    rows.push(...skippedRows);
    if (single) {
      const r = outcomes[0]!.result;
      if (o.dryRun) {
        ctx.out.info(`Dry run: ${rows[0]!.note ?? ""}; nothing was written`);
        ctx.out.line("Dry Run Complete");
      } else if (r) {
        ctx.out.info(
          `Wrote and verified ${r.plan.imageBytes} bytes in ${(r.totalMs / 1000).toFixed(1)} s (${r.plan.blocks.length} blocks)`,
        );
        ctx.out.line("Programming Complete");
      }
    } else {
      ctx.out.table(rows);
    }
    ctx.rows = rows;
    return worstExitCode(codes);
  } finally {
    for (const { close } of buses.values()) await close();
    await restartKlipper?.();
  }
}

/**
 * --skip-current: the boards on this bus whose running Klipper has the data
 * dictionary of their image (identified on canflash's own node ids, so a
 * later Klippy start cannot collide). A board that does not answer, runs
 * Katapult, or cannot be identified is flashed as usual.
 */
async function boardsRunningTheirImage(
  bus: CanBus,
  list: Prepared[],
  ctx: CommandContext,
): Promise<Map<Prepared, string>> {
  const out = new Map<Prepared, string>();
  const wanted = list.filter((b) => b.firmware.dictionary);
  if (wanted.length === 0) return out;
  ctx.out.info("Checking which boards already run their image (--skip-current)...");
  const scan = await scanCanBus(bus, { identify: true, signal: ctx.signal });
  for (const b of wanted) {
    const node = scan.nodes.find((n) => n.uuid === b.uuidParsed);
    if (node?.dictionary && sameBuild(node.dictionary, b.firmware.dictionary!))
      out.set(b, node.dictionary.version);
  }
  return out;
}

/**
 * A -d board without --target whose image is a Klipper build for an AVR:
 * the AVR bootloader row for that chip (Katapult does not run on AVRs).
 */
function avrTargetFromImage(f: FirmwareFile, e: FlashEntry): { target?: Target } {
  const mcu = f.dictionary?.mcu;
  if (!mcu) return {};
  const rows = targets().filter((t) => isAvrTarget(t) && t.mcu.includes(mcu));
  if (rows.length === 0) return {};
  if (rows.length > 1)
    throw new UsageError(
      `${f.path} is a Klipper build for ${mcu}, which has ${rows.length} bootloader variants`,
      `pick one: ${rows.map((t) => `--target ${t.id}`).join(" or ")} (e.g. canflash --target ${rows[0]!.id} -d ${e.device} ${e.file})`,
    );
  return { target: rows[0]! };
}

function labelOf(list: readonly Prepared[], uuid: Uuid): string {
  return list.find((b) => b.uuidParsed === uuid)?.label ?? uuid;
}
