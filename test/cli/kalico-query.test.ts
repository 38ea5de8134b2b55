// canflash -q with Kalico nodes: the extended query lists a Kalico node that
// holds a node id without probing it (even while Klipper runs), shows
// "Kalico", and identifies an unassigned one; upstream nodes behave as for
// the plain query (a held one stays silent).
import { mkdtempSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { VirtualCanChannel } from "../../src/can/virtual.js";
import { JsonEvent } from "../../src/cli/json-events.js";
import { SimCanDevice, type SimCanDeviceOptions } from "../../src/sim/device.js";
import { runInProcess } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "canflash-kalico-"));
const emptyProc = mkdtempSync(join(tmpdir(), "canflash-proc-"));
let channel: VirtualCanChannel | undefined;
let devices: SimCanDevice[] = [];
let server: Server | undefined;
let n = 0;
afterEach(async () => {
  await Promise.all(devices.map((d) => d.close()));
  devices = [];
  channel?.remove();
  if (server) await new Promise((r) => server!.close(r));
  server = undefined;
});

const KALICO_HELD = "0000000000a6";
const KALICO_FREE = "0000000000b7";
const KLIPPER_HELD = "0000000000c8";
const KLIPPER_FREE = "0000000000d9";

function bus(boards: SimCanDeviceOptions[]): string {
  channel = VirtualCanChannel.create(`kalico-${n++}`, { bitrate: 1_000_000 });
  devices = boards.map((b) => {
    const d = new SimCanDevice(channel!.open({ txQueueLength: 3 }), b);
    d.start();
    return d;
  });
  return `virtual:${channel.name}`;
}

const boards = (): SimCanDeviceOptions[] => [
  {
    uuid: KALICO_HELD,
    mcu: "stm32h723xx",
    boot: "klipper",
    klipper: { kalico: true, heldByNodeId: 6 },
  },
  {
    uuid: KALICO_FREE,
    mcu: "rp2040",
    boot: "klipper",
    klipperVersion: "v2025.01.0-10-gk",
    klipper: { kalico: true },
  },
  { uuid: KLIPPER_HELD, mcu: "stm32g0b1xx", boot: "klipper", klipper: { heldByNodeId: 5 } },
  { uuid: KLIPPER_FREE, mcu: "stm32g0b1xx", boot: "klipper", klipperVersion: "v0.13.0-1-gabc" },
];

/** Moonraker says Klippy is connected: Klippy's node ids must not be probed. */
async function klipperRunning(): Promise<string> {
  server = createServer((_req, res) => {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ result: { klippy_connected: true, klippy_state: "ready" } }));
  });
  await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

describe("canflash -q with Kalico", () => {
  it("lists an assigned Kalico node without probing it while Klipper runs; the held upstream node stays silent", async () => {
    const iface = bus(boards());
    const url = await klipperRunning();
    const trace = join(dir, `trace-${n}.log`);
    const r = await runInProcess(["-i", iface, "-q", "--trace-file", trace], dir, {
      klipper: { procRoot: emptyProc, systemctl: null, moonrakerUrl: url, socketPaths: [] },
    });
    expect(r.code).toBe(0);
    const out = r.stdout;
    expect(out).toContain(
      `Detected UUID: ${KALICO_HELD}, Application: Kalico, holds node id 6 (Kalico answered the extended query)`,
    );
    expect(out).toMatch(
      new RegExp(
        `Detected UUID: ${KALICO_FREE}, Application: Kalico, MCU: rp2040, Version: v2025\\.01\\.0-10-gk`,
      ),
    );
    expect(out).toMatch(
      new RegExp(`Detected UUID: ${KLIPPER_FREE}, Application: Klipper, MCU: stm32g0b1xx`),
    );
    expect(out).not.toContain(KLIPPER_HELD);
    const lines = readFileSync(trace, "utf8").split("\n");
    expect(lines.some((l) => / TX 3F0#0001$/.test(l))).toBe(true);
    // node id 6 talks on 0x10c/0x10d: nothing was sent to it
    expect(lines.filter((l) => / TX 10C#/.test(l))).toEqual([]);
  });

  it("--json: application Kalico, found node-id with its id", async () => {
    const iface = bus(boards());
    const url = await klipperRunning();
    const r = await runInProcess(["-i", iface, "-q", "--json"], dir, {
      klipper: { procRoot: emptyProc, systemctl: null, moonrakerUrl: url, socketPaths: [] },
    });
    const nodes = r.stdout
      .trim()
      .split("\n")
      .map((l) => JsonEvent.parse(JSON.parse(l)))
      .filter((e) => e.type === "node");
    expect(nodes.find((e) => e.uuid === KALICO_HELD)).toMatchObject({
      application: "Kalico",
      found: "node-id",
      nodeId: 6,
    });
    expect(nodes.find((e) => e.uuid === KALICO_FREE)).toMatchObject({
      application: "Kalico",
      found: "query",
    });
  });

  it("with Klipper stopped the probe identifies the assigned Kalico node on its own id", async () => {
    const iface = bus(boards());
    const r = await runInProcess(["-i", iface, "-q"], dir, {
      klipper: { procRoot: emptyProc, systemctl: null, moonrakerUrl: null, socketPaths: [] },
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(
        `Detected UUID: ${KALICO_HELD}, Application: Kalico, MCU: stm32h723xx, Version: [^,]+, holds node id 6`,
      ),
    );
    expect(r.stdout).toContain(
      `Detected UUID: ${KLIPPER_HELD}, Application: Klipper, MCU: stm32g0b1xx`,
    );
  });
});
