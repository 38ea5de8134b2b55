// The root of canflash's error hierarchy. Every error the library throws on
// purpose is a CanflashError with a stable `code`; the CLI maps codes to hints
// and exit codes. Errors carry their facts as fields, never only in the text.

export class CanflashError extends Error {
  /** Stable machine-readable identifier, e.g. "CAN_INTERFACE_DOWN". */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
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
