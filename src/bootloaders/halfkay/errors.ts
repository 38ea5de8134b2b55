// HalfKay's typed errors: a block HalfKay would not take within its
// allowance, the board leaving mid-write, and a board that stays in HalfKay
// after the boot report.

import { CanflashError } from "../../util/errors.js";

declare module "../../util/errors.js" {
  interface ErrorCodes {
    HALFKAY_WRITE_FAILED: true;
    HALFKAY_GONE: true;
    HALFKAY_DID_NOT_BOOT: true;
  }
}

const hex = (a: number) => `0x${a.toString(16)}`;

/** A write report was not accepted within its allowance (retried every few ms, as teensy_loader_cli does). */
export class HalfKayWriteError extends CanflashError {
  constructor(
    readonly address: number,
    readonly attempts: number,
    readonly allowanceMs: number,
    /** Blocks HalfKay took before this one. */
    readonly blocksWritten: number,
    cause: unknown,
  ) {
    super(
      "HALFKAY_WRITE_FAILED",
      `HalfKay did not take the block at ${hex(address)} within ${allowanceMs} ms (${attempts} attempts): ${(cause as Error)?.message ?? String(cause)}`,
      { cause },
    );
  }
}

/** The device left the bus in the middle of the write (unplugged, reset). */
export class HalfKayGoneError extends CanflashError {
  constructor(
    readonly address: number,
    readonly blocksWritten: number,
  ) {
    super(
      "HALFKAY_GONE",
      blocksWritten === 0
        ? `the Teensy left HalfKay before the first block (at ${hex(address)}) was taken`
        : `the Teensy left HalfKay while writing the block at ${hex(address)}, after ${blocksWritten} blocks: its flash holds a partial image`,
    );
  }
}

/** After the boot report the device was still HalfKay at the deadline. */
export class HalfKayDidNotBootError extends CanflashError {
  constructor(
    readonly device: string,
    readonly waitedMs: number,
  ) {
    super(
      "HALFKAY_DID_NOT_BOOT",
      `${device} was still in HalfKay ${waitedMs} ms after the boot request: the new program did not start`,
    );
  }
}
