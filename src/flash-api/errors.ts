// Errors adapters raise that the executor and the CLI understand.

import { CanflashError } from "../util/errors.js";

/**
 * A dry run stopped where a real run would change the device first (ask it
 * into its bootloader): nothing was changed; the plan needs the bootloader.
 */
export class DryRunStopError extends CanflashError {
  constructor(
    readonly board: string,
    /** What a real run would do: "request its bootloader", "do a 1200-baud touch". */
    readonly wouldDo: string,
  ) {
    super(
      "DRY_RUN_STOP",
      `${board} runs its application: a real run would ${wouldDo}; the plan needs the bootloader's answer`,
    );
  }
}
