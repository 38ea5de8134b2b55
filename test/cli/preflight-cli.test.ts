// The pre-flight checks from the command line: a wrong image is refused with
// exit code 6, a message naming the problem and the fix, and nothing written.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { VirtualCanChannel } from "../../src/can/virtual.js";
import { SimCanDevice } from "../../src/sim/device.js";
import { klipperImage, type KlipperImageOptions } from "../../src/sim/klipper-image.js";
import { runInProcess } from "./helpers.js";

const APP = 0x08002000; // SimCanDevice's default application start
const UUID = "aa11bb22cc33";
const dir = mkdtempSync(join(tmpdir(), "canflash-preflight-"));
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
let device: SimCanDevice | undefined;
afterEach(async () => {
  await device?.close();
  channel?.remove();
});

function bus(bitrate: number, boot: "katapult" | "klipper" = "katapult"): string {
  channel = VirtualCanChannel.create(`preflight-${n++}`, { bitrate });
  device = new SimCanDevice(channel.open({ txQueueLength: 3 }), {
    uuid: UUID,
    mcu: "stm32g0b1xx",
    boot,
  });
  device.start();
  return `virtual:${channel.name}`;
}

const writes = () => device!.events.filter((e) => e.type === "write").length;
const framesFromHost = () => device!.events.filter((e) => e.type !== "boot").length;

describe("pre-flight checks in canflash", () => {
  it("flashes a matching image and says what it found inside", async () => {
    const iface = bus(1_000_000);
    const r = await runInProcess([
      "-i",
      iface,
      "-u",
      UUID,
      firmware({ version: "v0.12.0-9-gfeed" }),
    ]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Klipper v0\.12\.0-9-gfeed for stm32g0b1xx, can at 1000000 bit\/s/);
    expect(writes()).toBeGreaterThan(0);
  });

  it("refuses an image for another MCU after CONNECT, before any write; --force does not help", async () => {
    const iface = bus(1_000_000);
    const file = firmware({ mcu: "stm32f103xe" });
    for (const extra of [[], ["--force"]]) {
      const r = await runInProcess(["-i", iface, "-u", UUID, ...extra, file]);
      expect(r.code).toBe(6);
      expect(r.stderr).toMatch(/built for stm32f103xe, but the bootloader runs on stm32g0b1xx/);
      expect(r.stderr).toMatch(/Processor model/);
      expect(r.stderr).toMatch(/Nothing was written/);
    }
    expect(device!.events.some((e) => e.type === "connect")).toBe(true);
    expect(writes()).toBe(0);
  });

  it("refuses an image for another CAN bitrate before sending a frame; --force flashes it", async () => {
    const iface = bus(1_000_000);
    const file = firmware({ canbusFrequency: 500_000 });
    const r = await runInProcess(["-i", iface, "-u", UUID, file]);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/talks CAN at 500000 bit\/s, but .* runs at 1000000 bit\/s/);
    expect(r.stderr).toMatch(/--force/);
    expect(framesFromHost()).toBe(0);

    const forced = await runInProcess(["-i", iface, "-u", UUID, "--force", file]);
    expect(forced.code).toBe(0);
    expect(writes()).toBeGreaterThan(0);
  });

  it("refuses a USB build over CAN without asking a running Klipper node into its bootloader", async () => {
    const iface = bus(1_000_000, "klipper");
    const r = await runInProcess(["-i", iface, "-u", UUID, firmware({ transport: "usb" })]);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/USB build/);
    expect(device!.events.some((e) => e.type === "request-bootloader")).toBe(false);
    expect(device!.state.mode).toBe("klipper");
  });

  it("refuses an image linked for another bootloader offset", async () => {
    const iface = bus(1_000_000);
    const r = await runInProcess([
      "-i",
      iface,
      "-u",
      UUID,
      "--force",
      firmware({ linkedFor: 0x08000000 }),
    ]);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/built for a different bootloader offset/);
    expect(r.stderr).toMatch(/Bootloader offset 0x2000/);
    expect(writes()).toBe(0);
  });

  it("a batch refuses the wrong board and flashes the rest; --json carries the code", async () => {
    channel = VirtualCanChannel.create(`preflight-${n++}`, { bitrate: 1_000_000 });
    const good = new SimCanDevice(channel.open({ txQueueLength: 3 }), {
      uuid: "0000000000a1",
      mcu: "stm32g0b1xx",
    });
    const bad = new SimCanDevice(channel.open({ txQueueLength: 3 }), {
      uuid: "0000000000b2",
      mcu: "rp2040",
    });
    good.start();
    bad.start();
    try {
      const r = await runInProcess([
        "-i",
        `virtual:${channel.name}`,
        "-u",
        "0000000000a1",
        "-u",
        "0000000000b2",
        "--keep-going",
        "--json",
        firmware({}),
      ]);
      expect(r.code).toBe(6);
      const result = JSON.parse(r.stdout.trimEnd().split("\n").at(-1)!) as {
        boards: { board: string; result: string; error?: { code: string } }[];
      };
      expect(result.boards.find((b) => b.board === "0000000000a1")?.result).toBe("ok");
      expect(result.boards.find((b) => b.board === "0000000000b2")?.error?.code).toBe(
        "PREFLIGHT_MCU",
      );
      expect(bad.events.some((e) => e.type === "write")).toBe(false);
      expect(good.events.some((e) => e.type === "write")).toBe(true);
    } finally {
      await good.close();
      await bad.close();
    }
  });

  it("--json on a one-board failure: the error's own code, the board row, no stack trace on stderr", async () => {
    const iface = bus(1_000_000);
    const r = await runInProcess([
      "-i",
      iface,
      "-u",
      UUID,
      "--json",
      firmware({ mcu: "stm32f103xe" }),
    ]);
    expect(r.code).toBe(6);
    const result = JSON.parse(r.stdout.trimEnd().split("\n").at(-1)!) as {
      type: string;
      error: { code: string; message: string };
      boards: { board: string; result: string; error?: { code: string; deviceState?: string } }[];
    };
    expect(result.type).toBe("result");
    expect(result.error.code).toBe("PREFLIGHT_MCU");
    expect(result.boards).toEqual([
      expect.objectContaining({
        board: UUID,
        result: "failed",
        error: expect.objectContaining({ code: "PREFLIGHT_MCU", deviceState: "untouched" }),
      }),
    ]);
    expect(r.stderr).toMatch(/^error: connect failed: the image is built for stm32f103xe/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack frames
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(writes()).toBe(0);
  });
});
