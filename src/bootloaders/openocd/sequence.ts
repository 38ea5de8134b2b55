// The seed's OpenOCD sequences as data: backup (`flash read_bank`), the
// chip erase of the family (`at91samd chip-erase`, `stm32f1x mass_erase 0`)
// or a sector erase of what is written, the chip erase's done bit polled
// (openocd 0.12's at91samd chip-erase does not wait for it), BOOTPROT off (`at91samd bootloader
// 0`), the writes and verifies `program … verify` is made of (`reset halt`,
// `flash write_image`, `verify_image`), the bootloader's protection back on
// (`at91samd bootloader 16384` after a SAMD51 UF2 bootloader install), and
// `reset run` — only after every verify passed. Pure: the adapter runs the
// steps, a dry run prints them.

import type { EraseDone, SwdChip } from "./chips.js";
import { tclWord } from "./rpc-codec.js";

/** `reset halt`: the reset line (or SYSRESETREQ) and the core stopping. */
export const HALT_TIMEOUT_MS = 10_000;
/** A chip erase (SAMD chip-erase, STM32 mass erase: well under 1 s on the chip), and the poll for its end. */
export const CHIP_ERASE_TIMEOUT_MS = 60_000;
/** Fixed part of any transfer's deadline (flash algorithm set-up, first sectors). */
export const TRANSFER_BASE_MS = 10_000;
/** Per KiB moved: at the seed's 40 kHz SWD clock about 2 KiB/s, so 2 s leaves room. */
export const TRANSFER_MS_PER_KIB = 2000;

export const transferTimeoutMs = (bytes: number): number =>
  TRANSFER_BASE_MS + Math.ceil(bytes / 1024) * TRANSFER_MS_PER_KIB;

export type SwdStepKind =
  | "halt"
  | "backup"
  | "erase"
  | "erase-wait"
  | "unprotect"
  | "write"
  | "verify"
  | "protect"
  | "reset";

export interface SwdStep {
  kind: SwdStepKind;
  command: string;
  timeoutMs: number;
  /** For write/verify: the file and where it goes. */
  file?: string;
  address?: number;
  bytes?: number;
  /** For erase-wait: `command` reads this register, again until its bits are set or `timeoutMs` has passed. */
  until?: EraseDone;
}

/** A contiguous piece of the image, as a raw file OpenOCD reads. */
export interface SwdRun {
  address: number;
  bytes: number;
  file: string;
}

export interface SwdSequenceOptions {
  /** The chip's family facts; absent: a config of the user's for a chip canflash does not know. */
  chip?: SwdChip | undefined;
  /** Read flash bank 0 to this file first. */
  backup?: string | undefined;
  /** The whole flash's size, for the backup's deadline. */
  flashBytes?: number | undefined;
  /** Erase the whole chip (the family's chip erase) rather than only the sectors written. */
  chipErase: boolean;
  runs: readonly SwdRun[];
  /** BOOTPROT size to set once verified (bytes kept protected: a bootloader just installed). */
  bootProtectAfter?: number | undefined;
}

const hex = (n: number): string => `0x${n.toString(16).padStart(8, "0")}`;

export const writeCommand = (r: SwdRun): string =>
  `flash write_image ${tclWord(r.file)} ${hex(r.address)} bin`;
export const verifyCommand = (r: SwdRun): string =>
  `verify_image ${tclWord(r.file)} ${hex(r.address)} bin`;

/** The steps in order. */
export function swdSequence(o: SwdSequenceOptions): SwdStep[] {
  const steps: SwdStep[] = [{ kind: "halt", command: "reset halt", timeoutMs: HALT_TIMEOUT_MS }];
  if (o.backup !== undefined)
    steps.push({
      kind: "backup",
      command: `flash read_bank 0 ${tclWord(o.backup)}`,
      timeoutMs: transferTimeoutMs(o.flashBytes ?? 2 * 1024 * 1024),
      file: o.backup,
    });
  const chipErase = o.chipErase && o.chip?.chipErase;
  // The seed's order: the chip erase first (it also clears a SAMD's security bit), then BOOTPROT off.
  if (chipErase) {
    steps.push({ kind: "erase", command: chipErase, timeoutMs: CHIP_ERASE_TIMEOUT_MS });
    const done = o.chip?.eraseDone;
    if (done)
      steps.push({
        kind: "erase-wait",
        command: `read_memory ${hex(done.address)} ${done.width} 1`,
        timeoutMs: CHIP_ERASE_TIMEOUT_MS,
        until: done,
      });
  }
  if (o.chip?.bootProtect)
    steps.push({
      kind: "unprotect",
      command: o.chip.bootProtect(0),
      timeoutMs: CHIP_ERASE_TIMEOUT_MS,
    });
  // A reset loads the user row: BOOTPROT 0 (and the erased chip) take effect only then.
  if (chipErase || o.chip?.bootProtect)
    steps.push({ kind: "halt", command: "reset halt", timeoutMs: HALT_TIMEOUT_MS });
  if (!chipErase)
    for (const r of o.runs)
      steps.push({
        kind: "erase",
        command: `flash erase_address pad ${hex(r.address)} 0x${r.bytes.toString(16)}`,
        timeoutMs: transferTimeoutMs(r.bytes),
      });
  for (const r of o.runs)
    steps.push({
      kind: "write",
      command: writeCommand(r),
      timeoutMs: transferTimeoutMs(r.bytes),
      ...r,
    });
  for (const r of o.runs)
    steps.push({
      kind: "verify",
      command: verifyCommand(r),
      timeoutMs: transferTimeoutMs(r.bytes),
      ...r,
    });
  if (o.bootProtectAfter !== undefined && o.chip?.bootProtect)
    steps.push({
      kind: "protect",
      command: o.chip.bootProtect(o.bootProtectAfter),
      timeoutMs: CHIP_ERASE_TIMEOUT_MS,
    });
  steps.push({ kind: "reset", command: "reset run", timeoutMs: HALT_TIMEOUT_MS });
  return steps;
}

const NOTES: Record<SwdStepKind, string> = {
  halt: "stop the core",
  backup: "back up the whole flash first",
  unprotect: "BOOTPROT off, so the bootloader area can be written",
  erase: "erase",
  "erase-wait": "again until the chip erase is done (its status bit set)",
  write: "write",
  verify: "read back and compare (stops here on a mismatch: no reset into a bad image)",
  protect: "protect the bootloader just written",
  reset: "start the new firmware: only after every verify passed",
};

/** The sequence as an OpenOCD script, one command a line with what it is for. */
export function renderSequence(steps: readonly SwdStep[]): string {
  return steps.map((s) => `${s.command.padEnd(56)} # ${NOTES[s.kind]}`).join("\n");
}
