// The batch manifest: which boards get which firmware over which link, in
// JSON or YAML, checked by a zod schema. Errors name the file, the field
// (boards[2].uuid) and, for YAML, its line — and what to write instead.
//
//   interface: can0                      # default for CAN boards
//   firmware: ~/klipper/out/klipper.bin  # default for all boards
//   config: ~/printer_data/config/printer.cfg   # for boards named by mcu
//   boards:
//     - mcu: EBBCan                      # [mcu EBBCan] in printer.cfg: its canbus_uuid
//     - name: T0                         # a label
//       uuid: aabbccddeeff
//     - name: toolhead1
//       uuid: 112233445566
//       firmware: ~/klipper/out/t1.bin
//       interface: can1
//     - name: mainboard
//       device: /dev/serial/by-id/usb-katapult_stm32f446xx_123-if00
//       baud: 250000

import { readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { LineCounter, parseDocument, isMap, isSeq, type Node } from "yaml";
import * as z from "zod";
import { expandPath } from "../flasher/firmware.js";
import { isUuid, parseUuid, type BoardSpec } from "../flasher/requests.js";
import { resolveTarget } from "./commands/targets.js";
import { UsageError } from "./usage-error.js";

const uuidField = z.string().refine((s) => {
  try {
    return isUuid(parseUuid(s));
  } catch {
    return false;
  }
}, "not a CAN UUID: 12 hex digits as `canflash -q` prints them, e.g. aabbccddeeff");

const Board = z
  .strictObject({
    name: z.string().min(1).optional(),
    mcu: z.string().min(1).optional(),
    uuid: uuidField.optional(),
    device: z.string().min(1).optional(),
    interface: z.string().min(1).optional(),
    firmware: z.string().min(1).optional(),
    baud: z.number().int().positive().optional(),
    target: z.string().min(1).optional(),
  })
  .refine((b) => [b.uuid, b.device, b.mcu].filter((x) => x !== undefined).length === 1, {
    message:
      "give exactly one of uuid (a CAN board), device (a serial/USB board) or mcu (its printer.cfg name)",
  });

export const ManifestSchema = z.strictObject({
  interface: z.string().min(1).optional(),
  firmware: z.string().min(1).optional(),
  config: z.string().min(1).optional(),
  jobs: z.number().int().positive().optional(),
  boards: z.array(Board).min(1, "list at least one board"),
});

export type Manifest = z.infer<typeof ManifestSchema>;

export class ManifestError extends UsageError {
  constructor(
    readonly file: string,
    readonly field: string,
    readonly line: number | undefined,
    problem: string,
  ) {
    super(
      `${file}${line !== undefined ? `:${line}` : ""}: ${field ? `${field}: ` : ""}${problem}`,
      "fix the manifest (see `canflash flash --help`)",
    );
  }
}

function fieldName(path: readonly PropertyKey[]): string {
  return path
    .map((p, i) => (typeof p === "number" ? `[${p}]` : `${i ? "." : ""}${String(p)}`))
    .join("");
}

/** Reads and checks a manifest; boards with defaults filled in. */
export async function loadManifest(
  path: string,
  cwd: string,
): Promise<{ entries: BoardSpec[]; jobs?: number; config?: string }> {
  const full = expandPath(path, cwd);
  let text: string;
  try {
    text = await readFile(full, "utf8");
  } catch {
    throw new UsageError(`manifest not found: ${full}`, "give the path of a JSON or YAML manifest");
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new ManifestError(
      full,
      "",
      lines.linePos(e.pos[0]).line,
      `not valid JSON or YAML: ${e.message.split("\n")[0]}`,
    );
  }
  const data: unknown = doc.toJS();
  const r = ManifestSchema.safeParse(data);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    let path = issue.path;
    let problem = issue.message;
    if (issue.code === "unrecognized_keys") {
      path = [...issue.path, issue.keys[0]!];
      problem = `unknown field${issue.keys.length > 1 ? "s" : ""} ${issue.keys.join(", ")} (known: name, mcu, uuid, device, interface, firmware, baud, target)`;
    }
    const node = doc.getIn(path, true) as Node | undefined;
    const line = node?.range
      ? lines.linePos(node.range[0]).line
      : lineOfParent(doc.contents, path, lines);
    throw new ManifestError(full, fieldName(path), line, problem);
  }
  const m = r.data;
  const lineOf = (path: (string | number)[]): number | undefined => {
    const node = doc.getIn(path, true) as Node | undefined;
    return node?.range ? lines.linePos(node.range[0]).line : undefined;
  };
  // Paths in a manifest are relative to the manifest's folder, not to where canflash runs.
  const here = dirname(full);
  const entries = m.boards.map((b, i): BoardSpec => {
    const given = b.firmware ?? m.firmware;
    if (!given)
      throw new ManifestError(
        full,
        `boards[${i}].firmware`,
        lineOf(["boards", i]),
        "no firmware for this board and no top-level default",
      );
    const file = expandPath(given, here);
    let target;
    try {
      target = resolveTarget(b.target);
    } catch (e) {
      throw new ManifestError(
        full,
        `boards[${i}].target`,
        lineOf(["boards", i, "target"]),
        (e as Error).message,
      );
    }
    const at = lineOf(["boards", i]);
    return {
      origin: `${full}${at !== undefined ? `:${at}` : ""} (boards[${i}])`,
      ...(target ? { target } : {}),
      label: b.name ?? b.mcu ?? (b.uuid ? parseUuid(b.uuid) : b.device!),
      ...(b.mcu ? { mcu: b.mcu } : {}),
      ...(b.interface || m.interface ? { explicitIface: true } : {}),
      ...(b.uuid ? { uuid: b.uuid } : {}),
      ...(b.device
        ? { device: b.device.startsWith("/") ? b.device : expandPath(b.device, here) }
        : {}),
      ...(b.baud ? { baud: b.baud } : {}),
      iface: b.interface ?? m.interface ?? "can0",
      file,
    };
  });
  return {
    entries,
    ...(m.jobs ? { jobs: m.jobs } : {}),
    ...(m.config ? { config: expandPath(m.config, here) } : {}),
  };
}

function lineOfParent(
  root: Node | null,
  path: readonly PropertyKey[],
  lines: LineCounter,
): number | undefined {
  let node: unknown = root;
  let line: number | undefined = root?.range ? lines.linePos(root.range[0]).line : undefined;
  for (const key of path) {
    if (isMap(node)) node = node.get(key, true);
    else if (isSeq(node)) node = node.get(key, true);
    else break;
    const n = node as Node | undefined;
    if (n?.range) line = lines.linePos(n.range[0]).line;
  }
  return line;
}
