// canflash -i gs_usb:… as users run it (the spawned binary) against a gs_usb
// adapter model — candleLight, and Klipper's USB-to-CAN bridge — served on
// the socket USB backend (CANFLASH_USB_SOCKETS), whose far side is a
// 1 Mbit/s virtual bus with simulated Katapult and Klipper nodes: query, a
// verified 48 KiB flash, a batch of four; bad names refused with their fix.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { VirtualCanChannel } from "../../src/can/virtual.js";
import { SimCanDevice, type SimCanDeviceOptions } from "../../src/sim/device.js";
import { SimGsUsbAdapter, type SimGsUsbOptions } from "../../src/sim/usb/gs-usb.js";
import { serveUsbModel, type ServedModel } from "../../src/sim/usb/serve.js";
import { appImage, canflash } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "canflash-gsusb-cli-"));
const firmware = join(dir, "klipper.bin");
const image = await appImage(48 * 1024, 18);
writeFileSync(firmware, image);
const small = join(dir, "small.bin");
const smallImage = await appImage(12 * 1024, 19);
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

let adapter: SimGsUsbAdapter | undefined;
let served: ServedModel | undefined;
let devices: SimCanDevice[] = [];
afterEach(async () => {
  await served?.close();
  await adapter?.close();
  await Promise.all(devices.map((d) => d.close()));
  served = undefined;
  adapter = undefined;
  devices = [];
});

let n = 0;
async function rig(
  boards: SimCanDeviceOptions[],
  options: SimGsUsbOptions = {},
): Promise<Record<string, string>> {
  const channel = VirtualCanChannel.anonymous({ bitrate: 1_000_000, label: "bus" });
  devices = boards.map((b) => {
    const d = new SimCanDevice(channel.open({ label: b.uuid, txQueueLength: 3 }), b);
    d.start();
    return d;
  });
  adapter = new SimGsUsbAdapter(channel, options);
  served = serveUsbModel(adapter, join(dir, `gs${n++}.sock`));
  await served.ready();
  // Locks of its own: another file's canflash on the same "gs_usb:" name and UUID is not this one's.
  return { CANFLASH_USB_SOCKETS: served.path, CANFLASH_LOCK_DIR: mkdtempSync(join(dir, "locks-")) };
}

describe("canflash -i gs_usb:… (spawned binary, adapter model on the socket USB backend, simulated nodes)", () => {
  it("-q through a candleLight lists every node behind it", async () => {
    const env = await rig(BOARDS);
    const r = await canflash(["-i", "gs_usb:", "-q"], { env });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    for (const b of BOARDS) expect(r.stdout).toContain(`Detected UUID: ${b.uuid}, Application:`);
    expect(r.stdout).toContain("Detected UUID: 8266c4636429, Application: Katapult");
    expect(r.stdout).toContain("Detected UUID: 625720a262c6, Application: Klipper");
    expect(r.stdout.trimEnd().endsWith("CANBus UUID Query Complete")).toBe(true);
    expect(adapter!.configuredBitrate).toBe(1_000_000);
    expect(adapter!.started).toBe(false); // MODE reset on exit
  }, 60_000);

  it("-q through Klipper's bridge: its own node answers too", async () => {
    const env = await rig(BOARDS.slice(0, 2), {
      variant: "klipper-bridge",
      bridgeNode: { uuid: "aabbccddeeff", mcu: "stm32f072xb" },
    });
    const r = await canflash(["-i", "gs_usb:1d50:606f", "-q"], { env });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Detected UUID: aabbccddeeff, Application: Klipper");
    expect(r.stdout).toContain("Detected UUID: 8266c4636429, Application: Katapult");
    expect(r.stdout).toContain("Detected UUID: ef00c3c43f24, Application: Katapult");
    expect(adapter!.configuredBitrate).toBeUndefined(); // no bit timing sent to the bridge
  }, 60_000);

  it("flashes 48 KiB into a Klipper board, verified, every byte as sent", async () => {
    const env = await rig([BOARDS[2]!]);
    const r = await canflash(["-i", "gs_usb:", "-u", "625720a262c6", firmware], {
      env,
      timeoutMs: 120_000,
    });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Wrote and verified 49152 bytes/);
    expect(r.stdout.trimEnd().endsWith("Programming Complete")).toBe(true);
    expect(devices[0]!.writtenApplication()).toEqual(image);
  }, 120_000);

  it("a batch of four through the Klipper bridge: two Katapult, two Klipper boards, all ok", async () => {
    const env = await rig(BOARDS, { variant: "klipper-bridge", serialNumber: "BRIDGE01" });
    const args = ["-i", "gs_usb:BRIDGE01", ...BOARDS.flatMap((b) => ["-u", b.uuid]), small];
    const r = await canflash(args, { env, timeoutMs: 120_000 });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    for (const b of BOARDS)
      expect(r.stdout).toMatch(new RegExp(`${b.uuid}\\s+${b.uuid}\\s+ok\\s+12\\.0 KiB`));
    for (const d of devices) expect(d.writtenApplication()).toEqual(smallImage);
  }, 120_000);

  it("bad names and absent adapters are refused before anything is sent, each with its fix", async () => {
    const env = await rig([]);
    const bad = await canflash(["-i", "gs_usb:1d50:60", "-q"], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/neither <vid>:<pid>/);
    expect(bad.stderr).toMatch(/-i gs_usb:1d50:606f/);
    const missing = await canflash(["-i", "gs_usb:NOSUCHSERIAL", "-q"], { env });
    expect(missing.code).toBe(5);
    expect(missing.stderr).toMatch(/no USB device found \(serial NOSUCHSERIAL\)/);
    expect(adapter!.log.some((r) => r.op === "claim")).toBe(false);
  }, 60_000);
});
