// canflash -i slcan:<tty> as users run it (the spawned binary) against an
// slcan adapter model on a pty, whose far side is a 1 Mbit/s virtual bus
// with simulated Katapult and Klipper nodes: query, a verified 48 KiB
// flash, a batch of four; and a bus the adapter cannot reach is reported,
// not silent.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { VirtualCanChannel } from "../../src/can/virtual.js";
import { SimCanDevice, type SimCanDeviceOptions } from "../../src/sim/device.js";
import type { SimSlcanAdapterOptions } from "../../src/sim/slcan/adapter.js";
import { slcanOnPty, type SlcanOnPty } from "../fakes/slcan.js";
import { appImage, canflash } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "canflash-slcan-cli-"));
const firmware = join(dir, "klipper.bin");
const image = await appImage(48 * 1024, 16);
writeFileSync(firmware, image);
// The batch sends four images through one adapter that answers every frame: a smaller one keeps it short.
const small = join(dir, "small.bin");
const smallImage = await appImage(12 * 1024, 17);
writeFileSync(small, smallImage);

const BOARDS: SimCanDeviceOptions[] = [
  { uuid: "8266c4636429", mcu: "stm32g0b1xx", boot: "katapult" },
  { uuid: "ef00c3c43f24", mcu: "stm32g0b1xx", boot: "katapult" },
  {
    uuid: "625720a262c6",
    mcu: "stm32g0b1xx",
    boot: "klipper",
    klipper: { bootloaderDelayMs: 200 },
  },
  {
    uuid: "1a2b3c4d5e6f",
    mcu: "stm32g0b1xx",
    boot: "klipper",
    klipper: { bootloaderDelayMs: 200 },
  },
];

let adapter: SlcanOnPty | undefined;
let devices: SimCanDevice[] = [];
afterEach(async () => {
  await adapter?.close();
  await Promise.all(devices.map((d) => d.close()));
  adapter = undefined;
  devices = [];
});

async function rig(
  boards: SimCanDeviceOptions[],
  busBitrate = 1_000_000,
  adapterOptions: SimSlcanAdapterOptions = {},
): Promise<string> {
  const channel = VirtualCanChannel.anonymous({ bitrate: busBitrate, label: "bus" });
  devices = boards.map((b) => {
    const d = new SimCanDevice(channel.open({ label: b.uuid, txQueueLength: 3 }), b);
    d.start();
    return d;
  });
  adapter = await slcanOnPty(channel, adapterOptions);
  return adapter.iface;
}

describe("canflash -i slcan:<pty> (spawned binary, adapter model, simulated nodes)", () => {
  it("-q lists every node behind the adapter", async () => {
    const iface = await rig(BOARDS);
    const r = await canflash(["-i", iface, "-q"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Detected UUID: 8266c4636429, Application: Katapult");
    expect(r.stdout).toContain("Detected UUID: ef00c3c43f24, Application: Katapult");
    expect(r.stdout).toContain("Detected UUID: 625720a262c6, Application: Klipper");
    expect(r.stdout).toContain("Detected UUID: 1a2b3c4d5e6f, Application: Klipper");
    expect(r.stdout.trimEnd().endsWith("CANBus UUID Query Complete")).toBe(true);
    expect(adapter!.adapter.configuredBitrate).toBe(1_000_000);
    expect(adapter!.adapter.isOpen).toBe(false); // closed again on exit
  }, 60_000);

  it("flashes 48 KiB into a Klipper board, verified, every byte as sent", async () => {
    const iface = await rig([BOARDS[2]!]);
    const r = await canflash(["-i", iface, "-u", "625720a262c6", firmware], { timeoutMs: 120_000 });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Wrote and verified 49152 bytes/);
    expect(r.stdout.trimEnd().endsWith("Programming Complete")).toBe(true);
    expect(devices[0]!.writtenApplication()).toEqual(image);
  }, 120_000);

  it("a batch of four: two Katapult, two Klipper boards, all ok", async () => {
    const iface = await rig(BOARDS);
    const args = ["-i", iface, ...BOARDS.flatMap((b) => ["-u", b.uuid]), small];
    const r = await canflash(args, { timeoutMs: 120_000 });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    for (const b of BOARDS)
      expect(r.stdout).toMatch(new RegExp(`${b.uuid}\\s+${b.uuid}\\s+ok\\s+12\\.0 KiB`));
    for (const d of devices) expect(d.writtenApplication()).toEqual(smallImage);
  }, 120_000);

  it("an adapter at another bitrate than the bus: the frames it cannot send are an error, not silence", async () => {
    const iface = await rig([BOARDS[0]!], 500_000); // the adapter is set to 1 Mbit/s
    const r = await canflash(["-i", iface, "-u", "8266c4636429", firmware], { timeoutMs: 60_000 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(
      /did not accept frame .* \(transmit queue full; bus state error-passive\)/,
    );
    expect(adapter!.adapter.stats.refused).toBeGreaterThan(0);
    expect(devices[0]!.writtenApplication().length).toBe(0);
  }, 60_000);

  it("answers the adapter's slow uplink cannot carry: the lost frames are an error, not a short list", async () => {
    // A UART adapter at 9600 baud (960 bytes/s) with room for two lines: four nodes answer at once.
    const iface = await rig(BOARDS, 1_000_000, { uplinkBytesPerSec: 960, rxFifoLength: 2 });
    const r = await canflash(["-i", iface, "-q"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/lost received frames \(data-overrun\)/);
    expect(r.stderr).toMatch(/raise the adapter's tty baud/);
    expect(adapter!.adapter.stats.overruns).toBeGreaterThan(0);
  }, 60_000);

  it("bad slcan names and ports are refused before anything is sent, each with its fix", async () => {
    const bad = await canflash(["-i", "slcan:/dev/ttyACM0,bitrate=800000", "-q"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/bitrate 800000 has no slcan S command/);
    expect(bad.stderr).toMatch(/-i slcan:\/dev\/ttyACM0/);
    const missing = await canflash(["-i", "slcan:/dev/canflash-no-such-tty", "-q"]);
    expect(missing.code).toBe(5);
    expect(missing.stderr).toMatch(/no serial device at \/dev\/canflash-no-such-tty/);
  });
});
