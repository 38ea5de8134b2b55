// Katapult over serial links, on real pseudo-terminals: UART, Klipper's UART
// request string, USB with the 1200-baud touch and re-enumeration (a fake
// sysfs tree), and the USB-to-CAN bridge hand-off from CAN to USB serial.
import { afterEach, describe, expect, it } from "vitest";
import { driver as katapult } from "../../src/bootloaders/katapult/driver.js";
import { katapultSerialAdapter } from "../../src/bootloaders/katapult/serial.js";
import { CanBootloaderGate } from "../../src/entry/can-request.js";
import { sendSerialBootloaderRequest } from "../../src/entry/serial-request.js";
import { bridgeFor } from "../../src/flasher/bridges.js";
import { findTarget } from "../../src/targets/index.js";
import { VirtualCanChannel } from "../../src/can/virtual.js";
import { runFlash } from "../../src/flasher/execute.js";
import type { FlashError } from "../../src/flasher/errors.js";
import type { FlashEvent } from "../../src/flash-api/progress.js";
import { parseUuid } from "../../src/klippy-bridge/uuid.js";
import { SimCanDevice } from "../../src/sim/device.js";
import { SimSerialDevice, type WatchedLink } from "../../src/sim/serial-device.js";
import { preciseClock } from "../../src/util/clock.js";
import { randomBytes } from "../../src/util/random.js";
import { openPty, type Pty } from "../fakes/pty.js";
import { FakeUsbSysfs } from "../fakes/usb-sysfs.js";

const APP = 0x08002000;
const row = findTarget("katapult");
const ptys: Pty[] = [];
const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  await Promise.all(ptys.splice(0).map((p) => p.close()));
});

async function pty(): Promise<Pty> {
  const p = await openPty();
  ptys.push(p);
  return p;
}
const link = (p: Pty): WatchedLink => ({
  write: (b) => p.write(b),
  onData: (cb) => p.onData(cb),
  onBaud: (cb) => p.onBaud(cb),
});

function appImage(size: number, seed: number): Uint8Array {
  const img = randomBytes(size, seed);
  img.set([0, 0x80, 0, 0x20, 0x01, 0x21, 0, 0x08]);
  return img;
}

describe("Katapult over serial (ptys)", () => {
  it("UART: flashes and verifies 48 KiB; the board then starts the application", async () => {
    const p = await pty();
    const dev = new SimSerialDevice(link(p), {
      uuid: "8266c4636429",
      kind: "uart",
      boot: "katapult",
      clock: preciseClock,
    });
    dev.start();
    cleanups.push(() => dev.stop());
    const image = appImage(48 * 1024, 31);
    const events: FlashEvent[] = [];
    const r = await runFlash(
      katapultSerialAdapter({ device: p.path, target: row, baud: 250000 }),
      { segments: [{ address: APP, data: image }] },
      {
        onEvent: (e) => events.push(e),
      },
    );
    expect(r.verified).toBe(true);
    expect(r.device.description).toBe("Katapult 1.1.0 (v0.0.1-110-gsim) on stm32g0b1xx");
    expect(dev.writtenApplication()).toEqual(image);
    const deadline = Date.now() + 2000;
    while (dev.mode !== "klipper" && Date.now() < deadline)
      await new Promise((r2) => setTimeout(r2, 10));
    expect(dev.mode).toBe("klipper");
  });

  it("UART: the request string moves a Klipper board into Katapult", async () => {
    const p = await pty();
    const dev = new SimSerialDevice(link(p), {
      uuid: "8266c4636429",
      kind: "uart",
      boot: "klipper",
      clock: preciseClock,
    });
    dev.start();
    cleanups.push(() => dev.stop());
    await sendSerialBootloaderRequest(p.path, 250000);
    const deadline = Date.now() + 3000;
    while (dev.mode !== "katapult" && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    expect(dev.events.map((e) => e.type)).toContain("serial-request");
    expect(dev.mode).toBe("katapult");
    const image = appImage(4096, 32);
    const r = await runFlash(katapultSerialAdapter({ device: p.path, target: row }), {
      segments: [{ address: APP, data: image }],
    });
    expect(r.verified).toBe(true);
  });

  it("USB: a Klipper board gets the 1200-baud touch, re-enumerates as Katapult, is flashed, and comes back", async () => {
    const usb = new FakeUsbSysfs();
    cleanups.push(() => usb.cleanup());
    const serial = "112233445566778899AABBCC";
    const first = await pty();
    const byId = usb.plug({
      usbPath: "1-1.3",
      vid: "1d50",
      pid: "614e",
      manufacturer: "Klipper",
      product: "stm32g0b1xx",
      serial,
      tty: { name: "ttyACM0", target: first.path },
    })!;
    let n = 1;
    const dev = new SimSerialDevice(link(first), {
      uuid: "8266c4636429",
      kind: "usb",
      boot: "klipper",
      clock: preciseClock,
      reenumerate: async (into) => {
        const p = await pty();
        const katapult = into === "katapult";
        usb.plug({
          usbPath: "1-1.3",
          vid: "1d50",
          pid: katapult ? "6177" : "614e",
          manufacturer: katapult ? "katapult" : "Klipper",
          product: "stm32g0b1xx",
          serial,
          tty: { name: `ttyACM${n++}`, target: p.path },
        });
        return link(p);
      },
    });
    dev.start();
    cleanups.push(() => dev.stop());
    const image = appImage(30_000, 33);
    const events: FlashEvent[] = [];
    const r = await runFlash(
      katapultSerialAdapter({ device: byId, target: row, tree: usb.tree }),
      { segments: [{ address: APP, data: image }] },
      {
        onEvent: (e) => events.push(e),
      },
    );
    expect(r.verified).toBe(true);
    const info = events
      .filter((e) => e.type === "info")
      .map((e) => (e as { message: string }).message);
    expect(
      info.some((m) => /runs Klipper \(1d50:614e Klipper stm32g0b1xx\): 1200-baud touch/.test(m)),
    ).toBe(true);
    expect(info.some((m) => /USB port 1-1.3 came back as Katapult on ttyACM1/.test(m))).toBe(true);
    expect(dev.writtenApplication().subarray(0, image.length)).toEqual(image);
    const deadline = Date.now() + 3000;
    while (
      !(dev.mode === "klipper" && (await usb.tree.usbAt("1-1.3"))?.pid === "614e") &&
      Date.now() < deadline
    ) {
      await new Promise((r2) => setTimeout(r2, 10));
    }
    expect((await usb.tree.usbAt("1-1.3"))?.pid).toBe("614e");
  });

  it("USB-to-CAN bridge: asked over CAN, it leaves the bus, re-enumerates as Katapult serial, and is flashed in one run", async () => {
    const usb = new FakeUsbSysfs();
    cleanups.push(() => usb.cleanup());
    const serial = "112233445566778899AABBCC"; // → CAN UUID 8266c4636429
    const uuid = parseUuid("8266c4636429");
    usb.plug({
      usbPath: "1-1.4",
      vid: "1d50",
      pid: "606f",
      manufacturer: "Klipper",
      product: "stm32g0b1xx",
      serial,
      net: "can0",
    });
    const channel = VirtualCanChannel.anonymous({ clock: preciseClock });
    let serialDev: SimSerialDevice | undefined;
    const canDev: SimCanDevice = new SimCanDevice(channel.open({ txQueueLength: 3 }), {
      uuid,
      boot: "klipper",
      onBootloaderRequest: () => {
        void (async () => {
          const p = await pty();
          serialDev = new SimSerialDevice(link(p), {
            uuid,
            kind: "usb",
            boot: "katapult",
            clock: preciseClock,
            sharedFlash: canDev.flash,
          });
          serialDev.start();
          usb.plug({
            usbPath: "1-1.4",
            vid: "1d50",
            pid: "6177",
            manufacturer: "katapult",
            product: "stm32g0b1xx",
            serial,
            tty: { name: "ttyACM0", target: p.path },
          });
        })();
      },
    });
    canDev.start();
    const host = channel.open({ label: "host" });
    cleanups.push(async () => {
      serialDev?.stop();
      await host.close();
      await canDev.close();
    });
    const bridge = await bridgeFor(uuid, "can0", usb.tree);
    expect(bridge?.iface).toBe("can0");
    const adapter = katapult.adapter(
      row,
      {
        kind: "can",
        iface: "can0",
        bus: host,
        uuid,
        gate: new CanBootloaderGate(host, []),
        bridge: bridge!,
      },
      { clock: preciseClock, usbTree: usb.tree },
    );
    const image = appImage(20_000, 34);
    const events: FlashEvent[] = [];
    const r = await runFlash(
      adapter,
      { segments: [{ address: APP, data: image }] },
      { onEvent: (e) => events.push(e) },
    );
    expect(r.verified).toBe(true);
    expect(
      events.some(
        (e) => e.type === "info" && /is the USB-to-CAN bridge can0 \(USB 1-1.4\)/.test(e.message),
      ),
    ).toBe(true);
    expect(canDev.events.some((e) => e.type === "request-bootloader")).toBe(true);
    expect(canDev.flash.read(APP, image.length)).toEqual(image);
  });

  it("a bridge that comes back as the STM32 ROM DFU bootloader (0483:df11) instead of Katapult: BRIDGE_IN_DFU naming its USB port and the DFU rows, nothing written", async () => {
    const usb = new FakeUsbSysfs();
    cleanups.push(() => usb.cleanup());
    const serial = "112233445566778899AABBCC";
    const uuid = parseUuid("8266c4636429");
    usb.plug({
      usbPath: "1-1.4",
      vid: "1d50",
      pid: "606f",
      manufacturer: "Klipper",
      product: "stm32g0b1xx",
      serial,
      net: "can0",
    });
    const channel = VirtualCanChannel.anonymous({ clock: preciseClock });
    const canDev: SimCanDevice = new SimCanDevice(channel.open({ txQueueLength: 3 }), {
      uuid,
      boot: "klipper",
      onBootloaderRequest: () =>
        void usb.plug({
          usbPath: "1-1.4",
          vid: "0483",
          pid: "df11",
          manufacturer: "STMicroelectronics",
          product: "STM32  BOOTLOADER",
          serial: "3568386B3132",
        }),
    });
    canDev.start();
    const host = channel.open({ label: "host" });
    cleanups.push(async () => {
      await host.close();
      await canDev.close();
    });
    const bridge = await bridgeFor(uuid, "can0", usb.tree);
    const adapter = katapult.adapter(
      row,
      {
        kind: "can",
        iface: "can0",
        bus: host,
        uuid,
        gate: new CanBootloaderGate(host, []),
        bridge: bridge!,
      },
      { clock: preciseClock, usbTree: usb.tree },
    );
    const err = await runFlash(adapter, {
      segments: [{ address: APP, data: appImage(4000, 3) }],
    }).catch((e: unknown) => e as FlashError);
    expect(err).toMatchObject({ deviceState: "untouched" });
    const cause = (err as FlashError).cause;
    expect(cause).toMatchObject({
      code: "BRIDGE_IN_DFU",
      usbPath: "1-1.4",
      usbId: "0483:df11",
      targets: ["stm32f072-rom-dfu", "stm32f4-rom-dfu"],
    });
    expect(cause.message).toMatch(
      /came back on USB 1-1.4 as 0483:df11, the ROM DfuSe, not as Katapult/,
    );
  }, 15_000);

  it("a CAN node that is not the bridge is flashed over CAN as usual", async () => {
    const usb = new FakeUsbSysfs();
    cleanups.push(() => usb.cleanup());
    usb.plug({
      usbPath: "1-1.4",
      vid: "1d50",
      pid: "606f",
      manufacturer: "Klipper",
      product: "stm32g0b1xx",
      serial: "112233445566778899AABBCC",
      net: "can0",
    });
    const channel = VirtualCanChannel.anonymous({ clock: preciseClock });
    const host = channel.open();
    expect(await bridgeFor(parseUuid("aabbccddeeff"), "can0", usb.tree)).toBeUndefined();
    // the bridge is can0, not can1
    expect(await bridgeFor(parseUuid("8266c4636429"), "can1", usb.tree)).toBeUndefined();
    await host.close();
  });
});

describe("STM32 USBFS first-packet hold", () => {
  it("without the prime write the first reply is stuck; with it, CONNECT answers", async () => {
    const { KatapultAdapter } = await import("../../src/bootloaders/katapult/adapter.js");
    const { openSerial } = await import("../../src/transport/serial.js");
    for (const prime of [false, true]) {
      const p = await pty();
      const dev = new SimSerialDevice(link(p), {
        uuid: "8266c4636429",
        kind: "usb",
        boot: "katapult",
        clock: preciseClock,
        usbHoldsFirstPacket: true,
      });
      dev.start();
      const adapter = new KatapultAdapter({
        protocol: "katapult-serial",
        prime,
        timeouts: { connectMs: 100, connectTries: 3 },
        open: () => openSerial({ path: p.path, baudRate: 250000 }),
      });
      const r = await runFlash(adapter, {
        segments: [{ address: APP, data: appImage(256, 35) }],
      }).then(
        (x) => x.verified,
        (e: unknown) => (e as { causeCode?: string }).causeCode,
      );
      // Unprimed, CONNECT's reply is held, the retry's reply releases it: the first exchange
      // costs a timeout. Primed, the prime's COMMAND_ERROR is the held packet and is skipped.
      if (prime) expect(r).toBe(true);
      else expect(adapter.retries).toBeGreaterThan(0);
      dev.stop();
    }
  });
});
