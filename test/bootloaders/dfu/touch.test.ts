// From a running board into DFU: a tty running Klipper's USB build (sysfs
// says which USB port it is on) gets the 1200-baud touch, the board drops
// off and comes back on the same port as the STM32 ROM's DFU bootloader,
// and canflash finishes there in one run. A board that never comes back
// is DFU_NO_REENUMERATION naming the tty; a refusal after the touch with
// nothing written sends it back to its application (:leave).
import { afterEach, describe, expect, it } from "vitest";
import { dfuseDriver } from "../../../src/bootloaders/dfu/driver.js";
import type { FlashError } from "../../../src/flasher/errors.js";
import { runFlash } from "../../../src/flasher/execute.js";
import { DfuseRomModel } from "../../../src/sim/usb/dfuse-rom.js";
import { findTarget } from "../../../src/targets/index.js";
import { InProcessUsbBackend } from "../../../src/usb/index.js";
import { realClock } from "../../../src/util/clock.js";
import { openPty, type Pty } from "../../fakes/pty.js";
import { FakeUsbSysfs } from "../../fakes/usb-sysfs.js";
import type { FlashEvent } from "../../../src/flash-api/progress.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function image(size: number): Uint8Array {
  const b = Uint8Array.from({ length: size }, (_, i) => (i * 7 + 3) & 0xff);
  new DataView(b.buffer).setUint32(0, 0x20005000, true);
  new DataView(b.buffer).setUint32(4, 0x08000101, true);
  return b;
}

async function rig(
  comesBack: boolean,
): Promise<{ tty: string; m: DfuseRomModel; pty: Pty; usb: FakeUsbSysfs }> {
  const usb = new FakeUsbSysfs();
  const pty = await openPty();
  cleanups.push(
    () => usb.cleanup(),
    () => pty.close(),
  );
  const tty = usb.plug({
    usbPath: "1-1.4",
    vid: "1d50",
    pid: "614e",
    manufacturer: "Klipper",
    product: "stm32f407xx",
    serial: "3568386B3132",
    tty: { name: "ttyACM0", target: pty.path },
  })!;
  const m = new DfuseRomModel({ portPath: "1-1.4", clock: realClock });
  m.unplug(); // it runs Klipper now
  pty.onBaud((b) => {
    if (b === 1200 && comesBack) setTimeout(() => m.reenterBootloader(), 100);
  });
  return { tty, m, pty, usb };
}

describe("1200-baud touch from Klipper's USB build into the STM32 ROM DFU", () => {
  it("touches the tty, follows the USB port to 0483:df11, flashes, verifies and leaves", async () => {
    const { tty, m, usb } = await rig(true);
    const t = findTarget("stm32f4-rom-dfu");
    const events: FlashEvent[] = [];
    const img = image(20_000);
    const adapter = dfuseDriver.adapter(
      t,
      { kind: "serial", device: tty },
      {
        clock: realClock,
        usbTree: usb.tree,
        usbBackend: InProcessUsbBackend.of(m),
      },
    );
    const r = await runFlash(
      adapter,
      { segments: [{ address: 0x08000000, data: img }] },
      {
        onEvent: (e) => events.push(e),
      },
    );
    expect(r.verified).toBe(true);
    expect(m.dump(0x08000000, img.length)).toEqual(img);
    const info = events
      .filter((e) => e.type === "info")
      .map((e) => (e as { message: string }).message);
    expect(info[0]).toMatch(/\(USB 1-1.4\) runs its application: 1200-baud touch into ROM DfuSe/);
  }, 20_000);

  it("a board that does not come back in DFU mode: DFU_NO_REENUMERATION naming the tty, nothing written", async () => {
    const { tty, m, usb } = await rig(false);
    const adapter = dfuseDriver.adapter(
      findTarget("stm32f4-rom-dfu"),
      { kind: "serial", device: tty },
      {
        clock: realClock,
        usbTree: usb.tree,
        usbBackend: InProcessUsbBackend.of(m),
      },
    );
    const err = await runFlash(adapter, {
      segments: [{ address: 0x08000000, data: image(4000) }],
    }).catch((e: unknown) => e as FlashError);
    expect(err).toMatchObject({ phase: "enter", deviceState: "untouched" });
    expect((err as FlashError).cause).toMatchObject({ code: "DFU_NO_REENUMERATION", device: tty });
  }, 20_000);

  it("refused after the touch with nothing written (an image larger than the flash): sent back to its application with :leave", async () => {
    const { tty, m, usb } = await rig(true);
    const adapter = dfuseDriver.adapter(
      findTarget("stm32f4-rom-dfu"),
      { kind: "serial", device: tty },
      {
        clock: realClock,
        usbTree: usb.tree,
        usbBackend: InProcessUsbBackend.of(m),
      },
    );
    const err = await runFlash(adapter, {
      segments: [{ address: 0x08000000, data: image(0x100800) }],
    }).catch((e: unknown) => e as FlashError);
    expect(err).toMatchObject({ deviceState: "untouched", returnedToApplication: true });
    expect((err as FlashError).cause).toMatchObject({ code: "IMAGE_DOES_NOT_FIT" });
    expect(m.ops.filter((o) => o.op === "erase" || o.op === "write")).toEqual([]);
    expect(m.ops.at(-1)).toEqual({ op: "set-address", address: 0x08000000 });
  }, 20_000);
});
