// Devices as data: the chip/bootloader table (targets.json) and the flash
// of each Klipper MCU (mcus.json), checked once on first use (load.ts: the
// schema and the cross-checks), or already checked at build time in the
// bundled CLI (builtin.ts). `findTarget` looks rows up by id or chip, so
// users type the board, not tool flags.

import { CanflashError } from "../util/errors.js";
import { builtinMcuFlashes, builtinTable } from "./builtin.js";
import { TargetTableError } from "./errors.js";
import type { McuFlash, Table } from "./load.js";
import type { Chip, Target } from "./schema.js";

export type { Application, Chip, Entry, Protocol, Target, TargetRow, Transport } from "./schema.js";
export type { McuFlash, Table } from "./load.js";
export { TargetTableError } from "./errors.js";

declare module "../util/errors.js" {
  interface ErrorCodes {
    UNKNOWN_TARGET: true;
  }
}

let cached: Table | undefined;
/** The built-in table, loaded and checked once. */
export function table(): Table {
  cached ??= builtinTable();
  return cached;
}

export function targets(): readonly Target[] {
  return table().targets;
}

export function chips(): ReadonlyMap<string, Chip> {
  return table().chips;
}

/** USB ids an application (Klipper, its USB-to-CAN bridge) enumerates with. */
export function applicationUsbIds(
  name: "klipper-usb" | "klipper-usb-can-bridge",
): readonly string[] {
  const a = table().applications.get(name);
  if (!a) throw new TargetTableError("applications", `${name} is missing`);
  return a.usbIds;
}

export class UnknownTargetError extends CanflashError {
  constructor(
    readonly query: string,
    readonly candidates: readonly string[],
  ) {
    super(
      "UNKNOWN_TARGET",
      candidates.length > 1
        ? `"${query}" matches several targets: ${candidates.join(", ")}`
        : `no target "${query}"`,
    );
  }
}

/**
 * A target by id; by a Klipper flash-sdcard board name or alias (as
 * board_defs.py spells it, case-insensitive, with or without "-spi"); or by
 * chip/MCU when exactly one row has it. Throws UnknownTargetError.
 */
export function findTarget(query: string): Target {
  const q = query.toLowerCase();
  const all = targets();
  const byId = all.find((t) => t.id === q);
  if (byId) return byId;
  const board = q.replace(/-spi$/, "");
  const byBoard =
    all.find((t) => t.sdSpi?.aliases.some((a) => a.toLowerCase() === board)) ??
    all.find((t) => t.sdSpi?.board.toLowerCase() === board);
  if (byBoard) return byBoard;
  const byChip = all.filter((t) => t.chip === q || t.mcu.includes(q));
  if (byChip.length === 1) return byChip[0]!;
  throw new UnknownTargetError(
    query,
    byChip.map((t) => t.id),
  );
}

/** The rows for a Klipper MCU name (no wildcard rows). */
export function targetsForMcu(mcu: string): Target[] {
  return targets().filter((t) => t.mcu.includes(mcu));
}

let mcuFlashes: ReadonlyMap<string, McuFlash> | undefined;

/**
 * The flash of a Klipper MCU (the largest part when the name covers
 * several), or undefined for a name the table does not know.
 */
export function mcuFlash(mcu: string): McuFlash | undefined {
  mcuFlashes ??= builtinMcuFlashes();
  return mcuFlashes.get(mcu);
}
