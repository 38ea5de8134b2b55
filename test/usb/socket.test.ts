import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { buildDescriptors } from "../../src/sim/usb/descriptors.js";
import { ok, STALL, UsbModelBase } from "../../src/sim/usb/model-base.js";
import { serveUsbModel, type ServedModel } from "../../src/sim/usb/serve.js";
import type { SetupPacket } from "../../src/usb/device.js";
import {
  SocketUsbBackend,
  usbBackend,
  usbBackendName,
  waitForDevice,
} from "../../src/usb/index.js";
import { realClock } from "../../src/util/clock.js";
import type { UsbReply } from "../../src/usb/wire.js";

class Loop extends UsbModelBase {
  store: Uint8Array = new Uint8Array(0);
  constructor(pid = 0xdf11) {
    super(
      "loop",
      "1-1",
      buildDescriptors({ vendorId: 0x0483, productId: pid, serialNumber: "ABC" }, [
        {
          iface: 0,
          alt: 0,
          class: 0xff,
          subClass: 0,
          protocol: 0,
          endpoints: [
            { address: 0x81, attributes: 2, maxPacketSize: 64 },
            { address: 0x01, attributes: 2, maxPacketSize: 64 },
          ],
        },
      ]),
    );
  }
  protected override async classOrVendor(s: SetupPacket, data?: Uint8Array): Promise<UsbReply> {
    if (s.bmRequestType === 0x41) {
      this.store = data ?? new Uint8Array(0);
      return { status: this.store.length };
    }
    if (s.bmRequestType === 0xc1) return ok(this.store.subarray(0, s.wLength));
    if (s.bmRequestType === 0x42) {
      // re-enumerate as another product
      queueMicrotask(() => {
        this.unplug();
        setTimeout(
          () => this.plug(buildDescriptors({ vendorId: 0x0483, productId: 0x5740 }, [])),
          20,
        );
      });
      return ok();
    }
    return STALL;
  }
  protected override async transfer(ep: number, data: Uint8Array | undefined, length: number) {
    if (ep === 0x01) {
      this.store = data ?? new Uint8Array(0);
      return { status: this.store.length };
    }
    return ok(this.store.subarray(0, length));
  }
}

let dir: string;
const served: ServedModel[] = [];
afterEach(async () => {
  for (const s of served.splice(0)) await s.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function serve(m: Loop): Promise<string> {
  dir = mkdtempSync(join(tmpdir(), "canflash-usb-"));
  const path = join(dir, "dev0.sock");
  const s = serveUsbModel(m, path);
  served.push(s);
  await s.ready();
  return path;
}

describe("the socket backend and the model server", () => {
  it("lists a served model with the port path of its place in the list; control and bulk transfers carry data both ways; a STALL is USB_STALL", async () => {
    const m = new Loop();
    const path = await serve(m);
    const usb = new SocketUsbBackend(() => [join(dir, "absent.sock"), path]);
    const [info, ...rest] = await usb.list();
    expect(rest).toEqual([]);
    expect(info).toMatchObject({
      backend: "socket",
      id: path,
      vendorId: 0x0483,
      productId: 0xdf11,
      serialNumber: "ABC",
      portPath: "1-2",
    });
    const dev = await usb.open(info!);
    const big = Uint8Array.from({ length: 4096 }, (_, i) => i & 0xff);
    expect(
      await dev.controlOut({ bmRequestType: 0x41, bRequest: 1, wValue: 0, wIndex: 0 }, big, 500),
    ).toBe(4096);
    expect(
      await dev.controlIn({ bmRequestType: 0xc1, bRequest: 1, wValue: 0, wIndex: 0 }, 4096, 500),
    ).toEqual(big);
    await dev.claimInterface(0);
    expect(await dev.transferOut(0x01, Uint8Array.of(1, 2, 3), 500)).toBe(3);
    expect(await dev.transferIn(0x81, 64, 500)).toEqual(Uint8Array.of(1, 2, 3));
    await expect(
      dev.controlIn({ bmRequestType: 0xc0, bRequest: 9, wValue: 0, wIndex: 0 }, 4, 500),
    ).rejects.toMatchObject({ code: "USB_STALL" });
    await dev.close();
  });

  it("re-enumeration: the listener closes (open handles get USB_NO_DEVICE) and comes back with the new descriptors", async () => {
    const m = new Loop();
    const path = await serve(m);
    const usb = new SocketUsbBackend(() => [path]);
    const dev = await usb.open((await usb.list())[0]!);
    await dev.controlOut(
      { bmRequestType: 0x42, bRequest: 0, wValue: 0, wIndex: 0 },
      new Uint8Array(0),
      500,
    );
    await expect(
      dev.controlIn({ bmRequestType: 0xc1, bRequest: 1, wValue: 0, wIndex: 0 }, 4, 500),
    ).rejects.toMatchObject({ code: "USB_NO_DEVICE" });
    const [back] = await waitForDevice(usb, [{ vendorId: 0x0483, productId: 0x5740 }], {
      timeoutMs: 2000,
      clock: realClock,
    });
    expect(back).toMatchObject({ productId: 0x5740 });
    await expect(
      waitForDevice(usb, [{ vendorId: 0x1eaf, productId: 3 }], {
        timeoutMs: 150,
        clock: realClock,
      }),
    ).rejects.toMatchObject({ code: "USB_DEVICE_NOT_FOUND", seen: ["0483:5740"] });
  });

  it("backend by name: socket when CANFLASH_USB_SOCKETS is set, native otherwise, CANFLASH_USB_BACKEND or the name wins; an unknown name is refused", () => {
    expect(usbBackendName(undefined, { CANFLASH_USB_SOCKETS: "/tmp/a:/tmp/b" })).toBe("socket");
    expect(usbBackendName(undefined, {})).toBe("native");
    expect(usbBackendName(undefined, { CANFLASH_USB_BACKEND: "in-process" })).toBe("in-process");
    expect(usbBackendName("native", { CANFLASH_USB_SOCKETS: "/tmp/a" })).toBe("native");
    expect(() => usbBackendName("libusb", {})).toThrow(/unknown USB backend "libusb"/);
    expect(() => usbBackend("socket", {})).toThrow(/CANFLASH_USB_SOCKETS is not set/);
  });

  it("the native backend loads the usb addon lazily and lists (no USB on this machine: an empty list)", async () => {
    const list = await usbBackend("native", {}).list();
    expect(Array.isArray(list)).toBe(true);
  });
});
