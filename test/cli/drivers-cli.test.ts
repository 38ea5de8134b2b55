// The driver table as users meet it: a row this build cannot flash, a row
// over the wrong kind of link, a bootloader that cannot be asked to stay,
// an AVR image with two bootloader variants — each refused with its code,
// its fix and nothing sent.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { VirtualCanChannel } from "../../src/can/virtual.js";
import { SimCanDevice } from "../../src/sim/device.js";
import { klipperImage } from "../../src/sim/klipper-image.js";
import { randomBytes } from "../../src/util/random.js";
import { canflash, runInProcess } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "canflash-drivers-"));
const bin = join(dir, "klipper.bin");
writeFileSync(bin, randomBytes(4096, 3));
const missingTty = join(dir, "ttyACM9"); // opening it would fail with exit 5, not 2

let channel: VirtualCanChannel | undefined;
let device: SimCanDevice | undefined;
afterEach(async () => {
  await device?.close();
  channel?.remove();
});

describe("the driver table from the command line", () => {
  it("a row its driver does not flash: exit 2 with the seed's command, the port never opened", async () => {
    // (every protocol has a driver now; the Arduino M0's bootloader only borrows STK500v2's framing)
    const r = await canflash(["--target", "samd21-m0-stk500v2", "-d", missingTty, bin]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /target samd21-m0-stk500v2 uses the stk500v2 protocol, which this build of canflash cannot flash yet/,
    );
    expect(r.stderr).toMatch(/the seed's command for it: avrdude -c stk500v2 -p atmega2560/);
  });

  it("an AVR row with a CAN UUID: exit 2, the board's tty is what it takes; no frame is sent", async () => {
    channel = VirtualCanChannel.create("drivers-link", { bitrate: 1_000_000 });
    device = new SimCanDevice(channel.open({ txQueueLength: 3 }), {
      uuid: "8266c4636429",
      boot: "katapult",
    });
    device.start();
    const r = await runInProcess([
      "-i",
      "virtual:drivers-link",
      "--target",
      "avr-m2560-wiring",
      "-u",
      "8266c4636429",
      bin,
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/target avr-m2560-wiring \(stk500v2\) is not flashed over can/);
    expect(r.stderr).toMatch(/canflash --target avr-m2560-wiring -d \/dev\/serial\/by-id\//);
    expect(device.events.filter((e) => e.type !== "boot")).toEqual([]);
  });

  it("-r on an AVR bootloader: refused before the port is opened, with the command that does work", async () => {
    const r = await canflash(["--target", "avr-m2560-wiring", "-d", missingTty, "-r"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/listens only about 0\.8 s after a reset/);
    expect(r.stderr).toContain(`canflash --target avr-m2560-wiring -d ${missingTty} <file>`);
  });

  it("-d without --target and an image for a chip with two AVR bootloaders: exit 2, both named", async () => {
    const hex = join(dir, "k-1284p.bin");
    writeFileSync(
      hex,
      klipperImage({ mcu: "atmega1284p", transport: "serial", appStart: 0, size: 8192 }),
    );
    const r = await canflash(["-d", missingTty, hex]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Klipper build for atmega1284p, which has 2 bootloader variants/);
    expect(r.stderr).toMatch(
      /pick one: --target avr-m1284p-arduino or --target avr-m1284p-arduino-57600/,
    );
  });

  it("--json: the refusal's code in the result object", async () => {
    const r = await canflash(["--target", "samd21-m0-stk500v2", "-d", missingTty, "--json", bin]);
    const last = JSON.parse(r.stdout.trimEnd().split("\n").at(-1)!) as {
      error: { code: string };
    };
    expect(last.error.code).toBe("BOOTLOADER_UNSUPPORTED");
  });

  it("line settings: refused for a bootloader that does not speak them, for CAN boards, and when malformed", async () => {
    const a = await canflash(["-d", missingTty, "--serial-mode", "8e1", bin]);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/target katapult's bootloader talks 8n1, not 8e1/);
    const b = await canflash(["-i", "sim", "-u", "8266c4636429", "-b", "250000", bin]);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/-b is for boards on a tty \(-d\)/);
    const c = await canflash(["-d", missingTty, "--serial-mode", "9x1", bin]);
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/"9x1" is not a serial line mode/);
  });

  it("an image for another MCU than the target row is refused before any frame", async () => {
    channel = VirtualCanChannel.create("drivers-mcu", { bitrate: 1_000_000 });
    device = new SimCanDevice(channel.open({ txQueueLength: 3 }), {
      uuid: "8266c4636429",
      boot: "klipper",
    });
    device.start();
    const img = join(dir, "k-g0.bin");
    writeFileSync(
      img,
      klipperImage({ mcu: "stm32g0b1xx", transport: "can", appStart: 0x08002000 }),
    );
    const r = await runInProcess([
      "-i",
      "virtual:drivers-mcu",
      "--target",
      "stm32f0x2-f103-canboot",
      "-u",
      "8266c4636429",
      img,
    ]);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(
      /the image is built for stm32g0b1xx, but target stm32f0x2-f103-canboot is stm32f103xe/,
    );
    expect(device.events.filter((e) => e.type !== "boot")).toEqual([]);
    expect(device.state.mode).toBe("klipper");
  });
});
