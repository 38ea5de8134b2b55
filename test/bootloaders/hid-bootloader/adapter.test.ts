// The STM32 HID bootloader through the flasher core against the F1 and F4
// builds on virtual time: golden reports, the image streamed in KiB from
// the application start, zero padding (to 2 KiB where the build acks 0x03),
// no verification (said so), REBOOT and the device leaving the bus; an old
// bootloader refused before anything is sent; faults end with a typed error
// and never a finished flash.
import { describe, expect, it } from "vitest";
import { HidBootloaderAdapter } from "../../../src/bootloaders/hid-bootloader/adapter.js";
import {
  decodeAck,
  decodeCommand,
  encodeAck,
  encodeCommand,
} from "../../../src/bootloaders/hid-bootloader/codec.js";
import {
  HidBootloaderDidNotRebootError,
  HidBootloaderGoneError,
  HidBootloaderNoAckError,
  HidBootloaderTooOldError,
  HidBootloaderWriteError,
} from "../../../src/bootloaders/hid-bootloader/errors.js";
import type { FlashEvent } from "../../../src/flash-api/progress.js";
import { FlashError } from "../../../src/flasher/errors.js";
import { runFlash } from "../../../src/flasher/execute.js";
import {
  HidBootloaderModel,
  type HidBootloaderBuild,
  type HidBootloaderFaults,
} from "../../../src/sim/usb/hid-bootloader.js";
import { InProcessUsbBackend } from "../../../src/usb/index.js";
import { VirtualClock } from "../../../src/util/clock.js";
import { buildDescriptors } from "../../../src/sim/usb/descriptors.js";
import { UsbModelBase } from "../../../src/sim/usb/model-base.js";
import { UsbOtherBootloaderError } from "../../../src/usb/presence.js";
import { randomBytes } from "../../../src/util/random.js";

const F1 = { id: "stm32f103-hid", chip: "stm32f103", appStart: 0x0800_0800, appEnd: 0x0802_0000 };
const F4 = { id: "stm32f4-hid", chip: "stm32f407", appStart: 0x0800_4000, appEnd: 0x0810_0000 };

function rig(build: HidBootloaderBuild, faults: HidBootloaderFaults = {}) {
  const clock = new VirtualClock();
  const model = new HidBootloaderModel({ build, clock, faults });
  const target = build === "f4" ? F4 : F1;
  const adapter = new HidBootloaderAdapter({ backend: InProcessUsbBackend.of(model), target });
  const events: FlashEvent[] = [];
  const flash = (img: Uint8Array) =>
    clock.run(
      runFlash(
        adapter,
        { segments: [{ address: target.appStart, data: img }] },
        { clock, onEvent: (e) => events.push(e) },
      ),
    );
  return { clock, model, adapter, flash, events, target };
}

const infos = (ev: FlashEvent[]) => ev.flatMap((e) => (e.type === "info" ? [e.message] : []));

describe("HID bootloader reports (hid-bootloader.md §3)", () => {
  it("commands are BTLDCMD + cmd + 56 zeros; the F1 needs the zeros, the F4 does not", () => {
    const reset = encodeCommand(0);
    expect(Array.from(reset.subarray(0, 8))).toEqual([0x42, 0x54, 0x4c, 0x44, 0x43, 0x4d, 0x44, 0]);
    expect(reset.length).toBe(64);
    expect(decodeCommand(encodeCommand(1), true)).toBe(1);
    const data = encodeCommand(1);
    data[40] = 7;
    expect(decodeCommand(data, true)).toBeUndefined();
    expect(decodeCommand(data, false)).toBe(1);
    expect(decodeAck(encodeAck(2))).toBe(2);
    expect(decodeAck(encodeAck(3))).toBe(3);
    expect(decodeAck(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 2))).toBeUndefined();
  });
});

describe("the HID bootloader through the flasher core", () => {
  it.each([
    ["f1", 1500, 2048],
    ["f1", 40_000, 40_960],
    ["f4", 70_000, 70_656],
  ] as const)(
    "%s: %i bytes stream from the application start, zero padded to %i, unverified, rebooted",
    async (build, size, padded) => {
      const r = rig(build);
      const img = randomBytes(size, size);
      const res = await r.flash(img);
      expect(res.verified).toBe(false);
      const app = r.model.application();
      expect(Buffer.from(app.subarray(0, size)).equals(Buffer.from(img))).toBe(true);
      expect(app.subarray(size, padded).every((b) => b === 0)).toBe(true);
      expect(app.subarray(padded, padded + 1024).every((b) => b === 0xff)).toBe(true);
      expect(r.model.written).toBe(padded);
      expect(r.model.mode).toBe("application");
      expect(infos(r.events).some((m) => /no read-back/.test(m))).toBe(true);
    },
  );

  it("F1 2 KiB-page build (Klipper's fork, acks 0x03): an odd last KiB gets a zero KiB so its page is written", async () => {
    const r = rig("f1-2k");
    const img = randomBytes(2500, 5);
    await r.flash(img);
    expect(r.model.written).toBe(4096);
    expect(Buffer.from(r.model.application().subarray(0, 2500)).equals(Buffer.from(img))).toBe(
      true,
    );
    expect(
      r.model
        .application()
        .subarray(2500, 4096)
        .every((b) => b === 0),
    ).toBe(true);
    expect(infos(r.events).some((m) => /padded the image/.test(m))).toBe(true);
  });

  it("F4: sectors are erased as pages start them (16 KiB sectors 1-3, then 64 KiB)", async () => {
    const r = rig("f4");
    r.model.flash.fill(0x11, 0x10000, 0x20000); // old firmware in sector 4
    await r.flash(randomBytes(48 * 1024 + 10, 9)); // reaches into sector 4
    expect(r.model.flash.subarray(0x10400, 0x20000).every((b) => b === 0xff)).toBe(true);
  });

  it("a bootloader older than 3.00 is refused before any report", async () => {
    const r = rig("f1", { bcdDevice: 0x0210 });
    const err = await r.flash(randomBytes(2000, 1)).catch((e) => e);
    expect(err).toBeInstanceOf(FlashError);
    expect(err.deviceState).toBe("untouched");
    expect(err.cause).toBeInstanceOf(HidBootloaderTooOldError);
    expect(r.model.log.some((q) => q.op === "control" && q.setup.bRequest === 9)).toBe(false);
  });

  it("the board gone mid-write: HID_BOOTLOADER_GONE, never finished", async () => {
    const r = rig("f1", { unplugAfterBytes: 8192 });
    const err = await r.flash(randomBytes(30_000, 2)).catch((e) => e);
    expect(err.phase).toBe("write");
    expect(err.deviceState).toBe("in-bootloader");
    expect(err.cause).toBeInstanceOf(HidBootloaderGoneError);
    expect(err.cause.message).toMatch(/partial image/);
    expect(r.events.some((e) => e.type === "phase-start" && e.phase === "finish")).toBe(false);
  });

  it("a STALL on every report: retried 20 times 100 ms apart, then HID_BOOTLOADER_WRITE_FAILED; no REBOOT", async () => {
    const r = rig("f4", { stallAfterBytes: 4096 });
    const t0 = r.clock.now();
    const err = await r.flash(randomBytes(30_000, 2)).catch((e) => e);
    expect(err.cause).toBeInstanceOf(HidBootloaderWriteError);
    expect(err.cause.attempts).toBe(20);
    expect(err.cause.cause.code).toBe("USB_STALL");
    expect(r.clock.now() - t0).toBeGreaterThan(1900);
    expect(r.model.mode).toBe("bootloader");
    expect(r.model.generation).toBeDefined();
  });

  it("no acks: HID_BOOTLOADER_NO_ACK naming the KiB", async () => {
    const r = rig("f4", { noAcks: true });
    const err = await r.flash(randomBytes(3000, 2)).catch((e) => e);
    expect(err.cause).toBeInstanceOf(HidBootloaderNoAckError);
    expect(err.cause.address).toBe(0x0800_4000);
  });

  it("a bootloader that stays after REBOOT: HID_BOOTLOADER_DID_NOT_REBOOT, not a success", async () => {
    const r = rig("f1", { ignoreReboot: true });
    const err = await r.flash(randomBytes(3000, 2)).catch((e) => e);
    expect(err.phase).toBe("finish");
    expect(err.cause).toBeInstanceOf(HidBootloaderDidNotRebootError);
  });

  it("a board that asks first: the request runs only when the bootloader is not on the bus", async () => {
    const clock = new VirtualClock();
    const model = new HidBootloaderModel({ build: "f1", clock });
    model.unplug();
    let touched = 0;
    const adapter = new HidBootloaderAdapter({
      backend: InProcessUsbBackend.of(model),
      target: F1,
      request: async () => {
        touched++;
        clock.schedule(800, () => model.plug());
      },
    });
    const img = randomBytes(5000, 3);
    await clock.run(
      runFlash(adapter, { segments: [{ address: F1.appStart, data: img }] }, { clock }),
    );
    expect(touched).toBe(1);
    expect(Buffer.from(model.application().subarray(0, 5000)).equals(Buffer.from(img))).toBe(true);
  });

  it("touched, but the board comes up as Katapult (1d50:6177): USB_OTHER_BOOTLOADER at once, nothing written", async () => {
    const clock = new VirtualClock();
    const hid = new HidBootloaderModel({ build: "f1", clock });
    hid.unplug();
    class KatapultUsb extends UsbModelBase {
      constructor() {
        super(
          "katapult",
          "1-2",
          buildDescriptors({ vendorId: 0x1d50, productId: 0x6177, product: "stm32f103xe" }, []),
          false,
        );
      }
    }
    const katapult = new KatapultUsb();
    const adapter = new HidBootloaderAdapter({
      backend: InProcessUsbBackend.of(hid, katapult),
      target: F1,
      request: async () => void clock.schedule(500, () => katapult.plug()),
    });
    const err = await clock
      .run(
        runFlash(
          adapter,
          { segments: [{ address: F1.appStart, data: randomBytes(2000, 1) }] },
          { clock },
        ),
      )
      .catch((e) => e);
    expect(err.phase).toBe("enter");
    expect(err.cause).toBeInstanceOf(UsbOtherBootloaderError);
    expect(err.cause.message).toMatch(/came up as Katapult \(1d50:6177/);
    expect(clock.now()).toBeLessThan(2000);
  });
});

describe("the HID bootloader and PICOBOOT drivers", () => {
  it("release: a board asked in but never flashed gets REBOOT and starts its application", async () => {
    const { driver: hidDriver } = await import("../../../src/bootloaders/hid-bootloader/driver.js");
    const { driver: picoDriver } = await import("../../../src/bootloaders/picoboot/driver.js");
    const { PicobootModel } = await import("../../../src/sim/usb/picoboot.js");
    const { findTarget } = await import("../../../src/targets/index.js");
    const clock = new VirtualClock();
    const hid = new HidBootloaderModel({ build: "f1", clock });
    const pico = new PicobootModel({ clock });
    const backend = InProcessUsbBackend.of(hid, pico);
    const link = { kind: "usb" as const, selector: {}, backend, label: "usb:" };
    const env = { clock };
    expect(await clock.run(hidDriver.release!(findTarget("stm32f103-hid"), link, env))).toBe(true);
    expect(hid.mode).toBe("application");
    expect(hid.written).toBe(0);
    expect(await clock.run(picoDriver.release!(findTarget("rp2040-picoboot"), link, env))).toBe(
      true,
    );
    expect(pico.mode).toBe("application");
    expect(pico.sectorsErased).toBe(0);
  });
});
