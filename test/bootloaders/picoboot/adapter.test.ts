// RP2040 BOOTSEL (PICOBOOT) through the flasher core against the boot ROM
// model on virtual time: golden command packets; reset, exclusive access
// and exit XIP before anything; exactly the 4 KiB sectors the image needs
// erased; 256-byte pages; READ verifies; REBOOT only after it and the device
// leaves the bus; UF2 input with its family id checked; images for the other
// layout (Katapult offset or not) refused before anything is written;
// faults end in typed errors, never a finished flash.
import { describe, expect, it } from "vitest";
import { PicobootAdapter } from "../../../src/bootloaders/picoboot/adapter.js";
import {
  decodeCommand,
  encodeCommand,
  hasBoot2,
  PicobootCmd,
  PicobootStatus,
  rangeArgs,
  sectorsCovering,
} from "../../../src/bootloaders/picoboot/codec.js";
import {
  PicobootCommandError,
  PicobootDidNotRebootError,
  PicobootGoneError,
  PicobootImageLayoutError,
  PicobootNoBootloaderBelowError,
} from "../../../src/bootloaders/picoboot/errors.js";
import { PicobootSession } from "../../../src/bootloaders/picoboot/session.js";
import type { FlashEvent } from "../../../src/flash-api/progress.js";
import { FlashError, VerifyMismatchError } from "../../../src/flasher/errors.js";
import { runFlash } from "../../../src/flasher/execute.js";
import { parseUf2 } from "../../../src/flasher/image/index.js";
import { checkDevice } from "../../../src/flasher/preflight.js";
import { PicobootModel, type PicobootFaults } from "../../../src/sim/usb/picoboot.js";
import { InProcessUsbBackend } from "../../../src/usb/index.js";
import { VirtualClock } from "../../../src/util/clock.js";
import { uf2FromBin } from "../../flasher/image/helpers.js";
import { katapultOffsetImage, rp2040Image } from "./images.js";

const NO_BOOTLOADER = { id: "rp2040-picoboot", appStart: 0x1000_0000 };
const ABOVE_KATAPULT = { id: "rp2040-picoboot-katapult", appStart: 0x1000_4000 };
const RP2040_FAMILY = 0xe48b_ff56;

function rig(target = NO_BOOTLOADER, faults: PicobootFaults = {}, hostWritesDrive = false) {
  const clock = new VirtualClock();
  const model = new PicobootModel({ clock, faults, hostWritesDrive });
  const adapter = new PicobootAdapter({ backend: InProcessUsbBackend.of(model), target });
  const events: FlashEvent[] = [];
  const flash = (img: Uint8Array, at = target.appStart, uf2FamilyId?: number) =>
    clock.run(
      runFlash(
        adapter,
        { segments: [{ address: at, data: img }] },
        {
          clock,
          onEvent: (e) => events.push(e),
          checks: [(plan, d) => checkDevice(undefined, plan, d, { uf2FamilyId })],
        },
      ),
    );
  return { clock, model, adapter, flash, events };
}

const app = (m: PicobootModel, at: number, n: number) =>
  m.flash.subarray(at - 0x1000_0000, at - 0x1000_0000 + n);

describe("PICOBOOT packets (boot/picoboot.h)", () => {
  it("a WRITE command is magic, token, id, size, transfer length, then (address, size)", () => {
    const c = encodeCommand({
      token: 7,
      id: PicobootCmd.WRITE,
      argSize: 8,
      transferLength: 256,
      args: rangeArgs(0x10000100, 256),
    });
    expect(Array.from(c)).toEqual([
      0x0b, 0xd1, 0x1f, 0x43, 7, 0, 0, 0, 0x05, 8, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0x10, 0, 1, 0, 0, 0,
      0, 0, 0, 0, 0, 0, 0,
    ]);
    expect(decodeCommand(c)).toMatchObject({ token: 7, id: 5, argSize: 8, transferLength: 256 });
    expect(decodeCommand(c.subarray(0, 31))).toBeUndefined();
  });

  it("sectors covering pages: each 4 KiB sector once, ascending", () => {
    expect(
      sectorsCovering([
        [0x10000f00, 256],
        [0x10001000, 512],
        [0x10003000, 8192],
      ]),
    ).toEqual([0x10000000, 0x10001000, 0x10003000, 0x10004000]);
  });

  it("the model refuses a misaligned erase with BAD_ALIGNMENT, stalls until the interface is reset", async () => {
    const clock = new VirtualClock();
    const model = new PicobootModel({ clock });
    const usb = InProcessUsbBackend.of(model);
    const dev = await usb.open((await usb.list())[0]!);
    await dev.claimInterface(1);
    const s = new PicobootSession(dev, { iface: 1, out: 0x03, in: 0x84 });
    await s.resetInterface();
    const err = await clock.run(s.erase(0x10000800, 4096)).catch((e) => e);
    expect(err).toBeInstanceOf(PicobootCommandError);
    expect(err.status).toBe(PicobootStatus.BAD_ALIGNMENT);
    expect(err.message).toMatch(/FLASH ERASE at 0x10000800 failed: bad alignment/);
    const err2 = await clock.run(s.write(0x11000000, new Uint8Array(256))).catch((e) => e);
    expect(err2.status).toBe(PicobootStatus.INVALID_ADDRESS);
    await clock.run(s.erase(0x10000000, 4096)); // the session reset the interface: it works again
  });
});

describe("PICOBOOT through the flasher core", () => {
  it("no bootloader: erases the sectors the image needs, writes pages, verifies by READ, reboots", async () => {
    const r = rig();
    r.model.flash.fill(0x00, 0x20000, 0x21000); // something beyond the image: must survive
    const img = rp2040Image(50_000, 1);
    const res = await r.flash(img);
    expect(res.verified).toBe(true);
    expect(Buffer.from(app(r.model, 0x1000_0000, img.length)).equals(Buffer.from(img))).toBe(true);
    expect(r.model.sectorsErased).toBe(Math.ceil(50_000 / 4096));
    expect(r.model.flash.subarray(0x20000, 0x21000).every((b) => b === 0)).toBe(true);
    expect(r.model.commands.slice(0, 2)).toEqual([
      PicobootCmd.EXCLUSIVE_ACCESS,
      PicobootCmd.EXIT_XIP,
    ]);
    expect(r.model.commands.at(-1)).toBe(PicobootCmd.REBOOT);
    expect(r.model.commands.filter((c) => c === PicobootCmd.READ).length).toBe(
      Math.ceil(50_000 / 256),
    );
    expect(r.model.mode).toBe("application");
    expect(r.model.generation).toBeUndefined();
  });

  it("a UF2 for the RP2040 flashes; a UF2 with another family id is refused before anything is written", async () => {
    const img = rp2040Image(9000, 2);
    const uf2 = parseUf2(uf2FromBin(img, 0x1000_0000, RP2040_FAMILY));
    const r = rig();
    const res = await r.clock.run(
      runFlash(r.adapter, uf2, {
        clock: r.clock,
        checks: [(p, d) => checkDevice(undefined, p, d, uf2)],
      }),
    );
    expect(res.verified).toBe(true);
    expect(Buffer.from(app(r.model, 0x1000_0000, img.length)).equals(Buffer.from(img))).toBe(true);

    const other = parseUf2(uf2FromBin(img, 0x1000_0000, 0x57755a57)); // STM32F4
    const r2 = rig();
    const err = await r2.clock
      .run(
        runFlash(r2.adapter, other, {
          clock: r2.clock,
          checks: [(p, d) => checkDevice(undefined, p, d, other)],
        }),
      )
      .catch((e) => e);
    expect(err.deviceState).toBe("untouched");
    expect(err.cause.code).toBe("PREFLIGHT_UF2_FAMILY");
    expect(r2.model.sectorsErased + r2.model.pagesWritten).toBe(0);
  });

  it("above Katapult: writes from 0x10004000, Katapult's 16 KiB untouched", async () => {
    const r = rig(ABOVE_KATAPULT);
    const katapult = rp2040Image(16384, 3);
    r.model.flash.set(katapult, 0);
    const img = katapultOffsetImage(30_000, 4);
    const res = await r.flash(img);
    expect(res.verified).toBe(true);
    expect(Buffer.from(r.model.flash.subarray(0, 16384)).equals(Buffer.from(katapult))).toBe(true);
    expect(Buffer.from(app(r.model, 0x1000_4000, img.length)).equals(Buffer.from(img))).toBe(true);
  });

  it.each([
    [
      "a Katapult-offset build written without Katapult",
      NO_BOOTLOADER,
      () => katapultOffsetImage(9000, 5),
      0x1000_0000,
      "katapult-offset",
    ],
    [
      "a Katapult-offset .uf2 (starting at 0x10004000) without Katapult",
      NO_BOOTLOADER,
      () => katapultOffsetImage(9000, 5),
      0x1000_4000,
      "katapult-offset",
    ],
    [
      "a No-bootloader build written above Katapult",
      ABOVE_KATAPULT,
      () => rp2040Image(9000, 6),
      0x1000_4000,
      "no-bootloader",
    ],
  ] as const)("refused before anything is written: %s", async (_name, target, make, at, found) => {
    const r = rig(target);
    r.model.flash.set(rp2040Image(4096, 9), 0);
    const err = await r.flash(make(), at).catch((e) => e);
    expect(err).toBeInstanceOf(FlashError);
    expect(err.deviceState).toBe("untouched");
    expect(err.cause).toBeInstanceOf(PicobootImageLayoutError);
    expect(err.cause.found).toBe(found);
    expect(r.model.sectorsErased + r.model.pagesWritten).toBe(0);
    expect(r.model.exclusive).toBe(0); // the drive was given back
  });

  it("above Katapult with no boot2 at the flash start: refused (the board would not boot)", async () => {
    const r = rig(ABOVE_KATAPULT);
    expect(hasBoot2(r.model.flash)).toBe(false);
    const err = await r.flash(katapultOffsetImage(9000, 7)).catch((e) => e);
    expect(err.cause).toBeInstanceOf(PicobootNoBootloaderBelowError);
    expect(r.model.pagesWritten).toBe(0);
  });

  it("exclusive access lets the flash go on while the OS writes to the BOOTSEL drive", async () => {
    const r = rig(NO_BOOTLOADER, {}, true);
    expect((await r.flash(rp2040Image(5000, 8))).verified).toBe(true);
  });

  it("the device gone mid-write: PICOBOOT_GONE with a partial image, never rebooted", async () => {
    const r = rig(NO_BOOTLOADER, { unplugAfterPages: 20 });
    const err = await r.flash(rp2040Image(20_000, 1)).catch((e) => e);
    expect(err.phase).toBe("write");
    expect(err.cause).toBeInstanceOf(PicobootGoneError);
    expect(err.cause.changed).toBe(true);
    expect(r.events.some((e) => e.type === "phase-start" && e.phase === "finish")).toBe(false);
  });

  it("a STALL on a write: the status is read (unknown error), the board stays in BOOTSEL, no REBOOT", async () => {
    const r = rig(NO_BOOTLOADER, { failWriteFromPage: 5 });
    const err = await r.flash(rp2040Image(20_000, 1)).catch((e) => e);
    expect(err.cause).toBeInstanceOf(PicobootCommandError);
    expect(err.cause.status).toBe(PicobootStatus.UNKNOWN_ERROR);
    expect(err.cause.address).toBe(0x1000_0500);
    expect(r.model.commands).not.toContain(PicobootCmd.REBOOT);
    expect(r.model.mode).toBe("bootsel");
  });

  it("a page that reads back wrong: VERIFY mismatch at its address, no REBOOT", async () => {
    const r = rig(NO_BOOTLOADER, { corruptAddress: 0x1000_1234 });
    const err = await r.flash(rp2040Image(20_000, 1)).catch((e) => e);
    expect(err.phase).toBe("verify");
    expect(err.cause).toBeInstanceOf(VerifyMismatchError);
    expect(err.cause.address).toBe(0x1000_1234);
    expect(r.model.commands).not.toContain(PicobootCmd.REBOOT);
  });

  it("a boot ROM that stays after REBOOT: PICOBOOT_DID_NOT_REBOOT, not a success", async () => {
    const r = rig(NO_BOOTLOADER, { ignoreReboot: true });
    const err = await r.flash(rp2040Image(2000, 1)).catch((e) => e);
    expect(err.phase).toBe("finish");
    expect(err.cause).toBeInstanceOf(PicobootDidNotRebootError);
  });

  it("touched out of Klipper and then refused with nothing written: REBOOT sends it back to its application", async () => {
    const clock = new VirtualClock();
    const model = new PicobootModel({ clock });
    model.unplug();
    model.flash.set(rp2040Image(8192, 1), 0); // the Klipper it runs
    const before = Buffer.from(model.flash);
    const adapter = new PicobootAdapter({
      backend: InProcessUsbBackend.of(model),
      target: NO_BOOTLOADER,
      request: async () => void clock.schedule(400, () => model.plug()),
    });
    const err = await clock
      .run(
        runFlash(
          adapter,
          { segments: [{ address: 0x1000_0000, data: katapultOffsetImage(9000, 2) }] },
          { clock },
        ),
      )
      .catch((e) => e);
    expect(err.cause).toBeInstanceOf(PicobootImageLayoutError);
    expect(err.returnedToApplication).toBe(true);
    expect(model.mode).toBe("application");
    expect(Buffer.from(model.flash).equals(before)).toBe(true);
  });

  it("a touch that fails (no such tty) is the error, not a wait for a device that cannot come", async () => {
    const clock = new VirtualClock();
    const model = new PicobootModel({ clock });
    model.unplug();
    const adapter = new PicobootAdapter({
      backend: InProcessUsbBackend.of(model),
      target: NO_BOOTLOADER,
      request: async () => {
        throw new Error("no such tty");
      },
    });
    const err = await clock
      .run(
        runFlash(
          adapter,
          { segments: [{ address: 0x1000_0000, data: rp2040Image(4096, 2) }] },
          { clock },
        ),
      )
      .catch((e) => e);
    expect(err.phase).toBe("enter");
    expect(err.cause.message).toBe("no such tty");
    expect(clock.now()).toBeLessThan(100);
  });
});
