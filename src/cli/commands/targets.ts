// canflash targets: the chips and bootloaders canflash knows, as a table
// (or JSON), with which ones this build flashes and the seed's command for
// the rest.

import { findTarget, isSupported, targets, type Target } from "../../flasher/targets.js";
import { ExitCode, type ExitCodeValue } from "../exit-codes.js";
import { UsageError } from "../usage-error.js";
import type { CommandContext } from "./context.js";

const hex = (n: number | undefined) => (n === undefined ? "-" : `0x${n.toString(16)}`);

function row(t: Target): string[] {
  return [
    t.id,
    t.chip,
    t.protocol,
    t.transports.join(","),
    t.defaultBaud ? String(t.defaultBaud) : "-",
    hex(t.appStart),
    t.entry.join(","),
    isSupported(t) ? "yes" : "-",
  ];
}

export function renderTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

export async function targetsCommand(
  o: { json: boolean; id?: string },
  ctx: CommandContext,
): Promise<ExitCodeValue> {
  if (o.id) {
    const t = findTarget(o.id);
    if (o.json) ctx.out.target({ ...t, supported: isSupported(t) }, "");
    else {
      for (const [k, v] of Object.entries(t))
        ctx.out.line(
          `${k.padEnd(13)} ${Array.isArray(v) ? v.join(", ") : typeof v === "number" && k !== "defaultBaud" && k !== "pageSize" ? hex(v) : String(v)}`,
        );
      ctx.out.line(
        `${"supported".padEnd(13)} ${isSupported(t) ? "yes" : "not yet by this build: use the seed command"}`,
      );
    }
    return ExitCode.OK;
  }
  const all = targets();
  if (o.json) {
    for (const t of all) ctx.out.target({ ...t, supported: isSupported(t) }, "");
    return ExitCode.OK;
  }
  ctx.out.line(
    renderTable([
      ["ID", "CHIP", "PROTOCOL", "TRANSPORT", "BAUD", "APP START", "ENTRY", "FLASHES"],
      ...all.map(row),
    ]),
  );
  return ExitCode.OK;
}

/** --target: the row, refused when this build cannot flash its protocol. */
export function resolveTarget(query: string | undefined): Target | undefined {
  if (!query) return undefined;
  const t = findTarget(query);
  if (!isSupported(t)) {
    throw new UsageError(
      `target ${t.id} uses the ${t.protocol} protocol, which this build of canflash cannot flash yet`,
      `the seed's command for it: ${t.seedCommand}`,
    );
  }
  return t;
}
