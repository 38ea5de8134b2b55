// Bad command lines and bad input, found before anything touches a bus.

import { CanflashError } from "../util/errors.js";

declare module "../util/errors.js" {
  interface ErrorCodes {
    USAGE: true;
  }
}

export class UsageError extends CanflashError {
  constructor(
    message: string,
    /** What to do instead, shown as the hint. */
    readonly fix?: string,
  ) {
    super("USAGE", message);
  }
}
