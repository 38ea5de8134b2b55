// Running canflash as a user would (the built binary in a child process),
// and in-process (run()) where a test must watch the bus.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { run } from "../../src/cli/program.js";
import type { CliIo } from "../../src/cli/io.js";

export const BIN = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Spawns dist/cli/main.js (built by `npm test`'s pretest). */
export function canflash(
  args: string[],
  options: { cwd?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: options.cwd,
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
