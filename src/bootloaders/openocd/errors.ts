// Errors of the OpenOCD (SWD/JTAG) driver. OpenOCD reports everything as
// text; classify.ts turns the text of its replies and its stderr into these,
// each with the facts a hint needs (src/cli/hints/openocd.ts words the
// seed's advice: wiring, power, hold reset, the cold-plug sequence).

import { CanflashError } from "../../util/errors.js";

declare module "../../util/errors.js" {
  interface ErrorCodes {
    OPENOCD_COMMAND_FAILED: true;
    OPENOCD_NOT_INSTALLED: true;
    OPENOCD_EXITED: true;
    OPENOCD_UNREACHABLE: true;
    OPENOCD_PROTOCOL: true;
    OPENOCD_NO_TARGET: true;
    OPENOCD_WRONG_IDCODE: true;
    OPENOCD_ADAPTER_NOT_FOUND: true;
    OPENOCD_VERIFY_FAILED: true;
    OPENOCD_FLASH_LOCKED: true;
    OPENOCD_CONFIG_NOT_FOUND: true;
    OPENOCD_SETUP: true;
  }
}

/** A command OpenOCD ran and reported failed, with what it printed. */
export class OpenOcdCommandError extends CanflashError {
  constructor(
    readonly command: string,
    readonly output: string,
    readonly tclCode: number,
  ) {
    super(
      "OPENOCD_COMMAND_FAILED",
      `OpenOCD command failed: ${command}${output ? `: ${lastLines(output)}` : ""}`,
    );
  }
}

/** The openocd program could not be started (not installed, not executable). */
export class OpenOcdNotInstalledError extends CanflashError {
  constructor(
    readonly binary: string,
    readonly detail: string,
  ) {
    super("OPENOCD_NOT_INSTALLED", `cannot run ${binary}: ${detail}`);
  }
}

/** The openocd canflash started ended before its RPC port answered, for no reason canflash recognised. */
export class OpenOcdExitedError extends CanflashError {
  constructor(
    readonly exitCode: number | null,
    readonly signal: string | null,
    /** The last lines openocd wrote to stderr. */
    readonly stderr: string,
    readonly config: string,
  ) {
    super(
      "OPENOCD_EXITED",
      `openocd exited (${signal ?? `code ${exitCode}`}) before it was ready${stderr ? `: ${lastLines(stderr)}` : ""}`,
    );
  }
}

/** Nothing answered on the RPC port (a running OpenOCD was named, or a started one never opened it). */
export class OpenOcdUnreachableError extends CanflashError {
  constructor(
    readonly host: string,
    readonly port: number,
    readonly detail: string,
    /** canflash started this openocd (false: it was given as already running). */
    readonly started: boolean,
  ) {
    super("OPENOCD_UNREACHABLE", `no OpenOCD RPC server at ${host}:${port}: ${detail}`);
  }
}

/** The RPC peer answered something that is no reply to canflash's wrapper (not OpenOCD's TCL server?). */
export class OpenOcdProtocolError extends CanflashError {
  constructor(
    readonly command: string,
    readonly reply: string,
  ) {
    super(
      "OPENOCD_PROTOCOL",
      `unexpected reply from OpenOCD to ${command}: ${reply.slice(0, 200)}`,
    );
  }
}

/** OpenOCD runs but reaches no chip: nothing on the SWD/JTAG wires, or the target was never examined. */
export class OpenOcdNoTargetError extends CanflashError {
  constructor(
    /** What OpenOCD said ("Target not examined", "Error connecting DP", "all ones"). */
    readonly detail: string,
    readonly transport: string | undefined,
  ) {
    super("OPENOCD_NO_TARGET", `OpenOCD reaches no target: ${detail}`);
  }
}

/** A TAP answered with another IDCODE than the configuration expects (another chip, or a bad wire). */
export class OpenOcdWrongIdcodeError extends CanflashError {
  constructor(
    readonly tap: string,
    /** "0x4ba00477". */
    readonly found: string,
    readonly expected: readonly string[],
  ) {
    super(
      "OPENOCD_WRONG_IDCODE",
      `JTAG tap ${tap} answered IDCODE ${found}, expected ${expected.join(" or ")}`,
    );
  }
}

/** The debug adapter (GPIO, a probe) could not be opened. */
export class OpenOcdAdapterNotFoundError extends CanflashError {
  constructor(
    /** The adapter driver, when known ("bcm2835gpio", "cmsis-dap"). */
    readonly adapter: string | undefined,
    readonly detail: string,
  ) {
    super(
      "OPENOCD_ADAPTER_NOT_FOUND",
      `OpenOCD cannot open the debug adapter${adapter ? ` (${adapter})` : ""}: ${detail}`,
    );
  }
}

/** The flash did not read back as the image: the chip is left halted, not reset into it. */
export class OpenOcdVerifyError extends CanflashError {
  constructor(
    readonly file: string,
    readonly address: number,
    readonly detail: string,
  ) {
    super(
      "OPENOCD_VERIFY_FAILED",
      `verify failed at 0x${address.toString(16).padStart(8, "0")}: ${detail}`,
    );
  }
}

/** The flash is write-protected or the chip is locked (security bit, read-out protection, BOOTPROT). */
export class OpenOcdFlashLockedError extends CanflashError {
  constructor(readonly detail: string) {
    super("OPENOCD_FLASH_LOCKED", `the flash is protected or the chip locked: ${detail}`);
  }
}

/** A config or target script OpenOCD was told to load does not exist. */
export class OpenOcdConfigNotFoundError extends CanflashError {
  constructor(readonly config: string) {
    super("OPENOCD_CONFIG_NOT_FOUND", `OpenOCD cannot find ${config}`);
  }
}

/** What canflash needs to write a config is missing or contradicts itself (pins, chip, address). */
export class OpenOcdSetupError extends CanflashError {
  constructor(
    readonly problem:
      | "pins-missing"
      | "config-and-pins"
      | "no-chip"
      | "unknown-chip"
      | "bin-needs-address"
      | "pi-unknown"
      | "bad-pin"
      | "bad-rpc"
      | "no-boot-protect",
    readonly detail: string,
  ) {
    super("OPENOCD_SETUP", detail);
  }
}

/** The last few non-empty lines of OpenOCD's text, for one-line messages. */
export function lastLines(text: string, n = 2): string {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-n)
    .join(" / ");
}
