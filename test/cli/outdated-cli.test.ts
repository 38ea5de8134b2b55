// `canflash outdated` (the built binary): which boards need reflashing, from
// Moonraker's socket or HTTP API (deprecated_mcu_code warnings, mcu_version
// against the host's software_version) or, without Moonraker, from the demo
// bus (identify against the host's Klipper checkout, or a fresh build's
// data dictionary). Exit 0: nothing to flash; 10: boards to flash.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { JsonEvent } from "../../src/cli/json-events.js";
import { FakeMoonrakerSocket } from "../fakes/moonraker-socket.js";
import { setupPrinter, type Setup } from "../moonraker/printer-setup.js";
import { canflash } from "./helpers.js";

let s: Setup & { printerCfg: string };

beforeEach(async () => {
  const p = setupPrinter("canflash-outdated-");
  s = { ...p, fake: new FakeMoonrakerSocket(p.fakeOptions) };
  await s.fake.listen();
});
afterEach(async () => {
  await s.fake.stop();
});

describe("canflash outdated", () => {
  it("from Moonraker's socket: the deprecated-code and older boards, exit 10", async () => {
    const r = await canflash(["outdated", "--socket", s.socketPath]);
    expect(r.code).toBe(10);
    expect(r.stdout).toMatch(/Host Klipper v0\.13\.0-200-g1234abcd \(from Moonraker\)/);
    expect(r.stdout).toMatch(
      /EBBCan\s+v0\.12\.0-50-g99999999\s+stm32g0b1xx\s+built from an older Klipper/,
    );
    expect(r.stdout).toMatch(
      /T2\s+.*missing get_canbus_status: Klipper recommends recompiling and flashing/,
    );
    expect(r.stdout).toMatch(/rpi\s+.*host process: rebuild and reinstall klipper_mcu/);
    expect(r.stdout).toMatch(/^2 boards to flash: EBBCan, T2$/m);
    expect(r.stdout).toMatch(/canflash flash --stop-klipper --mcu EBBCan --mcu T2/);
  });

  it("--json: one info event per board with its verdict, a result with exit code 10", async () => {
    const r = await canflash(["outdated", "--socket", s.socketPath, "--json"]);
    expect(r.code).toBe(10);
    const events = r.stdout
      .trim()
      .split("\n")
      .map((l) => JsonEvent.parse(JSON.parse(l)));
    const verdicts = events.flatMap((e) =>
      e.type === "info" && e.data?.outdated
        ? [e.data.outdated as { name: string; verdict: string; needsFlash: boolean }]
        : [],
    );
    expect(verdicts.map((v) => `${v.name}:${v.verdict}:${v.needsFlash}`)).toEqual([
      "mcu:same:false",
      "EBBCan:older:true",
      "T1:same:false",
      "T2:deprecated-code:true",
      "rpi:older:false",
    ]);
    expect(events.at(-1)).toMatchObject({ type: "result", exitCode: 10 });
  });

  it("nothing to flash: exit 0", async () => {
    await s.fake.stop();
    const mcus = Object.fromEntries(
      Object.entries(s.fake.o.mcus!).map(([k, v]) => [
        k,
        { ...v, version: "v0.13.0-200-g1234abcd" },
      ]),
    );
    s.fake = new FakeMoonrakerSocket({ ...s.fake.o, mcus, warnings: [] });
    await s.fake.listen();
    const r = await canflash(["outdated", "--socket", s.socketPath]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Nothing to flash$/m);
  });

  it("Klippy not ready: cannot tell, exit 1", async () => {
    s.fake.klippy = "shutdown";
    const r = await canflash(["outdated", "--socket", s.socketPath]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/Cannot tell: Klippy is shutdown/);
  });

  it("from Moonraker's HTTP API", async () => {
    const http = await s.fake.listenHttp();
    try {
      const r = await canflash(["outdated", "--moonraker-url", http.url]);
      expect(r.code).toBe(10);
      expect(r.stdout).toMatch(/^2 boards to flash: EBBCan, T2$/m);
      expect(s.fake.received.map((m) => m.msg.http).filter(Boolean)).toEqual([
        "GET /server/info",
        "GET /printer/info",
        "GET /printer/objects/list",
        "POST /printer/objects/query",
      ]);
    } finally {
      await http.close();
    }
  });

  it("without Moonraker, from the bus: Katapult boards have no application; Klipper ones against the checkout or a fresh build", async () => {
    const klipper = join(s.dir, "klipper");
    mkdirSync(join(klipper, "klippy"), { recursive: true });
    writeFileSync(join(klipper, "klippy", ".version"), "v0.12.0-427-g1a2b3c4d\n");
    const base = ["outdated", "-i", "sim", "--config", s.printerCfg, "--klipper-dir", klipper];
    const r = await canflash(base, { cwd: s.dir });
    expect(r.code).toBe(10);
    expect(r.stdout).toMatch(/from the CAN bus sim/);
    expect(r.stdout).toMatch(/EBBCan\s+v0\.12\.0-427-g1a2b3c4d\s+stm32g0b1xx\s+current/);
    expect(r.stdout).toMatch(/T1\s+v0\.12\.0-427-g1a2b3c4d\s+rp2040\s+current/);
    // the two Katapult boards, in the order they answered
    expect(r.stdout).toMatch(/^2 boards to flash: (mcu, T2|T2, mcu)$/m);
    const f = await canflash([...base, "-f", "klipper.bin"], { cwd: s.dir });
    expect(f.code).toBe(10);
    expect(f.stdout).toMatch(/EBBCan\s+.*runs another build than the image given/);
    const line = /^4 boards to flash: (.*)$/m.exec(f.stdout)![1]!;
    expect(line.split(", ").sort()).toEqual(["EBBCan", "T1", "T2", "mcu"]);
  });

  it("-i and --socket together are a usage error", async () => {
    const r = await canflash(["outdated", "-i", "sim", "--socket", s.socketPath]);
    expect(r.code).toBe(2);
    expect(s.fake.received).toEqual([]);
  });
});
