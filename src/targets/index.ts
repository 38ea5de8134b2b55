// Devices as data: the chip/bootloader table (targets.json) loaded through
// its schema and cross-checked once, on first use: unique ids, chip facts
// from one place (a row may not restate a page size or signature its chip
// has), application areas inside the chip's flash, USB ids not claimed by
// both a bootloader and an application. `findTarget` looks rows up by id
// or chip, so users type the board, not tool flags.

import { CanflashError } from "../util/errors.js";
import mcuData from "./mcus.json" with { type: "json" };
import data from "./targets.json" with { type: "json" };
import {
  McuTableSchema,
  ApplicationSchema,
  ChipSchema,
  TableSchema,
  TargetRowSchema,
  type Application,
  type Chip,
  type Target,
} from "./schema.js";

export * from "./schema.js";

declare module "../util/errors.js" {
  interface ErrorCodes {
    TARGET_TABLE: true;
    UNKNOWN_TARGET: true;
  }
}

export class TargetTableError extends CanflashError {
  constructor(
    /** The row (or section) at fault. */
    readonly where: string,
    readonly problem: string,
  ) {
    super("TARGET_TABLE", `target table: ${where}: ${problem}`);
  }
}

export interface Table {
  targets: Target[];
  chips: ReadonlyMap<string, Chip>;
  applications: ReadonlyMap<string, Application>;
}

const issueText = (issues: readonly { path: PropertyKey[]; message: string }[]) => {
  const i = issues[0]!;
  return `${i.path.map(String).join(".") || "row"}: ${i.message}`;
};

/** Parses and checks a table (default: targets.json); throws TargetTableError naming the row and field. */
export function loadTable(raw: unknown = data): Table {
  const top = TableSchema.safeParse(raw);
  if (!top.success) throw new TargetTableError("file", issueText(top.error.issues));
  const chips = new Map<string, Chip>();
  for (const [name, c] of Object.entries(top.data.chips)) {
    const r = ChipSchema.safeParse(c);
    if (!r.success) throw new TargetTableError(`chips.${name}`, issueText(r.error.issues));
    chips.set(name, { ...r.data, name });
  }
  const applications = new Map<string, Application>();
  for (const [name, a] of Object.entries(top.data.applications))
    applications.set(name, ApplicationSchema.parse(a));
  const targets = loadTargets(top.data.targets, chips);
  const appIds = new Set([...applications.values()].flatMap((a) => a.usbIds));
  for (const t of targets)
    for (const id of t.usbIds)
      if (appIds.has(id))
        throw new TargetTableError(t.id, `usbIds: ${id} is also an application's USB id`);
  return { targets, chips, applications };
}

/** Parses and checks target rows against `chips`. */
export function loadTargets(
  rows: readonly unknown[],
  chips: ReadonlyMap<string, Chip> = table().chips,
): Target[] {
  const out: Target[] = [];
  const ids = new Set<string>();
  rows.forEach((row, i) => {
    const id = (row as { id?: string } | undefined)?.id ?? `#${i}`;
    const r = TargetRowSchema.safeParse(row);
    if (!r.success) throw new TargetTableError(id, issueText(r.error.issues));
    const t = r.data;
    if (ids.has(t.id)) throw new TargetTableError(t.id, "appears twice");
    ids.add(t.id);
    const chip = chips.get(t.chip);
    if (chip) {
      if (t.pageSize !== undefined)
        throw new TargetTableError(t.id, `pageSize: comes from chips.${t.chip}; remove it here`);
      const flashEnd = chip.flashBase + chip.flashSize;
      if (t.appEnd !== undefined && t.appEnd > flashEnd)
        throw new TargetTableError(
          t.id,
          `appEnd: 0x${t.appEnd.toString(16)} is past the end of ${t.chip}'s flash (0x${flashEnd.toString(16)})`,
        );
      if (t.appStart !== undefined && t.appStart < chip.flashBase)
        throw new TargetTableError(t.id, `appStart: below ${t.chip}'s flash`);
    }
    out.push({
      ...t,
      ...(chip ? { chipInfo: chip, pageSize: chip.pageSize } : {}),
      ...(chip?.signature ? { signature: chip.signature } : {}),
    });
  });
  return out;
}

let cached: Table | undefined;
/** The built-in table, loaded and checked once. */
export function table(): Table {
  cached ??= loadTable();
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

export interface McuFlash {
  flashBase: number;
  flashSize: number;
  uf2Families?: number[] | undefined;
}

let mcuFlashes: ReadonlyMap<string, McuFlash> | undefined;

/** Parses and checks mcus.json (flash of each Klipper MCU name). */
export function loadMcuFlashes(raw: unknown = mcuData): ReadonlyMap<string, McuFlash> {
  const r = McuTableSchema.safeParse(raw);
  if (!r.success) throw new TargetTableError("mcus.json", issueText(r.error.issues));
  return new Map(Object.entries(r.data.mcus));
}

/**
 * The flash of a Klipper MCU (the largest part when the name covers
 * several), or undefined for a name the table does not know.
 */
export function mcuFlash(mcu: string): McuFlash | undefined {
  mcuFlashes ??= loadMcuFlashes();
  return mcuFlashes.get(mcu);
}
