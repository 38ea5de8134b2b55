// Running canflash as a user would (the built binary in a child process),
// and in-process (run()) where a test must watch the bus.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { run } from "../../src/cli/program.js";
import type { CliIo } from "../../src/cli/io.js";

export const BIN = fileURLToPath(new URL("../../dist/cli/main.mjs", import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Spawns dist/cli/main.mjs (built by `npm test`'s pretest). */
export function canflash(
  args: string[],
  options: { cwd?: string; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: options.cwd,
      ...(options.env ? { env: { ...process.env, ...options.env } } : {}),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new Error(
          `canflash ${args.join(" ")} did not finish in ${options.timeoutMs ?? 60000} ms\n${stdout}\n${stderr}`,
        ),
      );
    }, options.timeoutMs ?? 60_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** run() in this process with captured output. */
export async function runInProcess(
  args: string[],
  cwd = process.cwd(),
  host?: CliIo["host"],
): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const io: CliIo = {
    stdout: { write: (t) => void (stdout += t), isTTY: false },
    stderr: { write: (t) => void (stderr += t), isTTY: false },
    env: {},
    cwd,
    ...(host ? { host } : {}),
  };
  const code = await run(args, io);
  return { code, stdout, stderr };
}

/**
 * Random bytes that start with a Cortex-M vector table linked for `appStart`
 * (initial SP in RAM, a Thumb reset handler just above it): what canflash
 * accepts as a firmware image without a Klipper dictionary.
 */
export async function appImage(
  size: number,
  seed: number,
  appStart = 0x08002000,
): Promise<Uint8Array> {
  const { randomBytes } = await import("../../src/util/random.js");
  const img = randomBytes(size, seed);
  const dv = new DataView(img.buffer, img.byteOffset, 8);
  dv.setUint32(0, 0x20008000, true);
  dv.setUint32(4, (appStart + 0x101) | 1, true);
  return img;
}
