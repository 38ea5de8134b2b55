// HalfKay through the flasher core against the at90usb1286 model on virtual
// time: golden reports, block 0 first (HalfKay erases on it) and blank
// blocks skipped, a HEX image above 64 KiB, no verification (said so), the
// boot report and the device leaving the bus; faults end with a typed error
// and never a finished flash.
import { describe, expect, it } from "vitest";
import {
  decodeReport,
  encodeBootReport,
  encodeWriteReport,
  halfKayPart,
  reportLength,
} from "../../../src/bootloaders/halfkay/codec.js";
import { HalfKayAdapter } from "../../../src/bootloaders/halfkay/adapter.js";
import {
  HalfKayDidNotBootError,
  HalfKayGoneError,
  HalfKayWriteError,
} from "../../../src/bootloaders/halfkay/errors.js";
import { FlashError } from "../../../src/flasher/errors.js";
import { runFlash } from "../../../src/flasher/execute.js";
import { parseIntelHex } from "../../../src/flasher/image/index.js";
import { HalfKayModel, type HalfKayFaults } from "../../../src/sim/usb/halfkay.js";
import { InProcessUsbBackend } from "../../../src/usb/index.js";
import type { FlashEvent } from "../../../src/flash-api/progress.js";
import { UsbDeviceNotFoundError } from "../../../src/usb/errors.js";
import { VirtualClock } from "../../../src/util/clock.js";
import { randomBytes } from "../../../src/util/random.js";
import { intelHex } from "../stm32-usart/images.js";

const part = halfKayPart("at90usb1286")!;

function rig(faults: HalfKayFaults = {}, plugged = true) {
  const clock = new VirtualClock();
  const model = new HalfKayModel({ part, clock, faults });
  if (!plugged) model.unplug();
  const backend = InProcessUsbBackend.of(model);
  const adapter = new HalfKayAdapter({ backend, part, appearTimeoutMs: 2000 });
  const events: FlashEvent[] = [];
  const flash = (hex: string) =>
    clock.run(
      runFlash(adapter, parseIntelHex(new TextEncoder().encode(hex)), {
        clock,
        onEvent: (e) => events.push(e),
      }),
    );
  return { clock, model, adapter, flash, events };
}

describe("HalfKay reports (halfkay.md §3, §5, §7)", () => {
  it("at90usb1286: 258 bytes, address >> 8 and >> 16; boot is FF FF FF then zeros", () => {
    expect(reportLength(part)).toBe(258);
    const r = encodeWriteReport(part, 0x12300, new Uint8Array(256).fill(0xab));
    expect(Array.from(r.subarray(0, 3))).toEqual([0x23, 0x01, 0xab]);
    expect(decodeReport(part, r)).toMatchObject({ kind: "write", address: 0x12300 });
    const b = encodeBootReport(part);
    expect(b.length).toBe(258);
    expect(Array.from(b.subarray(0, 4))).toEqual([0xff, 0xff, 0xff, 0]);
    expect(b.subarray(3).every((x) => x === 0)).toBe(true);
    expect(decodeReport(part, b)).toEqual({ kind: "boot" });
  });

  it("small parts address by byte, little endian", () => {
    const p = halfKayPart("atmega32u4")!;
    const r = encodeWriteReport(p, 0x7e80, new Uint8Array(128));
    expect(r.length).toBe(130);
    expect(Array.from(r.subarray(0, 2))).toEqual([0x80, 0x7e]);
    expect(() => encodeWriteReport(p, 0x40, new Uint8Array(128))).toThrow(RangeError);
  });
});

describe("HalfKay through the flasher core", () => {
  it("writes a 100 KiB HEX image (blocks above 64 KiB), skips blank blocks, says it cannot verify, boots", async () => {
    const r = rig();
    const img = randomBytes(100 * 1024, 7);
    img.fill(0xff, 0x4000, 0x4400); // four blank blocks: never sent
    const res = await r.flash(intelHex(0, img));
    expect(res.verified).toBe(false);
    expect(
      Buffer.from(r.model.application().subarray(0, img.length)).equals(Buffer.from(img)),
    ).toBe(true);
    expect(
      r.model
        .application()
        .subarray(img.length)
        .every((b) => b === 0xff),
    ).toBe(true);
    expect(r.model.blocks).toBe(400 - 4);
    expect(r.model.mode).toBe("program");
    expect(r.model.generation).toBeUndefined();
    expect(r.events.some((e) => e.type === "info" && /no read-back/.test(e.message))).toBe(true);
    expect(r.events.some((e) => e.type === "phase-start" && e.phase === "verify")).toBe(false);
    // the first block carries the erase of the whole application (508 pages)
    expect(res.phaseMs.write!).toBeGreaterThan(2000);
  });

  it("an image without data in block 0 still sends block 0 first (blank), so HalfKay erases before the rest", async () => {
    const r = rig();
    r.model.flash.fill(0x00, 0, 0x1000); // old program
    const img = randomBytes(600, 3);
    await r.flash(intelHex(0x1000, img));
    const reports = r.model.log.filter((q) => q.op === "control" && q.setup.bRequest === 9);
    expect(
      decodeReport(part, reports[0]!.op === "control" ? reports[0]!.data! : new Uint8Array()),
    ).toMatchObject({
      address: 0,
    });
    expect(r.model.flash.subarray(0, 0x1000).every((b) => b === 0xff)).toBe(true);
    expect(Buffer.from(r.model.flash.subarray(0x1000, 0x1000 + 600)).equals(Buffer.from(img))).toBe(
      true,
    );
  });

  it("an image reaching into HalfKay's 1 KiB is refused before the device is written", async () => {
    const r = rig();
    const err = await r.flash(intelHex(0x1fb00, randomBytes(0x200, 1))).catch((e) => e);
    expect(err).toBeInstanceOf(FlashError);
    expect(err.deviceState).toBe("untouched");
    expect(err.cause.code).toBe("IMAGE_DOES_NOT_FIT");
    expect(r.model.blocks).toBe(0);
  });

  it("no Teensy in HalfKay: a clear not-found error after the wait, asking for the program button", async () => {
    const r = rig({}, false);
    const err = await r.flash(intelHex(0, randomBytes(512, 1))).catch((e) => e);
    expect(err.phase).toBe("enter");
    expect(err.cause).toBeInstanceOf(UsbDeviceNotFoundError);
    expect(err.cause.message).toMatch(/16c0:0478/);
    expect(
      r.events.some((e) => e.type === "info" && /press the program button/.test(e.message)),
    ).toBe(true);
  });

  it("the program button pressed during the wait: the flash goes on", async () => {
    const r = rig({}, false);
    r.clock.schedule(700, () => r.model.plug());
    const res = await r.flash(intelHex(0, randomBytes(512, 1)));
    expect(res.dryRun).toBe(false);
    expect(r.model.mode).toBe("program");
  });

  it("the device gone mid-write: HALFKAY_GONE naming the partial image, never finished", async () => {
    const r = rig({ unplugAfterBlocks: 10 });
    const err = await r.flash(intelHex(0, randomBytes(8000, 2))).catch((e) => e);
    expect(err).toBeInstanceOf(FlashError);
    expect(err.phase).toBe("write");
    expect(err.deviceState).toBe("in-bootloader");
    expect(err.cause).toBeInstanceOf(HalfKayGoneError);
    expect(err.cause.blocksWritten).toBe(10);
    expect(err.cause.message).toMatch(/partial image/);
    expect(r.events.some((e) => e.type === "phase-start" && e.phase === "finish")).toBe(false);
  });

  it("a STALL on a block: retried every 10 ms for 0.5 s, then HALFKAY_WRITE_FAILED with the address; no boot report", async () => {
    const r = rig({ stallFromBlock: 8 });
    const err = await r.flash(intelHex(0, randomBytes(8000, 2))).catch((e) => e);
    expect(err.cause).toBeInstanceOf(HalfKayWriteError);
    expect(err.cause.address).toBe(0x800);
    expect(err.cause.attempts).toBeGreaterThan(40);
    expect(err.cause.cause.code).toBe("USB_STALL");
    const boot = r.model.log.some(
      (q) => q.op === "control" && q.data && decodeReport(part, q.data)?.kind === "boot",
    );
    expect(boot).toBe(false);
    expect(r.model.generation).toBeDefined();
  });

  it("HalfKay that stays after the boot report: HALFKAY_DID_NOT_BOOT, not a success", async () => {
    const r = rig({ ignoreBoot: true });
    const err = await r.flash(intelHex(0, randomBytes(1024, 2))).catch((e) => e);
    expect(err.phase).toBe("finish");
    expect(err.cause).toBeInstanceOf(HalfKayDidNotBootError);
  });
});
