// What OpenOCD reaches, read over RPC and parsed from its tables: the
// transport, the JTAG chain (`scan_chain`, JTAG only: each TAP's IDCODE
// against the one the config expects), over SWD the DPIDR (`<dap> dpreg 0`:
// shown, not checked — openocd 0.12 has no expected value for it, and
// clones of a chip answer others), the targets (`targets`, and `was_examined`: a
// target OpenOCD could not examine does not answer) and the flash banks. A wrong IDCODE and a chain
// or target that answers nothing become typed errors.

import { OpenOcdNoTargetError, OpenOcdWrongIdcodeError } from "./errors.js";
import type { OpenOcdRpc } from "./rpc-client.js";
import { tclWord } from "./rpc-codec.js";

export interface ChainTap {
  name: string;
  enabled: boolean;
  idcode: number;
  expected: number;
  irLength: number;
}

export interface TargetRow {
  name: string;
  type: string;
  state: string;
  /** `<target> was_examined` (openocd 0.12); absent where the command is not there. */
  examined?: boolean;
}

export interface FlashBank {
  index: number;
  name: string;
  driver: string;
  base: number;
  size: number;
}

/** `scan_chain`'s table: " 0 chip.cpu   Y  0x4ba00477 0x4ba00477  4 0x01 0x0f". */
export function parseScanChain(text: string): ChainTap[] {
  const out: ChainTap[] = [];
  for (const m of text.matchAll(
    /^\s*\d+\s+(\S+)\s+([YN])\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(\d+)/gim,
  ))
    out.push({
      name: m[1]!,
      enabled: m[2] === "Y",
      idcode: Number.parseInt(m[3]!, 16),
      expected: Number.parseInt(m[4]!, 16),
      irLength: Number(m[5]),
    });
  return out;
}

/** `targets`' table: "0* at91samd.cpu  cortex_m  little at91samd.cpu  halted". */
export function parseTargets(text: string): TargetRow[] {
  const out: TargetRow[] = [];
  for (const m of text.matchAll(/^\s*\d+\*?\s+(\S+)\s+(\S+)\s+\S+\s+\S+\s+(\S+)\s*$/gm))
    out.push({ name: m[1]!, type: m[2]!, state: m[3]! });
  return out;
}

/** `flash banks`: "#0 : at91samd.flash (at91samd) at 0x00000000, size 0x00040000, …". */
export function parseFlashBanks(text: string): FlashBank[] {
  const out: FlashBank[] = [];
  for (const m of text.matchAll(
    /^#(\d+)\s*:\s*(\S+)\s+\((\S+)\)\s+at\s+(0x[0-9a-f]+),\s*size\s+(0x[0-9a-f]+)/gim,
  ))
    out.push({
      index: Number(m[1]),
      name: m[2]!,
      driver: m[3]!,
      base: Number.parseInt(m[4]!, 16),
      size: Number.parseInt(m[5]!, 16),
    });
  return out;
}

const hex = (n: number): string => `0x${n.toString(16).padStart(8, "0")}`;

/** Throws for a JTAG chain that reads nothing, or a TAP whose IDCODE is not the one the config expects. */
export function checkChain(taps: readonly ChainTap[], transport: string): void {
  if (transport !== "jtag") return;
  if (taps.length > 0 && taps.every((t) => t.idcode === 0 || t.idcode === 0xffffffff))
    throw new OpenOcdNoTargetError(
      `the JTAG chain reads all ${taps[0]!.idcode === 0 ? "zeroes" : "ones"}: no chip answers`,
      transport,
    );
  for (const t of taps)
    if (t.enabled && t.expected !== 0 && t.idcode !== t.expected)
      throw new OpenOcdWrongIdcodeError(t.name, hex(t.idcode), [hex(t.expected)]);
}

export interface Examined {
  version: string;
  transport: string;
  taps: ChainTap[];
  targets: TargetRow[];
  /** Over SWD: the debug port's DPIDR (`<dap> dpreg 0`), as found; openocd 0.12 compares it with nothing. */
  dpidr?: number;
}

/** The first DAP's DPIDR over SWD, or undefined (no DAP, no answer). */
async function readDpidr(rpc: OpenOcdRpc, signal?: AbortSignal): Promise<number | undefined> {
  const dap = (await rpc.run("dap names", { signal }).catch(() => "")).split(/\s+/)[0];
  if (!dap) return undefined;
  const v = Number((await rpc.run(`${tclWord(dap)} dpreg 0`, { signal }).catch(() => "")).trim());
  return Number.isInteger(v) && v !== 0 ? v >>> 0 : undefined;
}

/** Reads what OpenOCD reaches; throws for a wrong IDCODE or a chain of nothing. */
export async function examine(rpc: OpenOcdRpc, signal?: AbortSignal): Promise<Examined> {
  const version = await rpc.run("version", { signal });
  const transport = (await rpc.run("transport select", { signal })).trim();
  // scan_chain is a JTAG command: over SWD openocd 0.12 answers `invalid command name "scan_chain"`.
  const taps = transport === "jtag" ? parseScanChain(await rpc.run("scan_chain", { signal })) : [];
  checkChain(taps, transport);
  const targets = parseTargets(await rpc.run("targets", { signal }));
  for (const t of targets) {
    const r = await rpc.run(`${tclWord(t.name)} was_examined`, { signal }).catch(() => undefined);
    if (r === "0" || r === "1") t.examined = r === "1";
  }
  const dpidr = transport === "swd" ? await readDpidr(rpc, signal) : undefined;
  return { version, transport, taps, targets, ...(dpidr !== undefined ? { dpidr } : {}) };
}

/** The target flashing needs: one that OpenOCD created and examined. */
export function requireTarget(e: Examined): TargetRow {
  const t = e.targets[0];
  if (!t) throw new OpenOcdNoTargetError("the OpenOCD config creates no target", e.transport);
  if (t.examined === false || (t.examined === undefined && t.state === "unknown"))
    throw new OpenOcdNoTargetError(`Target not examined: ${t.name} did not answer`, e.transport);
  return t;
}
