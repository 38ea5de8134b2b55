// The DFU adapter through the flasher core, against the DFU models in
// process on virtual time: DfuSe erases only the sectors the image needs,
// writes, reads back and leaves (the board comes back as Klipper); the
// stm32duino writes blocks in order, says it cannot verify and starts the
// application with a USB reset; the LPC176x reads back and starts on
// DETACH. Faults end in a typed error and never a success: the device gone
// mid-download, a STALL on a block (the DFU status read and cleared), a
// wrong alt setting, a runtime device that never comes back in DFU mode.
import { describe, expect, it } from "vitest";
import { DfuAdapter } from "../../../src/bootloaders/dfu/adapter.js";
import { DfuState } from "../../../src/bootloaders/dfu/codec.js";
import type { UsbLink } from "../../../src/flash-api/driver.js";
import { FlashError } from "../../../src/flasher/errors.js";
import { runFlash, type FlashResult } from "../../../src/flasher/execute.js";
import { DfuseRomModel, STM32F072_ROM, STM32F407_ROM } from "../../../src/sim/usb/dfuse-rom.js";
import { Lpc176xDfuModel, Stm32duinoModel } from "../../../src/sim/usb/plain-dfu.js";
import { buildDescriptors } from "../../../src/sim/usb/descriptors.js";
import { ok, UsbModelBase } from "../../../src/sim/usb/model-base.js";
import { findTarget } from "../../../src/targets/index.js";
import { InProcessUsbBackend, type UsbDeviceModel } from "../../../src/usb/index.js";
import { VirtualClock } from "../../../src/util/clock.js";
import type { FlashEvent } from "../../../src/flash-api/progress.js";
import { encodeFunctional } from "../../../src/bootloaders/dfu/codec.js";
import type { SetupPacket } from "../../../src/usb/device.js";
import type { UsbReply } from "../../../src/usb/wire.js";

/** An image with a Cortex-M vector table (SP in RAM), linked at `at`. */
function image(size: number, at: number, seed = 1): Uint8Array {
  const b = Uint8Array.from({ length: size }, (_, i) => (i * 31 + seed * 7 + (i >> 8)) & 0xff);
  const v = new DataView(b.buffer);
  v.setUint32(0, 0x20005000, true);
  v.setUint32(4, (at + 0x101) >>> 0, true);
  return b;
}

function link(models: UsbDeviceModel[], label = "usb:"): UsbLink {
  return { kind: "usb", selector: {}, backend: InProcessUsbBackend.of(...models), label };
}

async function flash(
  clock: VirtualClock,
  adapter: DfuAdapter,
  data: Uint8Array,
  base: number,
  events: FlashEvent[] = [],
): Promise<FlashResult> {
  return clock.run(
    runFlash(
      adapter,
      { segments: [{ address: base, data }] },
      { clock, onEvent: (e) => events.push(e) },
    ),
  );
}

describe("DfuSe (STM32 ROM) through the flash executor", () => {
  it("F407: clears the ROM's first dfuERROR, erases only the three 16 KiB sectors 40 000 bytes touch, writes, verifies with UPLOAD, leaves, and sees the board come back as Klipper", async () => {
    const clock = new VirtualClock();
    const m = new DfuseRomModel({ clock });
    expect(m.state).toBe(DfuState.dfuERROR);
    const img = image(40_000, 0x08000000);
    const events: FlashEvent[] = [];
    const t = findTarget("stm32f4-rom-dfu");
    const r = await flash(
      clock,
      new DfuAdapter({ target: t, link: link([m]), dfuse: true }),
      img,
      0x08000000,
      events,
    );
    expect(r.verified).toBe(true);
    expect(m.ops.filter((o) => o.op === "erase").map((o) => o.address)).toEqual([
      0x08000000, 0x08004000, 0x08008000,
    ]);
    expect(m.dump(0x08000000, img.length)).toEqual(img);
    expect(m.dump(0x0800c000, 16)).toEqual(new Uint8Array(16).fill(0xff));
    expect(m.running).toBe("application");
    expect(
      events.filter((e) => e.type === "info").map((e) => (e as { message: string }).message),
    ).toContain("the board came back as Klipper (USB 1d50:614e at 1-1)");
  });

  it("honours bwPollTimeout: no request reaches the device before the time its last GETSTATUS asked for (erases and writes)", async () => {
    const clock = new VirtualClock();
    const m = new DfuseRomModel({ clock });
    await flash(
      clock,
      new DfuAdapter({ target: findTarget("stm32f4-rom-dfu"), link: link([m]), dfuse: true }),
      image(20_000, 0x08000000),
      0x08000000,
    );
    expect(m.classLog.length).toBeGreaterThan(40);
    expect(m.classLog.filter((l) => l.early)).toEqual([]);
    // the erase of the first 16 KiB sector: its poll reply asked for 30 ms, the next request came 30 ms later
    const first = m.classLog.findIndex((l) => l.bRequest === 1 && l.wValue === 0);
    const [busy, next] = m.classLog.slice(first + 1, first + 3);
    expect(next!.at - busy!.at).toBeGreaterThanOrEqual(STM32F407_ROM.timing.eraseMs(0x4000));
  });

  it("F072 (2 KiB pages) at an offset: erases just the pages of the image", async () => {
    const clock = new VirtualClock();
    const m = new DfuseRomModel({ clock, part: STM32F072_ROM });
    const img = image(5000, 0x08002000);
    const t = { ...findTarget("stm32f072-rom-dfu"), appStart: 0x08002000 };
    await flash(
      clock,
      new DfuAdapter({ target: t, link: link([m]), dfuse: true }),
      img,
      0x08002000,
    );
    expect(m.ops.filter((o) => o.op === "erase").map((o) => o.address)).toEqual([
      0x08002000, 0x08002800, 0x08003000,
    ]);
    expect(m.dump(0x08002000, img.length)).toEqual(img);
  });

  it("an image beyond the memory layout's end is refused before anything is erased or written", async () => {
    const clock = new VirtualClock();
    const m = new DfuseRomModel({ clock, part: STM32F072_ROM });
    const t = { ...findTarget("stm32f072-rom-dfu"), appEnd: 0x08040000 };
    const err = await flash(
      clock,
      new DfuAdapter({ target: t, link: link([m]), dfuse: true }),
      image(0x21000, 0x08000000),
      0x08000000,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FlashError);
    expect((err as FlashError).cause).toMatchObject({
      code: "IMAGE_DOES_NOT_FIT",
      end: 0x08020000,
    });
    expect((err as FlashError).deviceState).toBe("untouched");
    expect(m.ops.filter((o) => o.op !== "set-address")).toEqual([]);
  });
});

describe("plain DFU through the flash executor", () => {
  it("stm32duino (alt 2 at 0x08002000): blocks in order, no read-back (verified false), the USB reset starts the application", async () => {
    const clock = new VirtualClock();
    const m = new Stm32duinoModel({ clock });
    const img = image(5000, 0x08002000);
    const t = findTarget("stm32f103-stm32duino-dfu");
    const a = new DfuAdapter({ target: t, link: link([m]), dfuse: false });
    expect(a.capabilities.verify).toBe("none");
    const r = await flash(clock, a, img, 0x08002000);
    expect(r.verified).toBe(false);
    expect(m.dump(0x08002000, img.length)).toEqual(img);
    expect(m.resets).toBe(1);
    expect(m.running).toBe("application");
  });

  it("LPC176x (app at 0x4000): block n at 0x4000 + n × 512, read back with UPLOAD, DETACH starts the application", async () => {
    const clock = new VirtualClock();
    const m = new Lpc176xDfuModel({ clock });
    const img = image(3000, 0x4000);
    const r = await flash(
      clock,
      new DfuAdapter({ target: findTarget("lpc176x-dfu"), link: link([m]), dfuse: false }),
      img,
      0x4000,
    );
    expect(r.verified).toBe(true);
    expect(m.dump(0x4000, img.length)).toEqual(img);
    expect(m.running).toBe("application");
  });
});

describe("DFU faults: a clear error, never a success line", () => {
  it("the device gone mid-download: USB_NO_DEVICE in the write phase, the board left in its bootloader", async () => {
    const clock = new VirtualClock();
    const m = new DfuseRomModel({ clock });
    let writes = 0;
    const handle = m.handle.bind(m);
    m.handle = async (r) => {
      if (r.op === "control" && r.setup.bRequest === 1 && r.setup.wValue === 2 && ++writes === 3)
        m.unplug();
      return handle(r);
    };
    const err = await flash(
      clock,
      new DfuAdapter({ target: findTarget("stm32f4-rom-dfu"), link: link([m]), dfuse: true }),
      image(20_000, 0x08000000),
      0x08000000,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FlashError);
    expect(err).toMatchObject({ phase: "write", deviceState: "in-bootloader" });
    expect((err as FlashError).cause).toMatchObject({ code: "USB_NO_DEVICE" });
  });

  it("a STALL on a block: the DFU status is read and cleared, the error names it (errADDRESS), nothing after it is written", async () => {
    const clock = new VirtualClock();
    const m = new DfuseRomModel({ clock, part: STM32F072_ROM });
    // the model's flash ends early: the 3rd page is out of range for writing
    const real = m.handle.bind(m);
    let n = 0;
    m.handle = async (r) => {
      if (r.op === "control" && r.setup.bRequest === 1 && r.setup.wValue === 2 && ++n === 3) {
        const fail = (m as unknown as { fail(s: number): UsbReply }).fail.bind(m);
        return fail(0x08);
      }
      return real(r);
    };
    const err = await flash(
      clock,
      new DfuAdapter({ target: findTarget("stm32f072-rom-dfu"), link: link([m]), dfuse: true }),
      image(8000, 0x08000000),
      0x08000000,
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ phase: "write", deviceState: "in-bootloader" });
    expect((err as FlashError).cause).toMatchObject({ code: "DFU_STATUS", status: 0x08 });
    expect((err as Error).cause).toBeDefined();
    expect(m.state).toBe(DfuState.dfuIDLE); // CLRSTATUS was sent
    expect(m.ops.filter((o) => o.op === "write")).toHaveLength(2);
  });

  it("a wrong alt setting (a bootloader build without the row's alt): DFU_NO_INTERFACE listing the alts, nothing sent but descriptors", async () => {
    const clock = new VirtualClock();
    const m = new DfuseRomModel({ clock, part: STM32F072_ROM });
    const t = findTarget("stm32f103-stm32duino-dfu");
    // the stm32duino row against a device with only alts 0 and 1
    const err = await flash(
      clock,
      new DfuAdapter({ target: { ...t, usbIds: ["0483:df11"] }, link: link([m]), dfuse: false }),
      image(1000, 0x08002000),
      0x08002000,
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ phase: "connect", deviceState: "untouched" });
    expect((err as FlashError).cause).toMatchObject({ code: "DFU_NO_INTERFACE" });
    expect((err as FlashError).cause.message).toMatch(/0: @Internal Flash/);
  });

  it("a DFU runtime device that never re-enumerates after DETACH: DFU_NO_REENUMERATION after the deadline", async () => {
    const clock = new VirtualClock();
    class Runtime extends UsbModelBase {
      detached = 0;
      constructor() {
        super(
          "runtime",
          "1-3",
          buildDescriptors({ vendorId: 0x0483, productId: 0xdf11 }, [
            {
              iface: 0,
              alt: 0,
              class: 0xfe,
              subClass: 1,
              protocol: 1,
              extra: encodeFunctional({
                canDownload: true,
                canUpload: true,
                manifestationTolerant: false,
                willDetach: true,
                detachTimeoutMs: 255,
                transferSize: 2048,
                dfuVersion: 0x011a,
              }),
            },
          ]),
        );
      }
      protected override async classOrVendor(s: SetupPacket): Promise<UsbReply> {
        if (s.bRequest === 0) {
          this.detached++;
          queueMicrotask(() => this.unplug());
          return ok();
        }
        return ok(Uint8Array.of(0, 0, 0, 0, 0, 0));
      }
    }
    const m = new Runtime();
    const err = await flash(
      clock,
      new DfuAdapter({ target: findTarget("stm32f4-rom-dfu"), link: link([m]), dfuse: true }),
      image(1000, 0x08000000),
      0x08000000,
    ).catch((e: unknown) => e);
    expect(m.detached).toBe(1);
    expect(err).toMatchObject({ phase: "enter" });
    expect((err as FlashError).cause).toMatchObject({
      code: "DFU_NO_REENUMERATION",
      waitedMs: 5000,
    });
  });
});
