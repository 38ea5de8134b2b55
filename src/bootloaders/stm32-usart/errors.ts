// Typed errors of the STM32 ROM USART bootloader, with the facts a hint
// needs (the CLI words what to do). Many-field errors take one object.

import { CanflashError } from "../../util/errors.js";
import { cmdName } from "./codec.js";
import { formatPid } from "./parts.js";

declare module "../../util/errors.js" {
  interface ErrorCodes {
    STM32_NO_ANSWER: true;
    STM32_PROTOCOL: true;
    STM32_NACK: true;
    STM32_READOUT_PROTECTED: true;
    STM32_WRITE_PROTECTED: true;
    STM32_UNKNOWN_PART: true;
    STM32_WRONG_PART: true;
    STM32_UART_NO_PARITY: true;
    STM32_LINKED_FOR_OFFSET: true;
    STM32_NO_BOOTLOADER_BELOW: true;
    STM32_ERASE_UNSUPPORTED: true;
  }
}

const hex = (a: number) => `0x${a.toString(16).padStart(8, "0")}`;

export interface Stm32NoAnswer {
  port: string;
  baud: number;
  /** "8e1", "8n1". */
  mode: string;
  /** How long canflash sent the sync byte and listened. */
  waitedMs: number;
  attempts: number;
  /** A person was asked to set BOOT0 and reset (false: a dry run or a probe did not ask). */
  prompted: boolean;
  /** Bytes that came back instead of ACK/NACK, described. */
  got?: string | undefined;
}

/** Nothing answered the 0x7F sync byte with ACK or NACK before the deadline. */
export class Stm32NoAnswerError extends CanflashError implements Stm32NoAnswer {
  readonly port: string;
  readonly baud: number;
  readonly mode: string;
  readonly waitedMs: number;
  readonly attempts: number;
  readonly prompted: boolean;
  readonly got: string | undefined;

  constructor(f: Stm32NoAnswer) {
    super(
      "STM32_NO_ANSWER",
      `no STM32 ROM bootloader answered the sync byte on ${f.port} (${f.baud} baud, ${f.mode}) ` +
        `in ${(f.waitedMs / 1000).toFixed(1)} s (${f.attempts} attempts)` +
        (f.got ? `; got ${f.got}` : ""),
    );
    this.port = f.port;
    this.baud = f.baud;
    this.mode = f.mode;
    this.waitedMs = f.waitedMs;
    this.attempts = f.attempts;
    this.prompted = f.prompted;
    this.got = f.got;
  }
}

/** The ROM's answer made no sense at this step (a byte other than ACK/NACK, a reply cut short). */
export class Stm32ProtocolError extends CanflashError {
  constructor(
    readonly command: number,
    readonly step: string,
    readonly got: string,
  ) {
    super("STM32_PROTOCOL", `${cmdName(command)}, ${step}: ${got}`);
  }
}

/**
 * The ROM refused a step (NACK): a bad checksum, an address it does not
 * accept, a protected page, or a command it does not have.
 */
export class Stm32NackError extends CanflashError {
  constructor(
    readonly command: number,
    /** "command", "address", "length", "data", "pages". */
    readonly step: string,
    readonly address?: number,
  ) {
    super(
      "STM32_NACK",
      `the ROM bootloader refused ${cmdName(command)} at its ${step} step` +
        (address !== undefined ? ` (address ${hex(address)})` : "") +
        " with NACK",
    );
  }
}

/** Readout protection is on: the ROM answers only GET, GET_VERSION and GET_ID. Nothing was written. */
export class Stm32ReadoutProtectedError extends CanflashError {
  constructor(
    readonly port: string,
    readonly pid: number,
    readonly part: string,
  ) {
    super(
      "STM32_READOUT_PROTECTED",
      `the ${part} (${formatPid(pid)}) on ${port} has readout protection on: its ROM bootloader refuses to read, write or erase flash; nothing was written`,
    );
  }
}

/** The option bytes write-protect flash the image needs. Nothing was written. */
export class Stm32WriteProtectedError extends CanflashError {
  constructor(
    readonly port: string,
    /** [start, end) of the protected ranges the image touches. */
    readonly ranges: ReadonlyArray<readonly [number, number]>,
  ) {
    super(
      "STM32_WRITE_PROTECTED",
      `flash the image needs is write-protected by the option bytes (${ranges
        .map(([s, e]) => `${hex(s)}..${hex(e)}`)
        .join(", ")}); nothing was written`,
    );
  }
}

/** GET_ID answered a product id canflash has no layout for. */
export class Stm32UnknownPartError extends CanflashError {
  constructor(
    readonly pid: number,
    readonly target: string,
  ) {
    super(
      "STM32_UNKNOWN_PART",
      `the ROM bootloader reports product id ${formatPid(pid)}, which canflash does not know (target ${target}); nothing was written`,
    );
  }
}

export interface Stm32WrongPart {
  port: string;
  pid: number;
  part: string;
  target: string;
  /** The row's chip. */
  expectedChip: string;
  /** Rows of this protocol whose chip the id can be. */
  suggestedTargets: readonly string[];
}

/** The ROM answered as another part than the target row's chip. Nothing was written. */
export class Stm32WrongPartError extends CanflashError implements Stm32WrongPart {
  readonly port: string;
  readonly pid: number;
  readonly part: string;
  readonly target: string;
  readonly expectedChip: string;
  readonly suggestedTargets: readonly string[];

  constructor(f: Stm32WrongPart) {
    super(
      "STM32_WRONG_PART",
      `the ROM bootloader on ${f.port} reports ${f.part} (${formatPid(f.pid)}), not target ${f.target}'s ${f.expectedChip}; nothing was written`,
    );
    this.port = f.port;
    this.pid = f.pid;
    this.part = f.part;
    this.target = f.target;
    this.expectedChip = f.expectedChip;
    this.suggestedTargets = f.suggestedTargets;
  }
}

/** The port is a UART that cannot send even parity (the Raspberry Pi's mini UART). Nothing was opened. */
export class Stm32UartNoParityError extends CanflashError {
  constructor(
    readonly port: string,
    /** The tty behind it ("ttyS0"). */
    readonly tty: string,
    /** The kernel driver or device-tree name that gave it away. */
    readonly driver: string,
  ) {
    super(
      "STM32_UART_NO_PARITY",
      `${port} is the Raspberry Pi's mini UART (${tty}, ${driver}), which cannot do the even parity (8E1) the STM32 ROM bootloader needs`,
    );
  }
}

export interface Stm32LinkedForOffset {
  /** Where the image goes (the flash start). */
  placedAt: number;
  imageEnd: number;
  /** The vector outside the image that gave it away. */
  vector: number;
  /** The bootloader offset the vectors fit, when one of the usual ones does. */
  offset: number | undefined;
}

/**
 * A .bin written at the flash start whose vector table points past its own
 * end: it is linked for a bootloader offset and would not start without
 * that bootloader below it. Nothing was written.
 */
export class Stm32LinkedForOffsetError extends CanflashError implements Stm32LinkedForOffset {
  readonly placedAt: number;
  readonly imageEnd: number;
  readonly vector: number;
  readonly offset: number | undefined;

  constructor(f: Stm32LinkedForOffset) {
    super(
      "STM32_LINKED_FOR_OFFSET",
      `the image is linked for a bootloader ${f.offset !== undefined ? `at offset 0x${f.offset.toString(16)}` : "offset"}: ` +
        `written at ${hex(f.placedAt)}, its vector ${hex(f.vector)} points past its end (${hex(f.imageEnd)}); ` +
        "it would not start; nothing was written",
    );
    this.placedAt = f.placedAt;
    this.imageEnd = f.imageEnd;
    this.vector = f.vector;
    this.offset = f.offset;
  }
}

/**
 * An image that starts above the flash start (its addresses say so), with
 * no bootloader below it on the chip to start it. Nothing was written.
 */
export class Stm32NoBootloaderBelowError extends CanflashError {
  constructor(
    readonly imageStart: number,
    readonly flashStart: number,
    /** What the flash start holds: "erased", "an application", "no vector table". */
    readonly found: "erased" | "an application" | "no vector table",
  ) {
    super(
      "STM32_NO_BOOTLOADER_BELOW",
      `the image starts at ${hex(imageStart)} (offset 0x${(imageStart - flashStart).toString(16)}), but the flash below it holds ${found === "erased" ? "nothing (erased)" : found === "an application" ? "an application, not a bootloader" : "no vector table"}: ` +
        "nothing would start it; nothing was written",
    );
  }
}

/** The ROM offers no erase this image can use (no ERASE/EXTENDED_ERASE, or pages ERASE cannot number). */
export class Stm32EraseUnsupportedError extends CanflashError {
  constructor(
    readonly commands: readonly number[],
    readonly reason: string,
  ) {
    super("STM32_ERASE_UNSUPPORTED", `the ROM bootloader cannot erase this image: ${reason}`);
  }
}
