// The agent's own config file (YAML or JSON). Flashing stays off until it
// says `allow_flash: true`; it also names the firmware (one default, and
// per board by printer.cfg name), an interface for every CAN board, the
// Klipper service and how many boards flash at once per bus.
//
//   allow_flash: true
//   firmware: ~/klipper/out/klipper.bin
//   boards:
//     T1: ~/klipper/out-rp2040/klipper.bin
//   klipper_service: klipper
//   jobs: 1

import { readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { parse } from "yaml";
import * as z from "zod";
import { DEFAULT_FIRMWARE, expandPath } from "../flasher/inputs.js";
import { AgentConfigError } from "./errors.js";

/** Where the agent looks when no config is given: beside printer.cfg. */
export const DEFAULT_AGENT_CONFIG = "~/printer_data/config/canflash.yaml";

const Schema = z.strictObject({
  allow_flash: z.boolean().optional(),
  firmware: z.string().min(1).optional(),
  boards: z.record(z.string().min(1), z.string().min(1)).optional(),
  interface: z.string().min(1).optional(),
  klipper_service: z.string().min(1).optional(),
  jobs: z.number().int().positive().optional(),
  printer_config: z.string().min(1).optional(),
});

export interface AgentConfig {
  /** The file read, undefined when none was found (all defaults: flashing off). */
  path: string | undefined;
  allowFlash: boolean;
  /** Absolute firmware path for boards without their own. */
  firmware: string;
  /** Per board (printer.cfg name): absolute firmware path. */
  boards: Record<string, string>;
  /** CAN interface for every CAN board (else each board's canbus_interface). */
  interface: string | undefined;
  klipperService: string;
  jobs: number;
  /** printer.cfg (else the one Klippy reports). */
  printerConfig: string | undefined;
}

/**
 * Reads the config at `path` (relative paths inside it are relative to its
 * folder). A missing file at the default place means defaults; a missing
 * file that was named, or a bad one, throws AgentConfigError.
 */
export async function loadAgentConfig(
  path: string | undefined,
  o: { cwd: string; home?: string | undefined },
): Promise<AgentConfig> {
  const given = path !== undefined;
  const file = expandPath(path ?? DEFAULT_AGENT_CONFIG, o.cwd, o.home);
  let text: string | undefined;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (given || code !== "ENOENT") throw new AgentConfigError(file, `cannot read it (${code})`);
  }
  let raw: unknown = {};
  if (text !== undefined) {
    try {
      raw = parse(text) ?? {};
    } catch (e) {
      throw new AgentConfigError(file, `not YAML or JSON: ${(e as Error).message}`);
    }
  }
  const r = Schema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new AgentConfigError(file, `${i.path.join(".") || "(top)"}: ${i.message}`);
  }
  const c = r.data;
  const dir = text !== undefined ? dirname(file) : o.cwd;
  const abs = (p: string) => expandPath(p, dir, o.home);
  return {
    path: text !== undefined ? file : undefined,
    allowFlash: c.allow_flash === true,
    firmware: abs(c.firmware ?? DEFAULT_FIRMWARE),
    boards: Object.fromEntries(Object.entries(c.boards ?? {}).map(([k, v]) => [k, abs(v)])),
    interface: c.interface,
    klipperService: c.klipper_service ?? "klipper",
    jobs: c.jobs ?? 1,
    printerConfig: c.printer_config !== undefined ? abs(c.printer_config) : undefined,
  };
}
