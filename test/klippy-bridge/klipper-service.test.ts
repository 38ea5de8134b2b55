// Detecting, stopping and starting Klipper against stand-ins: a fake
// Moonraker on loopback, a fake Klippy API socket, a recorded systemctl.
import { spawnSync } from "node:child_process";
import { mkdtempSync, statSync } from "node:fs";
import { createServer as createNetServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  KlipperControlError,
  printState,
  startKlipper,
  stopKlipper,
} from "../../src/klippy-bridge/klipper-service.js";
import {
  detectKlipper,
  klippySocketInfo,
  type DetectOptions,
} from "../../src/klippy-bridge/klippy.js";
import { fakeMoonraker, type FakeMoonraker } from "../fakes/moonraker.js";

const emptyProc = mkdtempSync(join(tmpdir(), "canflash-proc-"));
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function moonraker(o: Parameters<typeof fakeMoonraker>[0] = {}): Promise<FakeMoonraker> {
  const m = await fakeMoonraker(o);
  cleanups.push(() => m.close());
  return m;
}

const detectVia = (m: FakeMoonraker): DetectOptions => ({
  procRoot: emptyProc,
  systemctl: null,
  moonrakerUrl: m.url,
  socketPaths: [],
});

/** A Klippy API socket answering "info" with `state` (messages end in 0x03). */
async function klippySocket(state: string): Promise<{ path: string; server: Server }> {
  const path = join(mkdtempSync(join(tmpdir(), "canflash-uds-")), "klippy.sock");
  const server = createNetServer((c) => {
    let buf = "";
    c.on("data", (d) => {
      buf += d.toString();
      const end = buf.indexOf("\x03");
      if (end < 0) return;
      const req = JSON.parse(buf.slice(0, end)) as { id: number; method: string };
      buf = buf.slice(end + 1);
      if (req.method === "info")
        c.write(
          `${JSON.stringify({ id: req.id, result: { state, state_message: "Printer is ready" } })}\x03`,
        );
    });
  });
  await new Promise<void>((r) => server.listen(path, r));
  return { path, server };
}

describe("detecting Klipper", () => {
  it("asks Klippy's API socket for its state; a socket file nobody serves does not count", async () => {
    const { path, server } = await klippySocket("ready");
    expect(await klippySocketInfo(path, 1000)).toBe("ready");
    const s = await detectKlipper({
      procRoot: emptyProc,
      systemctl: null,
      moonrakerUrl: null,
      socketPaths: [path],
    });
    expect(s).toMatchObject({ running: true, socket: path, socketState: "ready" });
    await new Promise((r) => server.close(r));
    // A Klippy that died leaves its socket file behind: a process that is killed while listening.
    const stalePath = join(mkdtempSync(join(tmpdir(), "canflash-uds-")), "klippy.sock");
    spawnSync(process.execPath, [
      "-e",
      `require("net").createServer().listen(${JSON.stringify(stalePath)}, () => process.kill(process.pid, "SIGKILL"))`,
    ]);
    expect(statSync(stalePath).isSocket()).toBe(true);
    const stale = await detectKlipper({
      procRoot: emptyProc,
      systemctl: null,
      moonrakerUrl: null,
      socketPaths: [stalePath],
    });
    expect(stale).toMatchObject({ running: false, socket: stalePath, socketState: undefined });
  });

  it("reads Moonraker's view, and its print state", async () => {
    const m = await moonraker({ printState: "printing" });
    expect(await detectKlipper(detectVia(m))).toMatchObject({
      running: true,
      moonraker: { reachable: true, klippyConnected: true, klippyState: "ready" },
    });
    expect(await printState({ moonrakerUrl: m.url })).toBe("printing");
    expect(await printState({ moonrakerUrl: null })).toBeUndefined();
  });
});

describe("stopping and starting Klipper", () => {
  it("through Moonraker's machine API, waiting until it is gone and until it is ready", async () => {
    const m = await moonraker();
    const o = { moonrakerUrl: m.url, systemctl: null, detect: detectVia(m) };
    expect(await stopKlipper(o)).toEqual({ via: "moonraker" });
    expect(m.running).toBe(false);
    expect(await startKlipper(o)).toEqual({ via: "moonraker", state: "ready" });
    expect(m.requests.filter((r) => r.startsWith("POST"))).toEqual([
      "POST /machine/services/stop?service=klipper",
      "POST /machine/services/start?service=klipper",
    ]);
  });

  it("falls back to systemctl when Moonraker does not answer", async () => {
    const calls: string[][] = [];
    let active = true;
    const detect: DetectOptions = {
      procRoot: emptyProc,
      systemctl: () => Promise.resolve(active ? "active" : "inactive"),
      moonrakerUrl: null,
      socketPaths: [],
    };
    const o = {
      moonrakerUrl: "http://127.0.0.1:9", // discard port: nothing listens
      systemctl: (args: string[]) => {
        calls.push(args);
        active = args[0] === "start";
        return Promise.resolve();
      },
      service: "klipper-1",
      detect,
    };
    expect(await stopKlipper(o)).toEqual({ via: "systemctl" });
    expect((await startKlipper(o)).via).toBe("systemctl");
    expect(calls).toEqual([
      ["stop", "klipper-1"],
      ["start", "klipper-1"],
    ]);
  });

  it("a typed error with what failed when neither way works", async () => {
    const m = await moonraker();
    m.failStop = true;
    const e = await stopKlipper({
      moonrakerUrl: m.url,
      systemctl: null,
      detect: detectVia(m),
    }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(KlipperControlError);
    expect((e as KlipperControlError).message).toMatch(
      /cannot stop Klipper \(Moonraker: Failed to stop klipper\)/,
    );
    expect(e).toMatchObject({
      action: "stop",
      service: "klipper",
      reason: "refused",
      problems: [{ via: "moonraker", message: "Failed to stop klipper" }],
    });
  });

  it("a stop that does not take effect ends at its deadline", async () => {
    const m = await moonraker();
    const detect: DetectOptions = { ...detectVia(m), systemctl: () => Promise.resolve("active") };
    await expect(
      stopKlipper({ moonrakerUrl: m.url, systemctl: null, detect, stopTimeoutMs: 400 }),
    ).rejects.toThrow(/asked to stop \(via moonraker\) but still runs after 400 ms/);
  });
});
