// Process exit codes (documented in the README). Scripts can tell "nothing
// answered" and "verify mismatch" apart from other failures.

export const ExitCode = {
  OK: 0,
  /** A device, protocol or I/O failure. */
  FAILURE: 1,
  /** Bad command line or bad input (UUID, file, manifest); nothing was sent. */
  USAGE: 2,
  /** No node answered (query found nothing, or the target UUID never answered). */
  NO_NODE: 3,
  /** The written data did not read back identical; the board stays in its bootloader. */
  VERIFY_MISMATCH: 4,
  /** The CAN interface or serial port is unusable (missing, down, permission, addon). */
  INTERFACE: 5,
  /** A pre-flight check refused the image (wrong MCU, bitrate, offset, size); nothing was written. */
  REFUSED: 6,
  /** Klipper is running and holds a board to flash (or is printing); nothing was sent. */
  BUSY: 7,
  /** Another canflash is flashing the same board; nothing was sent. */
  LOCKED: 8,
  /** canflash outdated: boards need flashing (0: nothing to do). */
  NEEDS_FLASH: 10,
  /** Interrupted (Ctrl-C). */
  INTERRUPTED: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];
