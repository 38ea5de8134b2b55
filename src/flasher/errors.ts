// Errors of the flash executor: a failed flash names its phase and what state
// it left the device in, and carries the protocol error as its cause.

import { CanflashError } from "../util/errors.js";
import type { FlashPhase } from "../flash-api/progress.js";

declare module "../util/errors.js" {
  interface ErrorCodes {
    FLASH_FAILED: true;
    VERIFY_MISMATCH: true;
  }
}

const hex8 = (a: number) => `0x${a.toString(16).padStart(8, "0")}`;
const hex2 = (b: number) => (b < 0 ? "nothing" : `0x${b.toString(16).padStart(2, "0")}`);

/** Read-back differs from what was written. */
export class VerifyMismatchError extends CanflashError {
  constructor(
    /** First differing byte address. */
    readonly address: number,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(
      "VERIFY_MISMATCH",
      `verify failed: flash at ${hex8(address)} reads ${hex2(actual)}, expected ${hex2(expected)}`,
    );
  }
}

/** A device-side digest did not match the image. */
export class DigestMismatchError extends CanflashError {
  constructor() {
    super(
      "VERIFY_MISMATCH",
      "verify failed: the device's checksum of the written data differs from the image",
    );
  }
}

/**
 * Where a failed flash left the device:
 * - untouched: nothing was written (the board may sit in its bootloader if it was asked there);
 * - in-bootloader: writing had started; the bootloader keeps running and the partial image is
 *   NOT started; flash again to recover;
 * - unknown: failed while starting the new application.
 */
export type DeviceState = "untouched" | "in-bootloader" | "unknown";

export interface FlashFailure {
  phase: FlashPhase;
  deviceState: DeviceState;
  /** The adapter's protocol ("katapult-can", "stk500v1"). */
  protocol: string;
  cause: Error;
  /**
   * The bootloader starts whatever application is in flash by itself when
   * the host stops (the Arduino bootloaders, after about a second): after
   * a failed write the board may run a partial image until it is flashed again.
   */
  bootloaderStartsApplication?: boolean;
}

export class FlashError extends CanflashError {
  readonly phase: FlashPhase;
  readonly deviceState: DeviceState;
  readonly protocol: string;
  override readonly cause: Error;
  readonly bootloaderStartsApplication: boolean;
  /** Nothing was written, and the board was sent back to the application it ran before. */
  returnedToApplication = false;

  constructor(f: FlashFailure) {
    super("FLASH_FAILED", `${f.phase} failed: ${f.cause.message}`, { cause: f.cause });
    this.phase = f.phase;
    this.deviceState = f.deviceState;
    this.protocol = f.protocol;
    this.cause = f.cause;
    this.bootloaderStartsApplication = !!f.bootloaderStartsApplication;
  }

  /** The code of the underlying error (e.g. VERIFY_MISMATCH, KATAPULT_WEDGED). */
  get causeCode(): string {
    return (this.cause as { code?: string }).code ?? "UNKNOWN";
  }
}
