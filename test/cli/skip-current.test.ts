// --skip-current: after a Klipper update only the boards that do not run the
// new build are flashed. The sim boards boot whatever image was flashed and
// answer identify with that image's own data dictionary.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { VirtualCanChannel } from "../../src/can/virtual.js";
import { parseDictionary, sameBuild } from "../../src/klippy-bridge/dictionary.js";
import { SimCanDevice } from "../../src/sim/device.js";
import {
  klipperDictionaryJson,
  klipperImage,
  type KlipperImageOptions,
} from "../../src/sim/klipper-image.js";
import { runInProcess } from "./helpers.js";

const APP = 0x08002000;
const UUIDS = ["aa11bb22cc33", "dd44ee55ff66"];
const dir = mkdtempSync(join(tmpdir(), "canflash-skip-"));
let n = 0;

function firmware(o: Partial<KlipperImageOptions>): string {
  const path = join(dir, `klipper-${n++}.bin`);
  writeFileSync(
    path,
    klipperImage({ mcu: "stm32g0b1xx", transport: "can", appStart: APP, size: 8192, ...o }),
  );
  return path;
}

let channel: VirtualCanChannel | undefined;
let devices: SimCanDevice[] = [];
afterEach(async () => {
  await Promise.all(devices.map((d) => d.close()));
  devices = [];
  channel?.remove();
});

function bus(): string {
  // Nominal 1 Mbit/s without the bus-time model: its frames run on the precise clock, the
  // session and the boards on the real one, and on a loaded host their order could differ.
  channel = VirtualCanChannel.create(`skip-${n++}`, { bitrate: 1_000_000, busTime: false });
  devices = UUIDS.map((uuid) => {
    const d = new SimCanDevice(channel!.open({ txQueueLength: 3 }), {
      uuid,
      mcu: "stm32g0b1xx",
      boot: "katapult",
    });
    d.start();
    return d;
  });
  return `virtual:${channel.name}`;
}

const writes = (d: SimCanDevice) => d.events.filter((e) => e.type === "write").length;

/** Waits until the sim board answers as Klipper again after COMPLETE. */
async function bootedIntoKlipper(d: SimCanDevice): Promise<void> {
  const deadline = Date.now() + 2000;
  while (!d.events.some((e) => e.type === "boot" && e.into === "klipper")) {
    if (Date.now() > deadline) throw new Error("the sim board did not boot its application");
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("sameBuild", () => {
  const d = (o: { version?: string; clockFreq?: number }) =>
    parseDictionary(
      Buffer.from(klipperDictionaryJson({ mcu: "stm32g0b1xx", transport: "can", ...o })),
    );
  it("is true only for the same version and the same build config", () => {
    expect(sameBuild(d({}), d({}))).toBe(true);
    expect(sameBuild(d({}), d({ version: "v0.12.0-428-g0000000" }))).toBe(false);
    expect(sameBuild(d({}), d({ clockFreq: 48_000_000 }))).toBe(false);
    expect(sameBuild(d({ version: "" }), d({ version: "" }))).toBe(false);
  });
});

describe("canflash --skip-current", () => {
  it("flashes a board that runs another build, then leaves it alone once it runs this one", async () => {
    const iface = bus();
    const [a] = devices;
    const file = firmware({ version: "v0.12.0-500-gcafe" });
    const first = await runInProcess(["-i", iface, "-u", UUIDS[0]!, "--skip-current", file]);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/Programming Complete/);
    const written = writes(a!);
    expect(written).toBeGreaterThan(0);
    await bootedIntoKlipper(a!);

    const again = await runInProcess(["-i", iface, "-u", UUIDS[0]!, "--skip-current", file]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(
      /aa11bb22cc33 already runs Klipper v0\.12\.0-500-gcafe, the same build as .*: not flashed \(drop --skip-current to flash it anyway\)/,
    );
    expect(again.stdout).toMatch(/Already Current/);
    expect(writes(a!)).toBe(written);
    expect(a!.events.filter((e) => e.type === "boot").length).toBe(2); // not asked into the bootloader

    // Without the flag the same board is flashed again, as flashtool.py would.
    const forced = await runInProcess(["-i", iface, "-u", UUIDS[0]!, file]);
    expect(forced.code).toBe(0);
    expect(writes(a!)).toBeGreaterThan(written);
  });

  it("in a batch, only the boards on another build are flashed; the table says which were current", async () => {
    const iface = bus();
    const [a, b] = devices;
    const oldFile = firmware({ version: "v0.12.0-1-gold" });
    const newFile = firmware({ version: "v0.12.0-2-gnew" });
    expect((await runInProcess(["-i", iface, "-u", UUIDS[0]!, newFile])).code).toBe(0);
    expect((await runInProcess(["-i", iface, "-u", UUIDS[1]!, oldFile])).code).toBe(0);
    await bootedIntoKlipper(a!);
    await bootedIntoKlipper(b!);
    const aWrites = writes(a!);
    const bWrites = writes(b!);

    const r = await runInProcess([
      "-i",
      iface,
      "-u",
      UUIDS[0]!,
      "-u",
      UUIDS[1]!,
      "--skip-current",
      "--json",
      newFile,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as {
      boards: Array<{ uuid: string; result: string; note?: string }>;
    };
    const row = (u: string) => result.boards.find((x) => x.uuid === u)!;
    expect(row(UUIDS[0]!)).toMatchObject({ result: "current" });
    expect(row(UUIDS[0]!).note).toMatch(/already runs Klipper v0\.12\.0-2-gnew/);
    expect(row(UUIDS[1]!)).toMatchObject({ result: "ok" });
    expect(writes(a!)).toBe(aWrites);
    expect(writes(b!)).toBeGreaterThan(bWrites);
  });

  it("a board still in Katapult is flashed (there is no running build to compare)", async () => {
    const iface = bus();
    const r = await runInProcess(["-i", iface, "-u", UUIDS[1]!, "--skip-current", firmware({})]);
    expect(r.code).toBe(0);
    expect(writes(devices[1]!)).toBeGreaterThan(0);
  });
});
