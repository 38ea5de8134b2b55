// The root of canflash's error hierarchy. Every error the library throws on
// purpose is a CanflashError with a stable `code`; the CLI maps codes to hints
// and exit codes. Errors carry their facts as fields, never only in the text,
// and never name a command-line flag: wording for people lives in the CLI.
//
// Codes are a union. Each module that defines errors registers its codes by
// augmenting `ErrorCodes` next to the classes:
//
//   declare module "../util/errors.js" { interface ErrorCodes { CAN_INTERFACE_DOWN: true } }
//
// so `ErrorCode` is every code of the library, and a table keyed by it (the
// CLI's hints) that misses one does not compile.

/** The registry of error codes (augmented by each module that defines errors). */
export interface ErrorCodes {
  TIMEOUT: true;
  ABORTED: true;
}

export type ErrorCode = keyof ErrorCodes;

export class CanflashError extends Error {
  /** Stable machine-readable identifier, e.g. "CAN_INTERFACE_DOWN". */
  readonly code: ErrorCode;
  /** Where the input at fault was given, when not on the command line ("boards.yaml:12 (boards[2])"). */
  origin?: string;
  /** Refused before anything was sent to the board (set by the orchestration). */
  nothingSent?: boolean;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** An operation did not finish within its named deadline. */
export class OperationTimeoutError extends CanflashError {
  constructor(
    /** What was being waited for, e.g. "katapult CONNECT reply". */
    readonly operation: string,
    /** The deadline that expired, in milliseconds. */
    readonly timeoutMs: number,
    message?: string,
  ) {
    super("TIMEOUT", message ?? `${operation}: no answer within ${timeoutMs} ms`);
  }
}

/** The caller aborted the operation through its AbortSignal. */
export class AbortedError extends CanflashError {
  constructor(
    readonly operation: string,
    cause?: unknown,
  ) {
    super("ABORTED", `${operation}: aborted`, { cause });
  }
}

/** Throws AbortedError if `signal` has fired. */
export function throwIfAborted(signal: AbortSignal | undefined, operation: string): void {
  if (signal?.aborted) throw new AbortedError(operation, signal.reason);
}
