// DFU errors: the device's own status (dfuERROR with a bStatus), an alt
// setting or DFU interface that is not there, a memory layout the image
// does not fit, and a device that did not come back after DETACH.

import { CanflashError } from "../../util/errors.js";
import { stateName, statusText } from "./codec.js";

declare module "../../util/errors.js" {
  interface ErrorCodes {
    DFU_STATUS: true;
    DFU_NO_INTERFACE: true;
    DFU_LAYOUT: true;
    DFU_NO_REENUMERATION: true;
    DFU_STUCK: true;
  }
}

/** The device reported an error (or a state the step cannot go on from). */
export class DfuStatusError extends CanflashError {
  constructor(
    /** "DNLOAD block 7", "ERASE 0x08004000", "SET ADDRESS 0x08000000". */
    readonly operation: string,
    readonly state: number,
    readonly status: number,
    readonly device: string,
  ) {
    super(
      "DFU_STATUS",
      `${device}: ${operation}: the device reports ${statusText(status)} in ${stateName(state)}`,
    );
  }
  get stateName(): string {
    return stateName(this.state);
  }
}

/** No DFU interface, or not the alt setting asked for. */
export class DfuNoInterfaceError extends CanflashError {
  constructor(
    readonly device: string,
    /** The alt asked for (by number or name), if one was. */
    readonly wanted: string | undefined,
    /** "0: @Internal Flash  /0x08000000/…" for each DFU alt setting seen. */
    readonly alts: readonly string[],
  ) {
    super(
      "DFU_NO_INTERFACE",
      alts.length === 0
        ? `${device} has no DFU interface in DFU mode`
        : `${device} has no DFU alt setting ${wanted ?? ""} (it has ${alts.join("; ")})`,
    );
  }
}

/** The image reaches memory the DfuSe layout does not allow writing. */
export class DfuLayoutError extends CanflashError {
  constructor(
    readonly address: number,
    readonly layout: string,
    readonly reason: string,
  ) {
    super(
      "DFU_LAYOUT",
      `0x${address.toString(16)}: ${reason} in the device's memory layout "${layout}"`,
    );
  }
}

/** After DETACH (or a reset) the device did not come back in DFU mode. */
export class DfuNoReenumerationError extends CanflashError {
  constructor(
    readonly device: string,
    readonly waitedMs: number,
    /** What the backend listed instead. */
    readonly seen: readonly string[],
  ) {
    super(
      "DFU_NO_REENUMERATION",
      `${device} left for DFU mode but no DFU device appeared within ${waitedMs} ms`,
    );
  }
}

/** The device keeps saying busy with no poll timeout (dfu-util gives up the same way). */
export class DfuStuckError extends CanflashError {
  constructor(
    readonly operation: string,
    readonly polls: number,
    readonly device: string,
  ) {
    super("DFU_STUCK", `${device}: ${operation}: still busy after ${polls} status polls`);
  }
}
