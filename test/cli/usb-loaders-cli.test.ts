// The spawned canflash against HalfKay, HID bootloader and PICOBOOT models
// served on Unix sockets (CANFLASH_USB_SOCKETS, the socket backend): each
// row by --target and by USB id, the result line saying what could be
// checked (HalfKay and the HID bootloader cannot read back), and failures
// that never print a success line.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { halfKayPart } from "../../src/bootloaders/halfkay/codec.js";
import { HalfKayModel, type HalfKayFaults } from "../../src/sim/usb/halfkay.js";
import { HidBootloaderModel } from "../../src/sim/usb/hid-bootloader.js";
import { PicobootModel } from "../../src/sim/usb/picoboot.js";
import { serveUsbModel } from "../../src/sim/usb/serve.js";
import type { UsbDeviceModel } from "../../src/usb/model.js";
import { realClock } from "../../src/util/clock.js";
import { randomBytes } from "../../src/util/random.js";
import { intelHex } from "../bootloaders/stm32-usart/images.js";
import { katapultOffsetImage, rp2040Image } from "../bootloaders/picoboot/images.js";
import { openPty } from "../fakes/pty.js";
import { appImage, BIN, type CliResult } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "canflash-usb-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, data: Uint8Array | string): string {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
}

/** canflash with the models served on sockets as its USB devices. */
async function withModels(models: UsbDeviceModel[], args: string[]): Promise<CliResult> {
  const served = models.map((m, i) => serveUsbModel(m, join(dir, `${m.name}-${i}.sock`)));
  await Promise.all(served.map((s) => s.ready()));
  try {
    return await new Promise<CliResult>((resolve) => {
      const child = spawn(process.execPath, [BIN, ...args], {
        env: { ...process.env, CANFLASH_USB_SOCKETS: served.map((s) => s.path).join(":") },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.on("close", (code) => resolve({ code, stdout, stderr }));
    });
  } finally {
    await Promise.all(served.map((s) => s.close()));
  }
}

const SUCCESS = /Programming Complete|Wrote (and verified )?\d+ bytes/;

describe("canflash on USB bootloaders (spawned, socket backend)", () => {
  it("HalfKay by --target: writes the HEX, says it could not verify, the Teensy leaves HalfKay", async () => {
    const part = halfKayPart("at90usb1286")!;
    const m = new HalfKayModel({ part, clock: realClock });
    const img = randomBytes(20_000, 1);
    const r = await withModels(
      [m],
      ["--target", "teensy-at90usb1286", "-d", "usb:16c0:0478", file("t.hex", intelHex(0, img))],
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/cannot read back, so the flash was not verified/);
    expect(r.stdout).not.toMatch(/Verification Complete/);
    expect(Buffer.from(m.application().subarray(0, img.length)).equals(Buffer.from(img))).toBe(
      true,
    );
    expect(m.mode).toBe("program");
  });

  it("HalfKay by its USB id alone (the one row for 16c0:0478)", async () => {
    const m = new HalfKayModel({ part: halfKayPart("at90usb1286")!, clock: realClock });
    const r = await withModels(
      [m],
      ["-d", "usb:16c0:0478", file("t2.hex", intelHex(0, randomBytes(3000, 2)))],
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(m.blocks).toBe(12);
  });

  it("HalfKay that never leaves after the boot report: exit 1, the cause, no success line", async () => {
    const faults: HalfKayFaults = { ignoreBoot: true };
    const m = new HalfKayModel({ part: halfKayPart("at90usb1286")!, clock: realClock, faults });
    const r = await withModels(
      [m],
      [
        "--target",
        "teensy-at90usb1286",
        "-d",
        "usb:",
        file("t3.hex", intelHex(0, randomBytes(1000, 3))),
      ],
    );
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toMatch(/still in HalfKay/);
    expect(r.stdout).not.toMatch(SUCCESS);
  });

  it("the HID bootloader (F1): streams from 0x08000800, unverified and said so", async () => {
    const m = new HidBootloaderModel({ build: "f1", clock: realClock });
    const img = await appImage(6000, 4, 0x0800_0800);
    const r = await withModels(
      [m],
      ["--target", "stm32f103-hid", "-d", "usb:1209:beba", file("h.bin", img)],
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/cannot read back, so the flash was not verified/);
    expect(Buffer.from(m.application().subarray(0, img.length)).equals(Buffer.from(img))).toBe(
      true,
    );
    expect(m.mode).toBe("application");
  });

  it("the HID bootloader gone mid-write: exit 1, partial image named, no success line", async () => {
    const m = new HidBootloaderModel({
      build: "f4",
      clock: realClock,
      faults: { unplugAfterBytes: 4096 },
    });
    const img = await appImage(20_000, 5, 0x0800_4000);
    const r = await withModels(
      [m],
      ["--target", "stm32f4-hid", "-d", "usb:1209:beba", file("h2.bin", img)],
    );
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toMatch(/partial image/);
    expect(r.stdout).not.toMatch(SUCCESS);
  });

  it("PICOBOOT: a UF2 (family id checked) is written, verified by READ, and the RP2040 reboots", async () => {
    const m = new PicobootModel({ clock: realClock });
    const img = rp2040Image(30_000, 6);
    const { uf2FromBin } = await import("../flasher/image/helpers.js");
    const uf2 = uf2FromBin(img, 0x1000_0000, 0xe48b_ff56);
    const r = await withModels(
      [m],
      ["--target", "rp2040-picoboot", "-d", "usb:2e8a:0003", file("p.uf2", uf2)],
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Verification Complete/);
    expect(Buffer.from(m.flash.subarray(0, img.length)).equals(Buffer.from(img))).toBe(true);
    expect(m.mode).toBe("application");
  });

  it("PICOBOOT: an image for Katapult's offset without Katapult is refused (exit 6), nothing erased", async () => {
    const m = new PicobootModel({ clock: realClock });
    const r = await withModels(
      [m],
      ["--target", "rp2040-picoboot", "-d", "usb:", file("k.bin", katapultOffsetImage(9000, 7))],
    );
    expect(r.code, r.stdout + r.stderr).toBe(6);
    expect(r.stdout + r.stderr).toMatch(/bootloader offset/);
    expect(m.sectorsErased + m.pagesWritten).toBe(0);
  });

  it.each([
    [
      "stm32f103-hid",
      () => new HidBootloaderModel({ build: "f1", clock: realClock }),
      () => appImage(5000, 9, 0x0800_0800),
    ],
    [
      "rp2040-picoboot",
      () => new PicobootModel({ clock: realClock }),
      async () => rp2040Image(5000, 9),
    ],
  ] as const)(
    "%s from a running Klipper: -d <its tty> touches it at 1200 baud, then flashes the bootloader that appears",
    async (target, make, image) => {
      const m = make();
      m.unplug(); // Klipper runs: no bootloader on the bus yet
      const pty = await openPty();
      let touched = false;
      pty.onBaud((b) => {
        if (b === 1200 && !touched) {
          touched = true;
          setTimeout(() => m.plug(), 300); // the board resets into its bootloader
        }
      });
      try {
        const r = await withModels(
          [m],
          ["--target", target, "-d", pty.path, file(`${target}.bin`, await image())],
        );
        expect(r.code, r.stdout + r.stderr).toBe(0);
        expect(touched).toBe(true);
        expect(r.stdout).toMatch(/1200-baud touch/);
        expect(m.mode).toBe("application");
      } finally {
        await pty.close();
      }
    },
  );

  it("-r from a running Klipper: the touch, then the bootloader is on USB and stays there", async () => {
    const m = new PicobootModel({ clock: realClock });
    m.unplug();
    const pty = await openPty();
    pty.onBaud((b) => {
      if (b === 1200) setTimeout(() => m.plug(), 200);
    });
    try {
      const r = await withModels([m], ["-r", "--target", "rp2040-picoboot", "-d", pty.path]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/2e8a:0003/);
      expect(m.mode).toBe("bootsel");
      expect(m.generation).toBeDefined();
      expect(m.sectorsErased + m.pagesWritten).toBe(0);
    } finally {
      await pty.close();
    }
  });

  it("doctor lists each bootloader with what it is and the command that flashes it; -s reports each", async () => {
    const models = () => [
      new HalfKayModel({ part: halfKayPart("at90usb1286")!, clock: realClock }),
      new HidBootloaderModel({ build: "f4", clock: realClock }),
      new PicobootModel({ clock: realClock }),
    ];
    const d = await withModels(models(), ["doctor"]);
    expect(d.stdout).toMatch(
      /16c0:0478.*HalfKay.*canflash --target teensy-at90usb1286 -d usb:16c0:0478/,
    );
    expect(d.stdout).toMatch(/1209:beba.*canflash --target <stm32f103-hid\|stm32f4-hid>/);
    expect(d.stdout).toMatch(
      /2e8a:0003.*BOOTSEL.*canflash --target <rp2040-picoboot\|rp2040-picoboot-katapult>/,
    );
    const s1 = await withModels(models(), ["-s", "-d", "usb:16c0:0478"]);
    expect(s1.code, s1.stdout + s1.stderr).toBe(0);
    expect(s1.stdout).toMatch(/Read-back: none/);
    const s2 = await withModels(models(), ["-s", "--target", "stm32f4-hid", "-d", "usb:"]);
    expect(s2.stdout).toMatch(/Version: 3\.00/);
    const s3 = await withModels(models(), ["-s", "--target", "rp2040-picoboot", "-d", "usb:"]);
    expect(s3.stdout).toMatch(/Interface: PICOBOOT/);
  });

  it("--dry-run on each: plans the blocks, writes nothing, the board stays in its bootloader", async () => {
    const hk = new HalfKayModel({ part: halfKayPart("at90usb1286")!, clock: realClock });
    const r1 = await withModels(
      [hk],
      ["--dry-run", "-d", "usb:16c0:0478", file("d.hex", intelHex(0, randomBytes(5000, 1)))],
    );
    expect(r1.code, r1.stdout + r1.stderr).toBe(0);
    expect(hk.blocks).toBe(0);
    expect(hk.mode).toBe("halfkay");
    const hid = new HidBootloaderModel({ build: "f1", clock: realClock });
    const r2 = await withModels(
      [hid],
      [
        "--dry-run",
        "--target",
        "stm32f103-hid",
        "-d",
        "usb:",
        file("d.bin", await appImage(5000, 2, 0x0800_0800)),
      ],
    );
    expect(r2.code, r2.stdout + r2.stderr).toBe(0);
    expect(hid.written).toBe(0);
    expect(hid.mode).toBe("bootloader");
    const pb = new PicobootModel({ clock: realClock });
    const r3 = await withModels(
      [pb],
      [
        "--dry-run",
        "--target",
        "rp2040-picoboot",
        "-d",
        "usb:",
        file("d2.bin", rp2040Image(5000, 3)),
      ],
    );
    expect(r3.code, r3.stdout + r3.stderr).toBe(0);
    expect(pb.sectorsErased + pb.pagesWritten).toBe(0);
    expect(pb.mode).toBe("bootsel");
    expect(pb.exclusive).toBe(0);
    expect(r1.stdout + r2.stdout + r3.stdout).not.toMatch(SUCCESS);
  });

  it("no device on the bus: a clear not-found error, no success line", async () => {
    const m = new PicobootModel({ clock: realClock });
    m.unplug();
    const r = await withModels(
      [m],
      ["--target", "rp2040-picoboot", "-d", "usb:2e8a:0003", file("n.bin", rp2040Image(4096, 8))],
    );
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/2e8a:0003/);
    expect(r.stdout).not.toMatch(SUCCESS);
  }, 30_000);
});
