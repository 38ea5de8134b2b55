import { afterEach, describe, expect, it } from "vitest";
import { hasUsbId, isKlipperUsb, usbId } from "../../src/transport/usb-tree.js";
import { findTarget } from "../../src/targets/index.js";
import { uuidFromUsbSerial } from "../../src/klippy-bridge/uuid.js";
import { FakeUsbSysfs } from "../fakes/usb-sysfs.js";

let fake: FakeUsbSysfs;
afterEach(() => fake.cleanup());

describe("UsbTree", () => {
  it("follows a by-id link to its tty and the USB device behind it, and sees it re-enumerate", async () => {
    fake = new FakeUsbSysfs();
    const byId = fake.plug({
      usbPath: "1-1.3",
      vid: "1d50",
      pid: "614e",
      manufacturer: "Klipper",
      product: "stm32g0b1xx",
      serial: "112233445566778899AABBCC",
      tty: { name: "ttyACM0", target: "/dev/null" },
    })!;
    const t = await fake.tree.resolveTty(byId);
    expect(t).toMatchObject({
      name: "ttyACM0",
      devPath: `${fake.dev}/ttyACM0`,
      usb: { usbPath: "1-1.3", vid: "1d50", pid: "614e", serial: "112233445566778899AABBCC" },
    });
    expect(isKlipperUsb(t!.usb!)).toBe(true);
    fake.plug({
      usbPath: "1-1.3",
      vid: "1d50",
      pid: "6177",
      manufacturer: "katapult",
      product: "stm32g0b1xx",
      serial: "112233445566778899AABBCC",
      tty: { name: "ttyACM1", target: "/dev/null" },
    });
    const now = await fake.tree.usbAt("1-1.3");
    expect(usbId(now!)).toBe("1d50:6177");
    expect(hasUsbId(now!, findTarget("katapult").usbIds)).toBe(true);
    expect(isKlipperUsb(now!)).toBe(false);
    expect((await fake.tree.ttyOfUsb("1-1.3"))?.name).toBe("ttyACM1");
    expect(await fake.tree.resolveTty(byId)).toBeUndefined(); // the old by-id link went away
  });

  it("finds Klipper USB-to-CAN bridges (not candleLight adapters) and maps their serial to a UUID", async () => {
    fake = new FakeUsbSysfs();
    fake.plug({
      usbPath: "1-1.4",
      vid: "1d50",
      pid: "606f",
      manufacturer: "Klipper",
      product: "stm32g0b1xx",
      serial: "112233445566778899AABBCC",
      net: "can0",
    });
    fake.plug({
      usbPath: "1-1.5",
      vid: "1d50",
      pid: "606f",
      manufacturer: "bytewerk",
      product: "candleLight",
      serial: "0042",
      net: "can1",
    });
    const b = await fake.tree.bridges();
    expect(b.map((x) => x.iface)).toEqual(["can0"]);
    expect(uuidFromUsbSerial(b[0]!.usb.serial)).toBe("8266c4636429");
  });

  it("gives a tty without USB (a built-in UART)", async () => {
    fake = new FakeUsbSysfs();
    const { mkdirSync, symlinkSync } = await import("node:fs");
    mkdirSync(`${fake.sys}/class/tty/ttyAMA0`, { recursive: true });
    symlinkSync("/dev/null", `${fake.dev}/ttyAMA0`);
    expect(await fake.tree.resolveTty(`${fake.dev}/ttyAMA0`)).toEqual({
      name: "ttyAMA0",
      devPath: `${fake.dev}/ttyAMA0`,
      usb: undefined,
    });
  });
});
