// Typed errors of the SAM-BA driver, with the facts a hint needs. Many-field
// errors take one object. Shared driver errors (NoEntryError, DryRunStopError,
// timeouts) come from flash-api/ and util/.

import { CanflashError } from "../../util/errors.js";

declare module "../../util/errors.js" {
  interface ErrorCodes {
    SAMBA_NO_ANSWER: true;
    SAMBA_WRONG_CHIP: true;
    SAMBA_UNKNOWN_CHIP: true;
    SAMBA_PROTOCOL: true;
    SAMBA_FLASH: true;
  }
}

const hex = (n: number) => `0x${(n >>> 0).toString(16)}`;

export interface SamBaNoAnswer {
  port: string;
  /** "USB CDC" or "UART at 115200 baud". */
  link: string;
  /** What came back to N# and V#, if anything. */
  got: string | undefined;
  /** The port runs something else canflash could see (its USB id and name), if known. */
  found?: string | undefined;
}

/** Nothing on the port answered V# as a SAM-BA monitor. */
export class SamBaNoAnswerError extends CanflashError implements SamBaNoAnswer {
  readonly port: string;
  readonly link: string;
  readonly got: string | undefined;
  readonly found: string | undefined;

  constructor(f: SamBaNoAnswer) {
    super(
      "SAMBA_NO_ANSWER",
      `no SAM-BA monitor answered on ${f.port} (${f.link})` +
        (f.got ? `: it sent ${f.got}` : ": nothing came back") +
        (f.found ? `; the port is ${f.found}` : ""),
    );
    this.port = f.port;
    this.link = f.link;
    this.got = f.got;
    this.found = f.found;
  }
}

export interface SamBaWrongChip {
  port: string;
  target: string;
  /** The chips the target row is for ("sam3x8e"). */
  expected: readonly string[];
  /** What the monitor's chip is ("ATSAMD21x18", and the Klipper name if exact). */
  foundChip: string;
  foundMcu: string | undefined;
  /** "DID 0x10010005". */
  id: string;
  /** Rows of the table that fit the chip that answered. */
  suggestedTargets: readonly string[];
}

/** The monitor answered, on another chip than the target row's: nothing was written. */
export class SamBaWrongChipError extends CanflashError implements SamBaWrongChip {
  readonly port: string;
  readonly target: string;
  readonly expected: readonly string[];
  readonly foundChip: string;
  readonly foundMcu: string | undefined;
  readonly id: string;
  readonly suggestedTargets: readonly string[];

  constructor(f: SamBaWrongChip) {
    super(
      "SAMBA_WRONG_CHIP",
      `the SAM-BA monitor on ${f.port} runs on ${f.foundMcu ?? f.foundChip} (${f.id}), ` +
        `not on ${f.expected.join(" / ")} as target ${f.target} says: nothing was written`,
    );
    this.port = f.port;
    this.target = f.target;
    this.expected = f.expected;
    this.foundChip = f.foundChip;
    this.foundMcu = f.foundMcu;
    this.id = f.id;
    this.suggestedTargets = f.suggestedTargets;
  }
}

/** The chip's id is in no table canflash has (an old SAM7/SAM9, or a part it does not know). */
export class SamBaUnknownChipError extends CanflashError {
  constructor(
    readonly port: string,
    /** What was read: "CPUID 0x410cc601, DID 0x10020005". */
    readonly ids: string,
  ) {
    super(
      "SAMBA_UNKNOWN_CHIP",
      `the SAM-BA monitor on ${port} runs on a chip canflash does not know (${ids})`,
    );
  }
}

/** The monitor's reply broke the protocol (short, wrong letter, XMODEM gave up). */
export class SamBaProtocolError extends CanflashError {
  constructor(
    /** The command: "w400e0a08", "S20001080 (XMODEM)". */
    readonly command: string,
    readonly problem: string,
  ) {
    super("SAMBA_PROTOCOL", `${command}: ${problem}`);
  }
}

export interface SamBaFlash {
  /** "erase", "write", "boot-from-flash". */
  operation: string;
  address: number;
  /** "locked" (a lock bit or BOOTPROT), "command" (the controller refused it), "timeout". */
  reason: "locked" | "command" | "timeout";
  /** The controller's status register, for the record. */
  status: number;
  controller: string;
}

/** The flash controller refused or did not finish an operation. */
export class SamBaFlashError extends CanflashError implements SamBaFlash {
  readonly operation: string;
  readonly address: number;
  readonly reason: "locked" | "command" | "timeout";
  readonly status: number;
  readonly controller: string;

  constructor(f: SamBaFlash) {
    super(
      "SAMBA_FLASH",
      `${f.controller} ${f.operation} at ${hex(f.address)} ` +
        (f.reason === "locked"
          ? "was refused: that flash is locked (a lock region, or the bootloader's BOOTPROT protection)"
          : f.reason === "command"
            ? "was refused by the flash controller"
            : "did not finish in time") +
        ` (status ${hex(f.status)})`,
    );
    this.operation = f.operation;
    this.address = f.address;
    this.reason = f.reason;
    this.status = f.status;
    this.controller = f.controller;
  }
}
