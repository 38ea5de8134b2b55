// canflash targets: the chips and bootloaders canflash knows, as a table
// (or JSON), with which ones this build flashes and the seed's command for
// the rest.

import { findTarget, isSupported, targets, type Target } from "../../flasher/targets.js";
import { ExitCode, type ExitCodeValue } from "../exit-codes.js";
import { renderTable } from "../output.js";
import type { CommandContext } from "./context.js";

/** A nested record (a row's sdSpi wiring) on one line: "board: btt-skr-mini; bus: spi1". */
const fields = (o: object): string =>
  Object.entries(o)
    .filter(([, x]) => !(Array.isArray(x) && x.length === 0))
    .map(([k, x]) => `${k}: ${Array.isArray(x) ? x.join(", ") : String(x)}`)
    .join("; ");

const hex = (n: number | undefined) => (n === undefined ? "-" : `0x${n.toString(16)}`);

/** Fields of a row as data (its chip's facts are shown through pageSize and signature). */
function data(t: Target): Record<string, unknown> {
  const { chipInfo: _chip, ...row } = t;
  return row;
}

function row(t: Target, supported: boolean): string[] {
  return [
    t.id,
    t.chip,
    t.protocol,
    t.transports.join(","),
    t.defaultBaud ? String(t.defaultBaud) : "-",
    hex(t.appStart),
    t.entry.join(","),
    supported ? "yes" : "-",
  ];
}

export async function targetsCommand(
  o: { json: boolean; id?: string },
  ctx: CommandContext,
): Promise<ExitCodeValue> {
  if (o.id) {
    const t = findTarget(o.id);
    const supported = await isSupported(t);
    if (o.json) ctx.out.target({ ...data(t), supported }, "");
    else {
      for (const [k, v] of Object.entries(data(t)))
        ctx.out.line(
          `${k.padEnd(13)} ${Array.isArray(v) ? v.map((x) => (k === "signature" ? hex(x as number) : String(x))).join(", ") : typeof v === "number" && k !== "defaultBaud" && k !== "pageSize" && k !== "listenWindowMs" ? hex(v) : v && typeof v === "object" ? fields(v) : String(v)}`,
        );
      ctx.out.line(
        `${"supported".padEnd(13)} ${supported ? "yes" : "not yet by this build: use the seed command"}`,
      );
    }
    return ExitCode.OK;
  }
  const all = targets();
  const supported = await Promise.all(all.map((t) => isSupported(t)));
  if (o.json) {
    all.forEach((t, i) => ctx.out.target({ ...data(t), supported: supported[i] }, ""));
    return ExitCode.OK;
  }
  ctx.out.line(
    renderTable([
      ["ID", "CHIP", "PROTOCOL", "TRANSPORT", "BAUD", "APP START", "ENTRY", "FLASHES"],
      ...all.map((t, i) => row(t, supported[i]!)),
    ]),
  );
  return ExitCode.OK;
}

/** --target: the row (whether this build flashes it is checked where it is used). */
export function resolveTarget(query: string | undefined): Target | undefined {
  return query ? findTarget(query) : undefined;
}
