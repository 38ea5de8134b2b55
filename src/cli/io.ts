// Where the CLI writes. Real runs use the process streams; tests pass
// capturing writers. Only cli/ prints.

import type { DetectOptions } from "../flasher/guard.js";

export interface CliStream {
  write(text: string): void;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export interface CliIo {
  stdout: CliStream;
  stderr: CliStream;
  env: Record<string, string | undefined>;
  cwd: string;
  /** Where the host's Klipper is looked for (tests point it at fakes). */
  host?: {
    home?: string;
    klipper?: DetectOptions;
  };
}

export function processIo(): CliIo {
  return {
    stdout: {
      write: (t) => void process.stdout.write(t),
      get isTTY() {
        return process.stdout.isTTY === true;
      },
      get columns() {
        return process.stdout.columns;
      },
    },
    stderr: { write: (t) => void process.stderr.write(t), isTTY: process.stderr.isTTY === true },
    env: process.env,
    cwd: process.cwd(),
  };
}
