// canflash outdated: parse → call → render. The library gathers Klipper's
// facts (Moonraker, or the bus) and judges each board; here each verdict
// becomes a line, and the exit code says whether anything needs flashing.

import type { BoardVerdict } from "../../moonraker/outdated.js";
import { outdatedReport, type OutdatedSource } from "../../moonraker/report.js";
import { ExitCode, type ExitCodeValue } from "../exit-codes.js";
import type { CommandContext } from "./context.js";

export interface OutdatedCommandOptions {
  source: OutdatedSource;
  firmware?: string;
}

function verdictText(b: BoardVerdict): string {
  if (b.hostProcess)
    return b.verdict === "same"
      ? "current (Klipper's host process)"
      : "Klipper's host process: rebuild and reinstall klipper_mcu (it is not flashed)";
  switch (b.verdict) {
    case "deprecated-code":
      return `missing ${b.missingFeatures.join(", ")}: Klipper recommends recompiling and flashing`;
    case "older":
      return "built from an older Klipper than the host's: flash it";
    case "same":
      return "current";
    case "newer":
      return "built from a newer Klipper than the host's";
    case "different":
      return "built from another Klipper than the host's (another branch or build)";
    case "other-build":
      return "runs another build than the image given: flash it";
    case "no-application":
      return "waits in its bootloader (no application): flash it";
    case "unknown":
      return "version unknown";
  }
}

export async function outdatedCommand(
  o: OutdatedCommandOptions,
  ctx: CommandContext,
): Promise<ExitCodeValue> {
  const r = await outdatedReport({
    source: o.source,
    cwd: ctx.io.cwd,
    home: ctx.io.host?.home,
    ...(o.firmware ? { firmware: o.firmware } : {}),
    signal: ctx.signal,
  });
  ctx.out.info(
    `Host Klipper ${r.hostVersion ?? "(version unknown)"} (from ${r.source === "moonraker" ? "Moonraker" : r.source.replace(/^can:/, "the CAN bus ")})`,
    undefined,
    {
      source: r.source,
      hostVersion: r.hostVersion ?? null,
      ...(r.klippy ? { klippy: r.klippy } : {}),
    },
  );
  for (const n of r.notes) ctx.out.info(n);
  if (r.klippy && (!r.klippy.connected || r.klippy.state !== "ready")) {
    // Klippy reports its MCUs only when ready: "nothing to flash" would be a guess.
    ctx.out.line(`Cannot tell: Klippy is ${r.klippy.state}`);
    return ExitCode.FAILURE;
  }
  const width = Math.max(4, ...r.boards.map((b) => b.name.length));
  const vwidth = Math.max(7, ...r.boards.map((b) => (b.mcuVersion ?? "?").length));
  for (const b of r.boards)
    ctx.out.info(
      `  ${b.name.padEnd(width)}  ${(b.mcuVersion ?? "?").padEnd(vwidth)}  ${(b.chip ?? "").padEnd(12)}  ${verdictText(b)}`,
      undefined,
      { outdated: b },
    );
  if (r.needsFlash.length === 0) {
    ctx.out.line(r.boards.length ? "Nothing to flash" : "No boards found");
    return ExitCode.OK;
  }
  // A board printer.cfg does not name is given by its UUID.
  const mcus = r.boards
    .filter((b) => b.needsFlash)
    .map((b) =>
      b.canbusUuid && b.section === b.canbusUuid ? `-u ${b.canbusUuid}` : `--mcu ${b.name}`,
    )
    .join(" ");
  ctx.out.line(
    `${r.needsFlash.length} board${r.needsFlash.length === 1 ? "" : "s"} to flash: ${r.needsFlash.join(", ")}`,
  );
  ctx.out.info(
    `flash them: canflash flash${r.source === "moonraker" ? " --stop-klipper" : ` -i ${r.source.replace(/^can:/, "")}`} ${mcus} ~/klipper/out/klipper.bin`,
  );
  return ExitCode.NEEDS_FLASH;
}
