// Errors every driver may raise, which the executor, the orchestration and
// the CLI understand without knowing the protocol. A new driver reuses these
// (no new codes, so no new hints) wherever they fit.

import { CanflashError } from "../util/errors.js";

declare module "../util/errors.js" {
  interface ErrorCodes {
    DRY_RUN_STOP: true;
    LINK_NOT_SUPPORTED: true;
    NO_ENTRY: true;
    REQUEST_IMPOSSIBLE: true;
    SERIAL_MODE_NOT_SUPPORTED: true;
    LINE_SEQUENCE_NOT_SUPPORTED: true;
    LINE_SEQUENCE_REFUSED: true;
  }
}

/**
 * A dry run stopped where a real run would change the device first (ask it
 * into its bootloader, touch its port): nothing was changed. The
 * orchestration turns it into a dry-run outcome; it is not a failure.
 */
export class DryRunStopError extends CanflashError {
  constructor(
    readonly board: string,
    /** What a real run would do: "request its bootloader", "do a 1200-baud touch". */
    readonly wouldDo: string,
    /** Why: "answered-as-klipper", "no-answer", "runs-application". */
    readonly reason: string = "runs-application",
  ) {
    super(
      "DRY_RUN_STOP",
      `${board} ${reason === "no-answer" ? "did not answer a query" : "runs its application"}: a real run would ${wouldDo}`,
    );
  }
}

/** The row's protocol does not go over this kind of link (a CAN UUID for an AVR target). */
export class LinkNotSupportedError extends CanflashError {
  constructor(
    readonly target: string,
    readonly protocol: string,
    readonly link: string,
    readonly links: readonly string[],
  ) {
    super(
      "LINK_NOT_SUPPORTED",
      `target ${target} (${protocol}) is not flashed over ${link}; it takes ${links.join(" or ")}`,
    );
  }
}

/**
 * The board runs its application and none of the row's entry strategies can
 * get it into the bootloader over this link: the person must (double-tap
 * reset, set the boot pins, press a button).
 */
export class NoEntryError extends CanflashError {
  constructor(
    readonly board: string,
    readonly target: string,
    /** The row's entries that need a person ("double-reset", "boot-pins", …). */
    readonly manual: readonly string[],
    /** What the board was found running. */
    readonly found: string,
  ) {
    super(
      "NO_ENTRY",
      `${board} runs ${found}, and canflash has no way to switch it into the bootloader of ${target} over this link`,
    );
  }
}

/**
 * The bootloader cannot be asked to stay: its driver has no request (an AVR
 * bootloader listens only briefly after a reset, then starts the application).
 */
export class RequestImpossibleError extends CanflashError {
  constructor(
    readonly bootloader: string,
    readonly target: string,
    /** The board: its tty or UUID. */
    readonly board: string,
    /** How long it listens after a reset before it starts the application, where it does. */
    readonly listenWindowMs: number | undefined,
  ) {
    super(
      "REQUEST_IMPOSSIBLE",
      listenWindowMs !== undefined
        ? `${bootloader} listens only about ${(listenWindowMs / 1000).toFixed(1)} s after a reset, then starts the application: there is no staying in it`
        : `${bootloader} cannot be asked into its bootloader and left there`,
    );
  }
}

/** A serial line mode the bootloader does not speak (8E1 asked of Katapult). */
export class SerialModeNotSupportedError extends CanflashError {
  constructor(
    readonly target: string,
    readonly mode: string,
    readonly modes: readonly string[],
  ) {
    super(
      "SERIAL_MODE_NOT_SUPPORTED",
      `target ${target}'s bootloader talks ${modes.join(" or ")}, not ${mode}`,
    );
  }
}

/** DTR/RTS sequences were given for a bootloader that is not entered through them. */
export class LineSequenceNotSupportedError extends CanflashError {
  constructor(
    readonly target: string,
    readonly protocol: string,
  ) {
    super(
      "LINE_SEQUENCE_NOT_SUPPORTED",
      `target ${target} (${protocol}) is not entered through DTR/RTS sequences`,
    );
  }
}

/** The port would not drive its modem lines (a pty, an adapter without them): the sequence cannot run. */
export class LineSequenceRefusedError extends CanflashError {
  constructor(
    readonly port: string,
    readonly sequence: string,
  ) {
    super(
      "LINE_SEQUENCE_REFUSED",
      `${port} refused to set DTR/RTS: the line sequence "${sequence}" cannot run there`,
    );
  }
}
