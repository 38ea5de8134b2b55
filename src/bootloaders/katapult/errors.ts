// Typed errors of Katapult sessions and flashing. Facts as fields; the CLI
// turns codes into hints ("double-tap reset", "run the same command again").

import { CanflashError } from "../../util/errors.js";
import { COMMAND_NAMES } from "./codec.js";

declare module "../../util/errors.js" {
  interface ErrorCodes {
    KATAPULT_BLOCK_SIZE: true;
    KATAPULT_COMMAND_ERROR: true;
    KATAPULT_NO_RESPONSE: true;
    KATAPULT_PROTOCOL: true;
    KATAPULT_WEDGED: true;
    UUID_MISMATCH: true;
  }
}

const hexAddr = (a: number) => `0x${a.toString(16).padStart(8, "0")}`;
const commandName = (c: number) => COMMAND_NAMES[c] ?? `0x${c.toString(16)}`;

/** No reply to a command after every try. */
export class KatapultNoResponseError extends CanflashError {
  constructor(
    readonly command: number,
    readonly timeoutMs: number,
    readonly tries: number,
    readonly link: string,
    /** A CAN node's stream, or a tty. */
    readonly over: "can" | "serial" = "can",
  ) {
    super(
      "KATAPULT_NO_RESPONSE",
      `no reply to ${commandName(command)} on ${link} (${tries} tries, ${timeoutMs} ms each)`,
    );
  }
}

/**
 * The device NACKed a frame and then answered nothing: Katapult's parser is
 * wedged on the bad frame and ignores input until the MCU is reset.
 */
export class KatapultWedgedError extends CanflashError {
  constructor(
    readonly command: number,
    readonly link: string,
  ) {
    super(
      "KATAPULT_WEDGED",
      `the bootloader on ${link} rejected a frame (NACK) and has not answered since (${commandName(command)}): it needs a reset`,
    );
  }
}

/** The device answered COMMAND_ERROR (unknown command, bad arguments, address or flash failure). */
export class KatapultCommandError extends CanflashError {
  constructor(
    readonly command: number,
    readonly address?: number,
  ) {
    super(
      "KATAPULT_COMMAND_ERROR",
      `the bootloader refused ${commandName(command)}` +
        (address !== undefined ? ` at ${hexAddr(address)}` : ""),
    );
  }
}

/** A reply that does not fit the protocol (too short, wrong content). */
export class KatapultProtocolError extends CanflashError {
  constructor(message: string) {
    super("KATAPULT_PROTOCOL", message);
  }
}

/** GET_CANBUS_ID returned another UUID than the one being flashed (node id collision). */
export class UuidMismatchError extends CanflashError {
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super("UUID_MISMATCH", `the node that answered is ${actual}, not ${expected}`);
  }
}

/** The bootloader reports a block size the 128-byte frame limit cannot carry, or one that is not sane. */
export class UnsupportedBlockSizeError extends CanflashError {
  constructor(readonly blockSize: number) {
    super(
      "KATAPULT_BLOCK_SIZE",
      `the bootloader's block size ${blockSize} cannot be sent in Katapult's 128-byte frames`,
    );
  }
}

export { hexAddr };
