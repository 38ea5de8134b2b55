// Starting openocd for one flash and stopping it again: the config file
// (the user's or the one canflash wrote), the GDB and telnet servers off,
// the TCL RPC server on a free local port, and the caller's environment
// passed through (tests set LD_PRELOAD, a wrapper binary, …). Ready is
// when a command comes back over RPC — polled until a deadline, never a
// fixed sleep; an openocd that exits first is explained from its stderr.
// The child is killed on stop(), on abort and when canflash exits.

import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { delay, type Clock } from "../../util/clock.js";
import { onAbort } from "../../util/abort.js";
import { moduleLogger } from "../../util/log.js";
import { classifyOpenOcd } from "./classify.js";
import { OpenOcdExitedError, OpenOcdNotInstalledError, OpenOcdUnreachableError } from "./errors.js";
import { OpenOcdRpc, RPC_CONNECT_TIMEOUT_MS } from "./rpc-client.js";

const log = moduleLogger("openocd.process");

/** From start to the RPC server answering: adapter init and examining the chip at the seed's 40 kHz. */
export const OPENOCD_READY_TIMEOUT_MS = 20_000;
/** Between tries to connect to the RPC port while openocd starts. */
export const RPC_POLL_MS = 50;
/** How long openocd gets to exit after SIGTERM before SIGKILL. */
export const OPENOCD_STOP_TIMEOUT_MS = 3000;
/** How much of openocd's output is kept for error messages, bytes. */
const OUTPUT_KEEP = 64 * 1024;

export interface LaunchOptions {
  /** The openocd binary (default "openocd" on PATH). */
  bin: string;
  /** The config file: loaded with -f after canflash's server settings. */
  config: string;
  clock: Clock;
  signal?: AbortSignal | undefined;
  /** The child's environment (default: canflash's own). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** The RPC port (default: a free one). */
  port?: number;
  readyTimeoutMs?: number;
  /** The adapter driver, for error messages. */
  adapter?: string | undefined;
}

/** A free TCP port on localhost, from the kernel. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => (typeof a === "object" && a ? resolve(a.port) : reject(new Error("no port"))));
    });
  });
}

export class OpenOcdProcess {
  private output = "";
  /** Why the child never started, when it did not. */
  spawnError: Error | undefined;
  private exited: { code: number | null; signal: string | null } | undefined;
  private readonly exitWaiters: Array<() => void> = [];
  private readonly killOnExit = (): void => {
    this.child.kill("SIGKILL");
  };

  constructor(
    readonly child: ChildProcess,
    readonly port: number,
    private readonly clock: Clock,
  ) {
    const keep = (b: Buffer): void => {
      this.output = (this.output + b.toString("utf8")).slice(-OUTPUT_KEEP);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    const ended = (code: number | null, signal: string | null): void => {
      if (this.exited) return;
      this.exited = { code, signal };
      process.removeListener("exit", this.killOnExit);
      log.debug({ code, signal }, "openocd exited");
      for (const w of this.exitWaiters.splice(0)) w();
    };
    child.once("exit", ended);
    child.once("error", (e) => {
      this.spawnError = e; // never started (ENOENT, EACCES)
      ended(null, null);
    });
    process.once("exit", this.killOnExit);
  }

  /** What openocd printed (its last 64 KiB). */
  get text(): string {
    return this.output;
  }

  get hasExited(): boolean {
    return this.exited !== undefined;
  }

  get exit(): { code: number | null; signal: string | null } | undefined {
    return this.exited;
  }

  /** Resolves true once the child has exited, false when `ms` passed first. */
  waitExit(ms: number): Promise<boolean> {
    if (this.exited) return Promise.resolve(true);
    return new Promise((resolve) => {
      const cancel = this.clock.schedule(ms, () => resolve(false));
      this.exitWaiters.push(() => {
        cancel();
        resolve(true);
      });
    });
  }

  /** Stops openocd: SIGTERM, then SIGKILL after OPENOCD_STOP_TIMEOUT_MS. */
  async stop(): Promise<void> {
    if (this.exited) return;
    this.child.kill("SIGTERM");
    if (!(await this.waitExit(OPENOCD_STOP_TIMEOUT_MS))) {
      this.child.kill("SIGKILL");
      await this.waitExit(OPENOCD_STOP_TIMEOUT_MS);
    }
  }
}

/** The error an openocd that ended early stands for: what its output names, else OpenOcdExitedError. */
function exitedError(p: OpenOcdProcess, o: LaunchOptions): Error {
  if (p.spawnError) return new OpenOcdNotInstalledError(o.bin, p.spawnError.message);
  return (
    classifyOpenOcd(p.text, { adapter: o.adapter }) ??
    new OpenOcdExitedError(p.exit?.code ?? null, p.exit?.signal ?? null, p.text, o.config)
  );
}

/** Starts openocd and resolves once its RPC server answers a command. */
export async function launchOpenOcd(
  o: LaunchOptions,
): Promise<{ process: OpenOcdProcess; rpc: OpenOcdRpc }> {
  const port = o.port ?? (await freePort());
  const args = [
    "-c", "gdb_port disabled",
    "-c", "telnet_port disabled",
    "-c", `tcl_port ${port}`,
    "-f", o.config,
  ]; // prettier-ignore
  log.debug({ bin: o.bin, args }, "starting openocd");
  const child = spawn(o.bin, args, {
    env: o.env ?? process.env,
    ...(o.cwd ? { cwd: o.cwd } : {}),
    stdio: ["ignore", "pipe", "pipe"],
  });
  const p = new OpenOcdProcess(child, port, o.clock);
  const off = onAbort(o.signal, () => void p.stop());
  try {
    return { process: p, rpc: await waitReady(p, o, port) };
  } catch (e) {
    await p.stop();
    throw e;
  } finally {
    off();
  }
}

async function waitReady(p: OpenOcdProcess, o: LaunchOptions, port: number): Promise<OpenOcdRpc> {
  const timeoutMs = o.readyTimeoutMs ?? OPENOCD_READY_TIMEOUT_MS;
  const deadline = o.clock.now() + timeoutMs;
  for (;;) {
    if (p.hasExited) throw exitedError(p, o);
    if (o.signal?.aborted)
      throw o.signal.reason instanceof Error ? o.signal.reason : new Error("aborted");
    const left = deadline - o.clock.now();
    if (left <= 0)
      throw new OpenOcdUnreachableError(
        "127.0.0.1",
        port,
        `openocd did not answer within ${timeoutMs} ms`,
        true,
      );
    const rpc = await OpenOcdRpc.connect(
      "127.0.0.1",
      port,
      o.clock,
      Math.min(left, RPC_CONNECT_TIMEOUT_MS),
    ).catch(() => undefined);
    if (!rpc) {
      await delay(o.clock, RPC_POLL_MS, o.signal, "waiting for openocd's RPC port");
      continue;
    }
    // The port listens before the adapter is opened: the first answer comes after init.
    try {
      await rpc.run("version", {
        timeoutMs: Math.max(1, deadline - o.clock.now()),
        signal: o.signal,
      });
      return rpc;
    } catch (e) {
      await rpc.close();
      if (await p.waitExit(OPENOCD_STOP_TIMEOUT_MS)) throw exitedError(p, o);
      throw e;
    }
  }
}
