// Helpers for the real-kernel suite: running can-utils and iproute2.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { promisify } from "node:util";

export const run = promisify(execFile);

export interface Candump {
  ready: Promise<void>;
  /** Frames printed so far ("123#DEADBEEF"). */
  frames(): string[];
  /** Waits until at least `n` frames were printed, or fails after `timeoutMs`. */
  waitFor(n: number, timeoutMs?: number): Promise<string[]>;
  stop(): Promise<void>;
}

/** Runs `candump -L <iface>` in the background. */
export function candump(iface: string): Candump {
  const proc: ChildProcess = spawn("candump", ["-L", iface], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  const frames = (): string[] =>
    out
      .split("\n")
      .filter((l) => l.endsWith("\n") || l.length > 0)
      .map((l) => l.split(" ")[2])
      .filter((f): f is string => !!f);
  return {
    ready: waitForSocket(proc.pid!),
    frames,
    async waitFor(n, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (frames().length < n) {
        if (Date.now() > deadline)
          throw new Error(`candump printed ${frames().length} of ${n} frames in ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 10));
      }
      return frames();
    },
    async stop() {
      proc.kill("SIGINT");
      if (proc.exitCode === null) await new Promise((r) => proc.once("exit", r));
    },
  };
}

async function waitForSocket(pid: number): Promise<void> {
  const { readdir, readlink } = await import("node:fs/promises");
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    try {
      for (const fd of await readdir(`/proc/${pid}/fd`)) {
        if ((await readlink(`/proc/${pid}/fd/${fd}`).catch(() => "")).startsWith("socket:")) return;
      }
    } catch {
      // process not started yet
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`candump (pid ${pid}) opened no socket within 5 s`);
}

/** Drop count of the root qdisc of `iface` (frames the kernel refused with ENOBUFS). */
export async function qdiscDrops(iface: string): Promise<number> {
  const { stdout } = await run("tc", ["-s", "-j", "qdisc", "show", "dev", iface]);
  const q = JSON.parse(stdout) as Array<{ drops?: number }>;
  return q.reduce((n, x) => n + (x.drops ?? 0), 0);
}
