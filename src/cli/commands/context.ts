// What every command gets from the program.

import type { CliIo } from "../io.js";
import type { BoardRow, Reporter } from "../output.js";

export interface CommandContext {
  io: CliIo;
  out: Reporter & { setMulti?(multi: boolean): void };
  /** Fires on SIGINT/SIGTERM. */
  signal: AbortSignal;
  verbose: boolean;
  /** -i was typed (not the can0 default). */
  ifaceGiven?: boolean;
  /** The interface the command ended up using (a printer.cfg name can choose it), for error hints. */
  iface?: string;
  /** Set by a command once known: the command line that retries it (for error hints). */
  retry?: string;
  /** Per-board results for the final --json result object. */
  rows?: BoardRow[];
  /** --trace-file: every CAN frame / serial byte goes here. */
  trace?: (line: string) => void;
}
