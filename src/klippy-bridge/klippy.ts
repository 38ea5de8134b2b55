// Is Klipper running here? From three independent signs: a klippy.py
// process (/proc), the systemd unit, and Moonraker's HTTP API (which also
// says whether Klippy is connected and ready). A running Klippy holds its
// MCUs: its CAN nodes have node ids (and do not answer queries), its serial
// ports are open.

import { execFile } from "node:child_process";
import { readdir, readFile, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { connect } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";

export interface KlippyProcess {
  pid: number;
  cmdline: string;
  /** The config file given to klippy.py, when it can be read from its command line. */
  config: string | undefined;
}

export interface KlipperStatus {
  /** True when any sign says Klipper runs. */
  running: boolean;
  processes: KlippyProcess[];
  /** systemd's view of the klipper unit: "active", "inactive", … or undefined (no systemd). */
  unit: string | undefined;
  moonraker: { reachable: boolean; klippyConnected?: boolean; klippyState?: string } | undefined;
  /** The Klippy API socket, if one exists. */
  socket: string | undefined;
  /** Klippy's own answer on that socket ("ready", "startup", "shutdown", "error"), when it answered. */
  socketState: string | undefined;
}

export interface DetectOptions {
  procRoot?: string;
  /** `systemctl is-active klipper` (returns stdout) — undefined to skip. */
  systemctl?: (() => Promise<string>) | null;
  /** Moonraker base URL; null to skip. Default http://127.0.0.1:7125 */
  moonrakerUrl?: string | null;
  /** Klippy API socket paths to look for. */
  socketPaths?: string[];
  timeoutMs?: number;
}

/** How long Moonraker may take to answer /server/info. */
export const MOONRAKER_TIMEOUT_MS = 1000;

export async function findKlippyProcesses(procRoot = "/proc"): Promise<KlippyProcess[]> {
  const out: KlippyProcess[] = [];
  let pids: string[] = [];
  try {
    pids = (await readdir(procRoot)).filter((p) => /^\d+$/.test(p));
  } catch {
    return out;
  }
  // Read at once (the thread pool), not one after another: a Pi runs a few hundred processes.
  const cmdlines = await Promise.all(
    pids.map((p) => readFile(join(procRoot, p, "cmdline"), "utf8").catch(() => "")),
  );
  for (const [i, p] of pids.entries()) {
    const raw = cmdlines[i]!;
    const args = raw.split("\0").filter(Boolean);
    if (!args.some((a) => /klippy(\.py)?$|klippy\/klippy\.py$/.test(a) || a === "klippy")) continue;
    const idx = args.findIndex((a) => /klippy(\.py)?$/.test(a));
    const config = args.slice(idx + 1).find((a) => !a.startsWith("-") && /\.cfg$/.test(a));
    out.push({ pid: Number(p), cmdline: args.join(" "), config });
  }
  return out;
}

/**
 * GET `url` and its JSON body (undefined when it is not JSON), or an
 * "unreachable" rejection. node:http, not fetch: fetch loads its HTTP stack
 * (undici) on first use, ~100 ms of a start on this kind of machine and many
 * times that on a Pi, for one request to localhost. Imported on first use:
 * most runs find no Klipper process and never ask Moonraker.
 */
async function getJson(url: string, timeoutMs: number): Promise<{ ok: boolean; body: unknown }> {
  const { get: httpGet } = await import("node:http");
  return new Promise((resolve, reject) => {
    const req = httpGet(url, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (text += d));
      res.on("end", () => {
        clearTimeout(timer);
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        const status = res.statusCode ?? 0;
        resolve({ ok: status >= 200 && status < 300, body });
      });
      res.on("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    const timer = setTimeout(() => req.destroy(new Error("timeout")), timeoutMs);
    req.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

async function moonraker(url: string, timeoutMs: number): Promise<KlipperStatus["moonraker"]> {
  try {
    const r = await getJson(`${url}/server/info`, timeoutMs);
    if (!r.ok) return { reachable: true };
    // Not JSON: not Moonraker answering (as when fetch's json() failed).
    if (r.body === undefined) return { reachable: false };
    const body = r.body as
      { result?: { klippy_connected?: boolean; klippy_state?: string } } | undefined;
    return {
      reachable: true,
      ...(body?.result?.klippy_connected !== undefined
        ? { klippyConnected: body.result.klippy_connected }
        : {}),
      ...(body?.result?.klippy_state !== undefined
        ? { klippyState: body.result.klippy_state }
        : {}),
    };
  } catch {
    return { reachable: false };
  }
}

const defaultSystemctl = async (): Promise<string> => {
  try {
    const { stdout } = await promisify(execFile)("systemctl", ["is-active", "klipper"], {
      timeout: 2000,
    });
    return stdout.trim();
  } catch (e) {
    // is-active exits non-zero for inactive units but still prints the state
    const out = (e as { stdout?: string }).stdout?.trim();
    if (out) return out;
    throw e;
  }
};

/**
 * Asks Klippy's API socket for "info" (JSON, each message ending in 0x03);
 * its state, or undefined when nothing answers in time.
 */
export function klippySocketInfo(path: string, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    let buf = "";
    const sock = connect(path);
    const done = (v: string | undefined) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    sock.on("error", () => done(undefined));
    sock.on("connect", () =>
      sock.write(`${JSON.stringify({ id: 1, method: "info", params: {} })}\x03`),
    );
    sock.on("data", (d: Buffer) => {
      buf += d.toString("utf8");
      for (let end = buf.indexOf("\x03"); end >= 0; end = buf.indexOf("\x03")) {
        const msg = buf.slice(0, end);
        buf = buf.slice(end + 1);
        try {
          const r = JSON.parse(msg) as { id?: number; result?: { state?: string } };
          if (r.id === 1) return done(r.result?.state ?? "unknown");
        } catch {
          // not JSON: keep reading
        }
      }
    });
  });
}

/** Looks for Klipper every way at once (processes, systemd unit, Moonraker, Klippy's socket). */
export async function detectKlipper(o: DetectOptions = {}): Promise<KlipperStatus> {
  const findSocket = async (): Promise<string | undefined> => {
    const paths = o.socketPaths ?? [
      join(homedir(), "printer_data", "comms", "klippy.sock"),
      "/tmp/klippy_uds",
    ];
    const stats = await Promise.all(paths.map((p) => stat(p).catch(() => undefined)));
    return paths.find((_, i) => stats[i]?.isSocket());
  };
  const socketAnswer = async (): Promise<[string | undefined, string | undefined]> => {
    const socket = await findSocket();
    // A socket file can outlive Klippy: only an answer counts.
    return [
      socket,
      socket ? await klippySocketInfo(socket, o.timeoutMs ?? MOONRAKER_TIMEOUT_MS) : undefined,
    ];
  };
  const [processes, unit, mr, [socket, socketState]] = await Promise.all([
    findKlippyProcesses(o.procRoot),
    o.systemctl === null ? undefined : (o.systemctl ?? defaultSystemctl)().catch(() => undefined),
    o.moonrakerUrl === null
      ? undefined
      : moonraker(o.moonrakerUrl ?? "http://127.0.0.1:7125", o.timeoutMs ?? MOONRAKER_TIMEOUT_MS),
    socketAnswer(),
  ]);
  const running =
    processes.length > 0 ||
    unit === "active" ||
    mr?.klippyConnected === true ||
    socketState !== undefined;
  return { running, processes, unit, moonraker: mr, socket, socketState };
}
