// The table's own error: a row or section that breaks the schema or a
// cross-check (tests and the build hit it; a user only with a bad table).

import { CanflashError } from "../util/errors.js";

declare module "../util/errors.js" {
  interface ErrorCodes {
    TARGET_TABLE: true;
  }
}

export class TargetTableError extends CanflashError {
  constructor(
    /** The row (or section) at fault. */
    readonly where: string,
    readonly problem: string,
  ) {
    super("TARGET_TABLE", `target table: ${where}: ${problem}`);
  }
}
