// canflash -q against a virtual bus with a mix of boards and a printer.cfg:
// identify, nodes that hold a node id, configured-but-silent boards and
// their reasons, a running Klipper (fake Moonraker), --json, --no-identify,
// --katapult-info.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { VirtualCanChannel } from "../../src/can/virtual.js";
import { JsonEvent } from "../../src/cli/json-events.js";
import type { DetectOptions } from "../../src/klippy-bridge/klippy.js";
import { SimCanDevice, type SimCanDeviceOptions } from "../../src/sim/device.js";
import {
  QUERY_FIRST_ANSWER_MS,
  QUERY_QUIET_MS,
  QUERY_WINDOW_MS,
} from "../../src/entry/can-admin.js";
import { canflash, runInProcess } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "canflash-query-"));
const emptyProc = mkdtempSync(join(tmpdir(), "canflash-proc-"));
let n = 0;
let channel: VirtualCanChannel | undefined;
let devices: SimCanDevice[] = [];
let server: Server | undefined;
afterEach(async () => {
  await Promise.all(devices.map((d) => d.close()));
  devices = [];
  channel?.remove();
  if (server) await new Promise((r) => server!.close(r));
  server = undefined;
});

const KATAPULT = "0000000000a1";
const KLIPPER = "0000000000b2";
const HELD = "0000000000c3";
const STRANGER = "0000000000d4";
const ABSENT = "0000000000e5";
const ELSEWHERE = "0000000000f6";

function bus(boards: SimCanDeviceOptions[]): string {
  channel = VirtualCanChannel.create(`query-${n++}`, { bitrate: 500_000 });
  devices = boards.map((b) => {
    const d = new SimCanDevice(channel!.open({ txQueueLength: 3 }), b);
    d.start();
    return d;
  });
  return `virtual:${channel.name}`;
}

const printer = (iface: string) => {
  const path = join(dir, `printer-${n++}.cfg`);
  writeFileSync(
    path,
    [
      "[mcu]",
      "serial: /dev/ttyACM0",
      "[mcu EBB]",
      `canbus_uuid: ${KLIPPER}`,
      `canbus_interface: ${iface}`,
      "[mcu T0]",
      `canbus_uuid: ${HELD}`,
      `canbus_interface: ${iface}`,
      "[mcu T1]",
      `canbus_uuid: ${KATAPULT}`,
      `canbus_interface: ${iface}`,
      "[mcu T2]",
      `canbus_uuid: ${ABSENT}`,
      `canbus_interface: ${iface}`,
      "[mcu T3]",
      `canbus_uuid: ${ELSEWHERE}`,
      "",
    ].join("\n"),
  );
  return path;
};

const mixed = (): SimCanDeviceOptions[] => [
  { uuid: KATAPULT, mcu: "stm32g0b1xx", boot: "katapult" },
  { uuid: KLIPPER, mcu: "stm32f446xx", boot: "klipper", klipperVersion: "v0.12.0-200-gb2" },
  // Left with node id 5 by a Klippy that has stopped (T0 is the second CAN mcu).
  {
    uuid: HELD,
    mcu: "rp2040",
    boot: "klipper",
    klipperVersion: "v0.12.0-300-gc3",
    klipper: { heldByNodeId: 5 },
  },
  { uuid: STRANGER, mcu: "stm32g0b1xx", boot: "katapult" },
];

const noKlipper: DetectOptions = {
  procRoot: emptyProc,
  systemctl: null,
  moonrakerUrl: null,
  socketPaths: [],
};

async function fakeMoonraker(): Promise<string> {
  server = createServer((_req, res) => {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ result: { klippy_connected: true, klippy_state: "ready" } }));
  });
  await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

describe("canflash -q", () => {
  it("identifies Klipper nodes, finds one holding a node id, and names printer.cfg sections and the missing", async () => {
    const iface = bus(mixed());
    const r = await runInProcess(["-i", iface, "-q", "--config", printer(iface)], dir, {
      klipper: noKlipper,
    });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = r.stdout;
    expect(out).toContain(`Detected UUID: ${KATAPULT}, Application: Katapult [mcu T1]`);
    expect(out).toContain(`Detected UUID: ${STRANGER}, Application: Katapult\n`);
    expect(out).toContain(
      `Detected UUID: ${KLIPPER}, Application: Klipper, MCU: stm32f446xx, Version: v0.12.0-200-gb2 [mcu EBB]`,
    );
    expect(out).toContain(
      `Detected UUID: ${HELD}, Application: Klipper, MCU: rp2040, Version: v0.12.0-300-gc3, holds node id 5 (from an earlier Klipper run; silent to queries) [mcu T0]`,
    );
    expect(out).toMatch(
      new RegExp(
        `\\[mcu T2\\] ${ABSENT}: no answer, neither to the query nor on node id 7: .*500000 bit/s`,
      ),
    );
    expect(out).toContain(
      `[mcu T3] ${ELSEWHERE}: configured on can0, not on ${iface} — canflash -i can0 -q`,
    );
    expect(out.trimEnd().endsWith("CANBus UUID Query Complete")).toBe(true);
    // identify used canflash's high range; the held node kept its id.
    const [, klipper, held] = devices;
    expect(
      klipper!.events
        .filter((e) => e.type === "assigned")
        .map((e) => (e as { nodeId: number }).nodeId),
    ).toEqual([200]);
    expect(held!.events.some((e) => e.type === "assigned")).toBe(false);
  });

  it("a second query still lists the Klipper node the first one identified (it now holds id 200)", async () => {
    const iface = bus(mixed());
    await runInProcess(["-i", iface, "-q"], dir, { klipper: noKlipper });
    const r = await runInProcess(["-i", iface, "-q"], dir, { klipper: noKlipper });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(
        `Detected UUID: ${KLIPPER}, Application: Klipper, MCU: stm32f446xx, .*holds node id 200`,
      ),
    );
  });

  it("with Klipper running: no probe of Klippy's node ids, and the held board's reason says so", async () => {
    const iface = bus(mixed());
    const trace = join(dir, `trace-${n++}.log`);
    const moonrakerUrl = await fakeMoonraker();
    const r = await runInProcess(
      ["-i", iface, "-q", "--config", printer(iface), "--trace-file", trace],
      dir,
      { klipper: { ...noKlipper, moonrakerUrl } },
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `[mcu T0] ${HELD}: Klipper is running and holds it (a node with a node id does not answer queries) — stop Klipper to list it`,
    );
    expect(r.stdout).not.toContain(`Detected UUID: ${HELD}`);
    // Nothing was sent on node ids 4..15 (CAN ids 0x108..0x11e): Klippy's sequence numbers stay intact.
    const sent = readFileSync(trace, "utf8")
      .split("\n")
      .filter((l) => / TX /.test(l))
      .map((l) => parseInt(/ TX ([0-9A-F]+)#/i.exec(l)![1]!, 16));
    expect(sent.filter((id) => id >= 0x108 && id <= 0x11e)).toEqual([]);
    expect(sent).toContain(0x3f0);
  });

  it("nothing answers while Klipper runs: exit 3, and the causes start with Klipper", async () => {
    const iface = bus([{ uuid: HELD, boot: "klipper", klipper: { heldByNodeId: 4 } }]);
    const moonrakerUrl = await fakeMoonraker();
    const r = await runInProcess(["-i", iface, "-q"], dir, {
      klipper: { ...noKlipper, moonrakerUrl },
    });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/no node answered/);
    expect(r.stderr).toMatch(/Klipper is running: the nodes it holds have node ids/);
    expect(r.stderr).toMatch(/sudo systemctl stop klipper/);
  });

  it("--no-identify: the bare query — no node id handed out, no probe", async () => {
    const iface = bus(mixed());
    const r = await runInProcess(
      ["-i", iface, "-q", "--no-identify", "--config", printer(iface)],
      dir,
      {
        klipper: noKlipper,
      },
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Detected UUID: ${KLIPPER}, Application: Klipper [mcu EBB]`);
    expect(r.stdout).not.toContain(`Detected UUID: ${HELD}`);
    expect(r.stdout).toMatch(
      new RegExp(`\\[mcu T0\\] ${HELD}: did not answer the query: it may hold a node id`),
    );
    expect(devices.some((d) => d.events.some((e) => e.type === "assigned"))).toBe(false);
  });

  it("--katapult-info adds the bootloader's version, MCU and geometry", async () => {
    const iface = bus([{ uuid: KATAPULT, mcu: "stm32g0b1xx", boot: "katapult" }]);
    const r = await runInProcess(["-i", iface, "-q", "--katapult-info"], dir, {
      klipper: noKlipper,
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `Detected UUID: ${KATAPULT}, Application: Katapult, MCU: stm32g0b1xx, Version: v0.0.1-110-gsim, Block Size: 64, App Start: 0x8002000`,
    );
  });

  it("--json: node and missing events valid against the schema", async () => {
    const iface = bus(mixed());
    const r = await runInProcess(["-i", iface, "-q", "--json", "--config", printer(iface)], dir, {
      klipper: noKlipper,
    });
    expect(r.code).toBe(0);
    const events = r.stdout
      .trimEnd()
      .split("\n")
      .map((l) => JsonEvent.parse(JSON.parse(l)));
    const held = events.find((e) => e.type === "node" && e.uuid === HELD);
    expect(held).toMatchObject({
      found: "node-id",
      nodeId: 5,
      mcu: "rp2040",
      section: "mcu T0",
      transport: "can",
    });
    const missing = events.filter((e) => e.type === "missing");
    expect(missing.map((m) => (m as { section: string }).section)).toEqual(["mcu T2", "mcu T3"]);
    expect(events.at(-1)).toMatchObject({ type: "result", ok: true, exitCode: 0 });
  });

  it("an unreadable printer.cfg is a note, not the end of the query; a missing --config is a usage error", async () => {
    const iface = bus([{ uuid: KATAPULT, boot: "katapult" }]);
    const bad = join(dir, "bad.cfg");
    writeFileSync(bad, "[mcu]\nthis is not an option\n");
    const r = await runInProcess(["-i", iface, "-q", "--config", bad], dir, { klipper: noKlipper });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/printer\.cfg not used: .*bad\.cfg:2: cannot read/);
    const m = await runInProcess(["-i", iface, "-q", "--config", join(dir, "nope.cfg")], dir, {
      klipper: noKlipper,
    });
    expect(m.code).toBe(2);
    expect(m.stderr).toMatch(/printer config not found: .*nope\.cfg/);
  });
});

describe("canflash -q: the query window", () => {
  /** A Katapult (even i) or Klipper (odd i) board whose answer to a query leaves `delay` ms late. */
  const late = (i: number, delay: number): SimCanDeviceOptions => {
    const uuid = `0000000002${i.toString(16).padStart(2, "0")}`;
    return i % 2 === 0
      ? { uuid, boot: "katapult", katapult: { queryReplyDelayMs: delay } }
      : { uuid, boot: "klipper", klipper: { queryReplyDelayMs: delay } };
  };
  const listed = (out: string) =>
    [...out.matchAll(/Detected UUID: ([0-9a-f]{12})/g)].map((m) => m[1]);

  it("answers that come late but one after another are all listed, past the window's floor", async () => {
    // 25 ms apart, 0 … 300 ms: each within the quiet period of the one before.
    const boards = Array.from({ length: 13 }, (_, i) => late(i, i * 25));
    const iface = bus(boards);
    const r = await runInProcess(["-i", iface, "-q", "--no-identify"], dir, { klipper: noKlipper });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(listed(r.stdout).sort()).toEqual(boards.map((b) => b.uuid).sort());
  });

  it("a board that answers long after the bus went quiet: only --query-ms's fixed window waits for it", async () => {
    const boards = [late(0, 0), late(1, 500)];
    const iface = bus(boards);
    const adaptive = await runInProcess(["-i", iface, "-q", "--no-identify"], dir, {
      klipper: noKlipper,
    });
    expect(adaptive.code).toBe(0);
    expect(listed(adaptive.stdout)).toEqual([boards[0]!.uuid]);
    const fixed = await runInProcess(
      ["-i", iface, "-q", "--no-identify", "--query-ms", "800"],
      dir,
      { klipper: noKlipper },
    );
    expect(fixed.code).toBe(0);
    expect(listed(fixed.stdout).sort()).toEqual(boards.map((b) => b.uuid).sort());
    const sub = await runInProcess(["query", iface, "--no-identify", "--query-ms", "800"], dir, {
      klipper: noKlipper,
    });
    expect(listed(sub.stdout).sort()).toEqual(boards.map((b) => b.uuid).sort());
  });

  it("--help says how the window ends, with the library's numbers", async () => {
    for (const args of [["--help"], ["query", "--help"]]) {
      const r = await canflash(args);
      const text = r.stdout.replace(/\s+/g, " ");
      expect(text).toContain(
        `listen a fixed <ms> for answers (default: until the bus is quiet for ${QUERY_QUIET_MS} ms after the last answer, at least ${QUERY_FIRST_ANSWER_MS} ms, at most ${QUERY_WINDOW_MS} ms)`,
      );
    }
  });
});
