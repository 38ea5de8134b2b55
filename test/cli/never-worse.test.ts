// A board is never left worse off than canflash found it: what the running
// Klipper says about itself is checked before any bootloader request; a
// refusal that can only come after the bootloader was entered, with nothing
// written, sends the board back to its application; boards a batch asked in
// but never started go back too; a board found in its bootloader stays there.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { VirtualCanChannel } from "../../src/can/virtual.js";
import { SimCanDevice, type SimCanDeviceOptions } from "../../src/sim/device.js";
import { klipperImage } from "../../src/sim/klipper-image.js";
import { runInProcess } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "canflash-worse-"));
const APP = 0x08002000;
const image = (mcu: string, transport: "can" | "usb-can-bridge" = "can"): string => {
  const p = join(dir, `k-${mcu}-${transport}.bin`);
  writeFileSync(
    p,
    klipperImage({ mcu, transport, appStart: APP, canbusFrequency: 1_000_000, size: 8192 }),
  );
  return p;
};

let channel: VirtualCanChannel | undefined;
let devices: SimCanDevice[] = [];
let n = 0;
afterEach(async () => {
  await Promise.all(devices.map((d) => d.close()));
  channel?.remove();
  devices = [];
});

function bus(boards: SimCanDeviceOptions[]): string {
  channel = VirtualCanChannel.create(`worse-${n++}`, { bitrate: 1_000_000 });
  devices = boards.map((b) => {
    const d = new SimCanDevice(channel!.open({ txQueueLength: 3 }), b);
    d.start();
    return d;
  });
  return `virtual:${channel.name}`;
}

const sent = (d: SimCanDevice, type: string) => d.events.filter((e) => e.type === type).length;

describe("never worse off", () => {
  it("a Klipper board running another MCU: refused before the bootloader request (exit 6, untouched)", async () => {
    const iface = bus([{ uuid: "625720a262c6", mcu: "stm32g0b1xx", boot: "klipper" }]);
    const r = await runInProcess([
      "-i",
      iface,
      "-u",
      "625720a262c6",
      "--json",
      image("stm32f103xe"),
    ]);
    expect(r.code).toBe(6);
    const result = JSON.parse(r.stdout.trimEnd().split("\n").at(-1)!) as {
      error: { code: string };
      boards: { error?: { code: string; deviceState?: string } }[];
    };
    expect(result.error.code).toBe("PREFLIGHT_MCU");
    expect(result.boards[0]!.error).toMatchObject({
      code: "PREFLIGHT_MCU",
      deviceState: "untouched",
    });
    expect(sent(devices[0]!, "request-bootloader")).toBe(0);
    expect(devices[0]!.state.mode).toBe("klipper");
  });

  it("in a batch the wrong board is refused before the request round and the right one is flashed", async () => {
    const iface = bus([
      { uuid: "0000000000a1", mcu: "stm32f103xe", boot: "klipper" },
      { uuid: "0000000000b2", mcu: "stm32g0b1xx", boot: "klipper" },
    ]);
    const r = await runInProcess([
      "-i",
      iface,
      "--jobs",
      "1",
      "-u",
      "0000000000a1",
      "-u",
      "0000000000b2",
      image("stm32g0b1xx"),
    ]);
    expect(r.code).toBe(6);
    expect(r.stdout).toMatch(
      /0000000000a1\s+0000000000a1\s+FAILED \(PREFLIGHT_MCU, see below\)[\s\S]*\n {2}0000000000a1: the image is built for stm32g0b1xx/,
    );
    expect(r.stdout).toMatch(/0000000000b2\s+0000000000b2\s+ok/);
    expect(sent(devices[0]!, "request-bootloader")).toBe(0);
    expect(devices[0]!.state.mode).toBe("klipper");
    expect(sent(devices[1]!, "complete")).toBe(1);
  });

  it("refused only after entering (its MCU was not known before): sent back to its application", async () => {
    // It holds a node id no probe covers (40): silent to the query, so not identified first.
    const iface = bus([
      {
        uuid: "3a1b5c7d9e0f",
        mcu: "stm32f103xe",
        boot: "klipper",
        klipper: { heldByNodeId: 40, bootloaderDelayMs: 50 },
      },
    ]);
    const r = await runInProcess(["-i", iface, "-u", "3a1b5c7d9e0f", image("stm32g0b1xx")]);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(
      /connect failed: the image is built for stm32g0b1xx, but the bootloader runs on stm32f103xe/,
    );
    expect(r.stderr).toMatch(
      /Nothing was written: canflash sent the board back to the application it ran before/,
    );
    expect(sent(devices[0]!, "request-bootloader")).toBe(1);
    expect(sent(devices[0]!, "write")).toBe(0);
    expect(sent(devices[0]!, "complete")).toBe(1);
    await waitFor(() => devices[0]!.state.mode === "klipper");
  });

  it("a batch stopped by a failure sends the boards it asked in back; one found in Katapult stays", async () => {
    const iface = bus([
      { uuid: "0000000000a1", mcu: "stm32f103xe", boot: "katapult" }, // refused after CONNECT
      { uuid: "0000000000b2", mcu: "stm32g0b1xx", boot: "klipper" }, // asked in, never started
    ]);
    const r = await runInProcess([
      "-i",
      iface,
      "--jobs",
      "1",
      "-u",
      "0000000000a1",
      "-u",
      "0000000000b2",
      image("stm32g0b1xx"),
    ]);
    expect(r.code).toBe(6);
    expect(r.stdout).toMatch(
      /0000000000b2\s+0000000000b2\s+skipped \(asked into its bootloader, then sent back to its application\)/,
    );
    expect(sent(devices[0]!, "write") + sent(devices[1]!, "write")).toBe(0);
    expect(sent(devices[0]!, "complete")).toBe(0);
    expect(devices[0]!.state.mode).toBe("katapult");
    expect(sent(devices[1]!, "complete")).toBe(1);
    await waitFor(() => devices[1]!.state.mode === "klipper");
  });

  it("a USB-to-CAN bridge build for a plain CAN toolhead is refused before any frame", async () => {
    const iface = bus([{ uuid: "625720a262c6", mcu: "stm32g0b1xx", boot: "klipper" }]);
    const r = await runInProcess([
      "-i",
      iface,
      "-u",
      "625720a262c6",
      image("stm32g0b1xx", "usb-can-bridge"),
    ]);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/USB-to-CAN bridge build, but the board is a CAN node/);
    expect(devices[0]!.events.filter((e) => e.type !== "boot")).toEqual([]);
  });

  it("an image too big for the chip's flash is refused before the first block, also in a dry run", async () => {
    const big = join(dir, "k-600k.bin");
    writeFileSync(
      big,
      klipperImage({
        mcu: "stm32g0b1xx",
        transport: "can",
        appStart: APP,
        canbusFrequency: 1_000_000,
        size: 600 * 1024,
      }),
    );
    const iface = bus([{ uuid: "8266c4636429", mcu: "stm32g0b1xx", boot: "katapult" }]);
    for (const extra of [[], ["--dry-run"]]) {
      const r = await runInProcess(["-i", iface, "-u", "8266c4636429", ...extra, big]);
      expect(r.code).toBe(6);
      expect(r.stderr).toMatch(/past the end of the application area at 0x8080000/);
      expect(r.stdout).not.toMatch(/Dry Run Complete/);
    }
    expect(sent(devices[0]!, "write")).toBe(0);
  });

  it("a dry run and a real run agree: a node holding a node id is found and called running, not silent", async () => {
    const iface = bus([
      {
        uuid: "3a1b5c7d9e0f",
        mcu: "stm32g0b1xx",
        boot: "klipper",
        klipper: { heldByNodeId: 5, bootloaderDelayMs: 50 },
      },
    ]);
    const dry = await runInProcess([
      "-i",
      iface,
      "-u",
      "3a1b5c7d9e0f",
      "--dry-run",
      image("stm32g0b1xx"),
    ]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(
      /3a1b5c7d9e0f runs its application: a real run would request its bootloader/,
    );
    expect(dry.stdout).not.toMatch(/did not answer/);
    expect(sent(devices[0]!, "request-bootloader")).toBe(0);
    const real = await runInProcess(["-i", iface, "-u", "3a1b5c7d9e0f", image("stm32g0b1xx")]);
    expect(real.code, real.stderr).toBe(0);
  });
});

async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
