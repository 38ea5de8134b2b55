// Typed errors of the slcan backend. Each names the interface and carries
// the facts (the command, the adapter's status flags) a hint words.

import { CanflashError } from "../../util/errors.js";

declare module "../../util/errors.js" {
  interface ErrorCodes {
    SLCAN_BAD_INTERFACE: true;
    SLCAN_NO_ANSWER: true;
    SLCAN_REFUSED: true;
    SLCAN_ADAPTER_SILENT: true;
    SLCAN_FRAME_LOST: true;
    SLCAN_RX_OVERRUN: true;
  }
}

/** The slcan interface name does not parse ("slcan:<port>[@<tty baud>][,bitrate=<bit/s>|,btr=<xxyy>]"). */
export class SlcanInterfaceError extends CanflashError {
  constructor(
    readonly iface: string,
    readonly problem: string,
  ) {
    super("SLCAN_BAD_INTERFACE", `${iface}: ${problem}`);
  }
}

/** Nothing on the port answered the version command: no slcan adapter, or another tty baud. */
export class SlcanNoAnswerError extends CanflashError {
  constructor(
    readonly iface: string,
    readonly path: string,
    readonly ttyBaud: number,
    readonly timeoutMs: number,
  ) {
    super(
      "SLCAN_NO_ANSWER",
      `${path} did not answer the slcan version command within ${timeoutMs} ms at ${ttyBaud} baud`,
    );
  }
}

/** The adapter answered a setup command (bitrate, open) with BEL. */
export class SlcanRefusedError extends CanflashError {
  constructor(
    readonly iface: string,
    /** The command as sent, without its CR: "S8", "O". */
    readonly command: string,
    /** What it was for: "set the bitrate to 1000000 bit/s". */
    readonly purpose: string,
  ) {
    super("SLCAN_REFUSED", `the slcan adapter on ${iface} refused "${command}" (${purpose})`);
  }
}

/** The adapter stopped answering commands (unplugged, reset, hung). */
export class SlcanAdapterSilentError extends CanflashError {
  constructor(
    readonly iface: string,
    readonly command: string,
    readonly timeoutMs: number,
  ) {
    super(
      "SLCAN_ADAPTER_SILENT",
      `the slcan adapter on ${iface} did not answer "${command}" within ${timeoutMs} ms`,
    );
  }
}

/**
 * The adapter refused a frame (queue full) after it had accepted a later
 * one: resending it now would reorder the stream, so it is reported lost.
 */
export class SlcanFrameLostError extends CanflashError {
  constructor(
    readonly iface: string,
    readonly frameText: string,
    /** The adapter's status flags when it refused ("tx-fifo-full", "bus-error"), where known. */
    readonly flags: readonly string[],
  ) {
    super(
      "SLCAN_FRAME_LOST",
      `the slcan adapter on ${iface} dropped frame ${frameText} (its transmit queue was full${flags.length ? `; flags ${flags.join(", ")}` : ""}) after sending a later one`,
    );
  }
}

/** The adapter reported received frames lost (data overrun / receive FIFO full). */
export class SlcanRxOverrunError extends CanflashError {
  constructor(
    readonly iface: string,
    readonly flags: readonly string[],
  ) {
    super(
      "SLCAN_RX_OVERRUN",
      `the slcan adapter on ${iface} lost received frames (${flags.join(", ")}): its serial link is slower than the bus traffic`,
    );
  }
}
