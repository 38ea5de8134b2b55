// Loading the device tables through their schema, with the cross-checks a
// schema cannot state: unique ids, chip facts from one place (a row may not
// restate a page size or signature its chip has), application areas inside
// the chip's flash, USB ids not claimed by both a bootloader and an
// application. Pure; index.ts serves the checked built-in tables.

import mcuData from "./mcus.json" with { type: "json" };
import data from "./targets.json" with { type: "json" };
import { TargetTableError } from "./errors.js";
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

export interface Table {
  targets: Target[];
  chips: ReadonlyMap<string, Chip>;
  applications: ReadonlyMap<string, Application>;
}

export interface McuFlash {
  flashBase: number;
  flashSize: number;
  uf2Families?: number[] | undefined;
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
export function loadTargets(rows: readonly unknown[], chips: ReadonlyMap<string, Chip>): Target[] {
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

/** Parses and checks mcus.json (flash of each Klipper MCU name). */
export function loadMcuFlashes(raw: unknown = mcuData): ReadonlyMap<string, McuFlash> {
  const r = McuTableSchema.safeParse(raw);
  if (!r.success) throw new TargetTableError("mcus.json", issueText(r.error.issues));
  return new Map(Object.entries(r.data.mcus));
}
