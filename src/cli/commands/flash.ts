// canflash flash: parse → call → render. The library (flasher/) checks the
// input, guards Klipper, groups the boards and flashes them; this file
// turns its events into lines and bars and its outcomes into the final
// table (or flashtool's last line for one board). The exit code is the
// worst result.

import { createHash } from "node:crypto";
import { flashBoards, type BatchEvent, type BoardOutcome } from "../../flasher/flash-boards.js";
import { defaultLockDir } from "../../flasher/locks.js";
import { resolveMcuNames } from "../../flasher/printer-config.js";
import {
  linkWhere,
  prepareRequests,
  type BoardSpec,
  type FlashRequest,
} from "../../flasher/requests.js";
import { ExitCode, type ExitCodeValue } from "../exit-codes.js";
import { openocdFlags } from "../swd-options.js";
import { errorCode, explain } from "../hints/index.js";
import type { BoardRow } from "../output.js";
import type { CommandContext } from "./context.js";
import { klipperEventText } from "./klipper-events.js";

export type { BoardSpec };

export interface FlashCliOptions {
  jobs?: number;
  keepGoing?: boolean;
  dryRun?: boolean;
  force?: boolean;
  stopKlipper?: boolean;
  skipCurrent?: boolean;
  /** printer.cfg (--config, manifest config:). */
  config?: string;
  /** canflash ensure: only boards not on the image's build are flashed; rows say what changed. */
  ensure?: boolean;
  /** Read each board's flash back and write only when it differs (ensure --readback). */
  compareFirst?: boolean;
}

/** Exit codes by how bad they are, for "the worst result". */
const SEVERITY: ExitCodeValue[] = [
  ExitCode.OK,
  ExitCode.USAGE,
  ExitCode.INTERFACE,
  ExitCode.NO_NODE,
  ExitCode.REFUSED,
  ExitCode.BUSY,
  ExitCode.LOCKED,
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

const where = (r: FlashRequest): string => linkWhere(r.link, r.target);

/** The command line that retries one board. */
function retryOf(r: FlashRequest, file: string): string {
  if (r.link.kind === "can") return `canflash -i ${r.link.iface} -u ${r.link.uuid} ${file}`;
  if (r.link.kind === "drive")
    return `canflash --target ${r.target.id}${r.link.device !== undefined ? ` -d ${r.link.device}` : ""} ${file}`;
  if (r.link.kind === "usb") return `canflash --target ${r.target.id} -d ${r.link.spec} ${file}`;
  if (r.link.kind === "openocd")
    return `canflash --target ${r.target.id} ${openocdFlags(r.link)} ${file}`;
  const m = r.link.mode;
  const mode = m ? ` --serial-mode ${m.dataBits}${m.parity[0]}${m.stopBits}` : "";
  const lines = r.link.lines ? ` --reset-sequence '${r.link.lines.text}'` : "";
  return `canflash${r.targetGiven ? ` --target ${r.target.id}` : ""} -d ${r.link.device}${r.link.baud !== undefined ? ` -b ${r.link.baud}` : ""}${mode}${lines} ${file}`;
}

export async function flashCommand(
  specs: BoardSpec[],
  o: FlashCliOptions,
  ctx: CommandContext,
): Promise<ExitCodeValue> {
  const resolved = await resolveMcuNames(specs, {
    path: o.config,
    cwd: ctx.io.cwd,
    home: ctx.io.host?.home,
    host: ctx.io.host?.klipper,
  });
  const requests = await prepareRequests(resolved, { cwd: ctx.io.cwd, home: ctx.io.host?.home });
  const files = new Map(resolved.map((s, i) => [requests[i]!, s.file]));
  const single = requests.length === 1;
  ctx.out.setMulti?.(!single);
  if (single) {
    const r = requests[0]!;
    if (r.link.kind === "can") ctx.iface = r.link.iface;
    ctx.retry = retryOf(r, files.get(r)!);
    ctx.out.info(
      `Flashing '${r.firmware.path}' to ${where(r)}${r.link.kind === "can" ? ` on ${r.link.iface}` : ""}`,
    );
  } else {
    ctx.out.info(`Flashing ${requests.length} boards: ${requests.map((r) => r.id).join(", ")}`);
  }
  for (const f of new Set(requests.map((r) => r.firmware))) {
    const d = f.dictionary;
    ctx.out.info(
      d
        ? `${f.path}: Klipper ${d.version ?? "(unknown version)"} for ${d.mcu ?? "an unknown MCU"}${d.transport !== "unknown" ? `, ${d.transport}` : ""}${d.canbusFrequency ? ` at ${d.canbusFrequency} bit/s` : ""}`
        : `${f.path}: no Klipper data dictionary inside; the MCU and bitrate checks are skipped`,
    );
  }

  const render = (e: BatchEvent): void => {
    switch (e.type) {
      case "board": {
        ctx.out.flashEvent(e.board, e.event);
        const ev = e.event;
        // flashtool's result lines, which scripts grep
        if (ev.type === "info" && typeof ev.data?.pages === "number")
          ctx.out.line(`${single ? "" : `${e.board}: `}Write complete: ${ev.data.pages} pages`);
        if (ev.type === "phase-end" && ev.phase === "finish" && !single)
          ctx.out.line(`${e.board}: Programming Complete`);
        return;
      }
      case "bootloader-request": {
        const what =
          e.why === "answered-as-klipper"
            ? "runs Klipper: requesting its bootloader"
            : "did not answer a query: requesting its bootloader";
        return single ? ctx.out.info(`${e.uuid} ${what}`) : ctx.out.info(what, e.board);
      }
      case "identifying":
        return ctx.out.info(
          o.skipCurrent
            ? "Checking which boards already run their image (--skip-current)..."
            : "Identifying the boards' running Klipper before asking them into the bootloader...",
        );
      case "current": {
        const r = requests.find((x) => x.id === e.board)!;
        const note = `already runs Klipper ${e.version}, the same build as ${files.get(r)}`;
        return single
          ? ctx.out.info(`${e.uuid} ${note}: not flashed (drop --skip-current to flash it anyway)`)
          : ctx.out.info(`${note}: skipped`, e.board);
      }
      case "klipper": {
        const t = klipperEventText(e);
        if (e.action === "start-failed") ctx.out.error(t.error!);
        else ctx.out.info(t.text);
        return;
      }
    }
  };

  const outcomes = await flashBoards(requests, {
    ...(o.jobs !== undefined ? { jobs: o.jobs } : {}),
    keepGoing: !!o.keepGoing,
    dryRun: !!o.dryRun,
    force: !!o.force,
    skipCurrent: !!o.skipCurrent,
    ...(o.compareFirst ? { compareFirst: true } : {}),
    klipper: {
      stopKlipper: !!o.stopKlipper,
      config: o.config,
      cwd: ctx.io.cwd,
      home: ctx.io.host?.home,
      host: ctx.io.host?.klipper,
    },
    signal: ctx.signal,
    lockDir: defaultLockDir(ctx.io.env),
    onEvent: render,
    ...(ctx.trace ? { trace: ctx.trace } : {}),
  });

  const rows: BoardRow[] = [];
  const codes: ExitCodeValue[] = [];
  for (const oc of outcomes) {
    const { row, code } = rowOf(oc, files.get(oc.request)!, ctx, single);
    if (o.ensure)
      row.changed =
        (oc.status === "ok" && !oc.result.unchanged) ||
        (oc.status === "failed" && row.error?.deviceState !== "untouched");
    rows.push(row);
    codes.push(code);
  }
  ctx.rows = rows;
  // Interrupted is interrupted at every moment, whatever the boards got to.
  if (ctx.signal.aborted) codes.push(ExitCode.INTERRUPTED);
  if (single) {
    const oc = outcomes[0]!;
    if (oc.status === "failed") throw oc.error; // the program renders it with its hints (and the rows)
    if (oc.status === "skipped") throw oc.error;
    if (oc.status === "dry-run") {
      ctx.out.info(`Dry run: ${rows[0]!.note ?? ""}; nothing was written`);
      ctx.out.line("Dry Run Complete");
    } else if (oc.status === "ok") {
      const r = oc.result;
      if (r.verified) ctx.out.line(`Verification Complete: SHA = ${sha1OfBlocks(r.plan)}`);
      ctx.out.info(
        `Wrote ${r.verified ? "and verified " : ""}${r.plan.imageBytes} bytes in ${(r.totalMs / 1000).toFixed(1)} s (${r.plan.blocks.length} blocks)` +
          (r.verified
            ? r.device.unverified
              ? `; but ${r.device.unverified}`
              : ""
            : `: ${r.device.unverified ?? "this bootloader cannot read back, so the flash was not verified"}`),
      );
      ctx.out.line("Programming Complete");
    } else if (oc.status === "current") ctx.out.line("Already Current");
  } else {
    ctx.out.table(rows);
  }
  if (o.ensure) {
    const changed = rows.filter((r) => r.changed).map((r) => r.board);
    ctx.out.line(changed.length ? `Changed: ${changed.join(", ")}` : "Nothing changed");
  }
  return worstExitCode(codes);
}

/** SHA-1 of the padded blocks as written, uppercase hex (flashtool's verify line). */
function sha1OfBlocks(plan: { blocks: ReadonlyArray<{ data: Uint8Array }> }): string {
  const h = createHash("sha1");
  for (const b of plan.blocks) h.update(b.data);
  return h.digest("hex").toUpperCase();
}

function rowOf(
  oc: BoardOutcome,
  file: string,
  ctx: CommandContext,
  single: boolean,
): { row: BoardRow; code: ExitCodeValue } {
  const r = oc.request;
  const row: BoardRow = {
    board: oc.id,
    ...(r.link.kind === "can"
      ? { uuid: r.link.uuid, interface: r.link.iface }
      : { device: linkWhere(r.link, r.target) }),
    result: oc.status,
    ms: Math.round(oc.ms),
  };
  switch (oc.status) {
    case "ok":
      row.bytes = oc.result.plan.imageBytes;
      row.cpuMs = Math.round(oc.result.cpuMs);
      if (oc.result.unchanged) row.note = "unchanged: read back identical, nothing written";
      else if (oc.result.compareImpossible)
        row.note = "flashed without comparing: this bootloader cannot read back";
      if (!oc.result.verified)
        row.note = `not verified: ${oc.result.device.unverified ?? "this bootloader cannot read back"}`;
      else if (oc.result.device.unverified) row.note = oc.result.device.unverified;
      return { row, code: ExitCode.OK };
    case "dry-run": {
      if (oc.result) {
        const p = oc.result.plan;
        row.bytes = p.imageBytes;
        row.note = `would write ${p.blocks.length} blocks at 0x${p.start.toString(16)}..0x${p.end.toString(16)} to ${oc.result.device.description}`;
      } else if (oc.stop) row.note = oc.stop.message;
      return { row, code: ExitCode.OK };
    }
    case "current":
      row.note = `already runs Klipper ${oc.version}, the same build as ${file}`;
      return { row, code: ExitCode.OK };
    case "skipped": {
      const ex = explain(oc.error, { iface: ctx.iface ?? "can0" });
      row.error = { code: errorCode(oc.error), message: ex.message };
      if (oc.returnedToApplication)
        row.note = "asked into its bootloader, then sent back to its application";
      // Not started because of an earlier failure: that failure carries the exit code.
      return {
        row,
        code: ex.exitCode === ExitCode.INTERRUPTED ? ExitCode.INTERRUPTED : ExitCode.OK,
      };
    }
    case "failed": {
      const retry = retryOf(r, file);
      const ex = explain(oc.error, {
        iface: r.link.kind === "can" ? r.link.iface : (ctx.iface ?? "can0"),
        retry,
      });
      const fe = oc.error as { phase?: string; deviceState?: string };
      row.error = {
        code: errorCode(oc.error),
        message: ex.message,
        ...(fe.phase ? { phase: fe.phase } : {}),
        // Not a FlashError: refused before anything was sent to the board.
        deviceState: fe.deviceState ?? "untouched",
      };
      if (!single)
        ctx.out.error({ ...ex, message: `${oc.id}: ${ex.message}` }, undefined, row.error.code);
      return { row, code: ex.exitCode };
    }
  }
}
