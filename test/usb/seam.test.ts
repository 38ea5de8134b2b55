import { describe, expect, it } from "vitest";
import { buildDescriptors } from "../../src/sim/usb/descriptors.js";
import { ok, STALL, UsbModelBase } from "../../src/sim/usb/model-base.js";
import type { SetupPacket } from "../../src/usb/device.js";
import { InProcessUsbBackend, findDevices, UsbTransferError } from "../../src/usb/index.js";
import type { UsbReply } from "../../src/usb/wire.js";
import {
  decodeRequestHeader,
  encodeReply,
  encodeRequest,
  REQUEST_HEADER,
} from "../../src/usb/wire.js";

const FUNCTIONAL = Uint8Array.of(9, 0x21, 0x0b, 0xff, 0x00, 0x00, 0x08, 0x1a, 0x01);

class Echo extends UsbModelBase {
  last: Uint8Array = new Uint8Array(0);
  constructor() {
    super(
      "echo",
      "1-1.4",
      buildDescriptors(
        {
          vendorId: 0x0483,
          productId: 0xdf11,
          manufacturer: "STMicroelectronics",
          product: "DFU in FS Mode",
          serialNumber: "3568386B3132",
        },
        [
          {
            iface: 0,
            alt: 0,
            class: 0xfe,
            subClass: 1,
            protocol: 2,
            name: "@Internal Flash  /0x08000000/04*016Kg",
            extra: FUNCTIONAL,
          },
          {
            iface: 0,
            alt: 1,
            class: 0xfe,
            subClass: 1,
            protocol: 2,
            name: "@Option Bytes  /0x1FFFC000/01*016 e",
          },
          {
            iface: 1,
            alt: 0,
            class: 0xff,
            subClass: 0,
            protocol: 0,
            endpoints: [
              { address: 0x81, attributes: 2, maxPacketSize: 64 },
              { address: 0x01, attributes: 2, maxPacketSize: 64 },
            ],
          },
        ],
      ),
    );
  }
  protected override async classOrVendor(
    s: SetupPacket,
    data: Uint8Array | undefined,
  ): Promise<UsbReply> {
    if (s.bmRequestType === 0x21 && s.bRequest === 1) {
      this.last = data ?? new Uint8Array(0);
      return { status: this.last.length };
    }
    if (s.bmRequestType === 0xa1 && s.bRequest === 2) return ok(this.last.subarray(0, s.wLength));
    return STALL;
  }
}

describe("the USB seam, in process", () => {
  it("lists a model with its ids and strings, parses its configuration like libusb (functional descriptor in extra)", async () => {
    const m = new Echo();
    const usb = InProcessUsbBackend.of(m);
    const [info] = await findDevices(usb, { vendorId: 0x0483, productId: 0xdf11 });
    expect(info).toMatchObject({
      backend: "in-process",
      id: "echo",
      portPath: "1-1.4",
      manufacturer: "STMicroelectronics",
      product: "DFU in FS Mode",
      serialNumber: "3568386B3132",
    });
    const dev = await usb.open(info!);
    const cfg = await dev.configDescriptor();
    expect(cfg.interfaces.map((i) => [i.bInterfaceNumber, i.bAlternateSetting])).toEqual([
      [0, 0],
      [0, 1],
      [1, 0],
    ]);
    expect(cfg.interfaces[0]!.extra).toEqual(FUNCTIONAL);
    expect(await dev.getString(cfg.interfaces[1]!.iInterface)).toBe(
      "@Option Bytes  /0x1FFFC000/01*016 e",
    );
    expect(cfg.interfaces[2]!.endpoints.map((e) => e.bEndpointAddress)).toEqual([0x81, 0x01]);
  });

  it("carries class requests both ways; a STALL is USB_STALL; SET_INTERFACE needs a claim and an existing alt", async () => {
    const m = new Echo();
    const usb = InProcessUsbBackend.of(m);
    const dev = await usb.open((await usb.list())[0]!);
    expect(
      await dev.controlOut(
        { bmRequestType: 0x21, bRequest: 1, wValue: 2, wIndex: 0 },
        Uint8Array.of(1, 2, 3),
        100,
      ),
    ).toBe(3);
    expect(
      await dev.controlIn({ bmRequestType: 0xa1, bRequest: 2, wValue: 0, wIndex: 0 }, 2, 100),
    ).toEqual(Uint8Array.of(1, 2));
    await expect(
      dev.controlIn({ bmRequestType: 0xa1, bRequest: 9, wValue: 0, wIndex: 0 }, 6, 100),
    ).rejects.toMatchObject({ code: "USB_STALL" });
    await expect(dev.setAltSetting(0, 1)).rejects.toBeInstanceOf(UsbTransferError);
    await dev.claimInterface(0);
    await dev.setAltSetting(0, 1);
    await expect(dev.setAltSetting(0, 5)).rejects.toMatchObject({ code: "USB_STALL" });
  });

  it("a handle outlives its device: after an unplug (re-enumeration) every call is USB_NO_DEVICE, and the listing changes", async () => {
    const m = new Echo();
    const usb = InProcessUsbBackend.of(m);
    const dev = await usb.open((await usb.list())[0]!);
    m.unplug();
    expect(await usb.list()).toEqual([]);
    await expect(
      dev.controlIn({ bmRequestType: 0xa1, bRequest: 2, wValue: 0, wIndex: 0 }, 2, 100),
    ).rejects.toMatchObject({ code: "USB_NO_DEVICE" });
    m.plug();
    expect(await usb.list()).toHaveLength(1);
    await expect(dev.claimInterface(0)).rejects.toMatchObject({ code: "USB_NO_DEVICE" });
  });
});

describe("the socket format", () => {
  it("round-trips control and endpoint requests; the header is 13 bytes with the OUT length at 9", () => {
    const c = encodeRequest({
      op: "control",
      setup: { bmRequestType: 0x21, bRequest: 1, wValue: 2, wIndex: 0, wLength: 0 },
      data: Uint8Array.of(9, 8, 7),
    });
    expect(c.length).toBe(REQUEST_HEADER + 3);
    expect(Array.from(c.subarray(0, 13))).toEqual([0x43, 0x21, 1, 2, 0, 0, 0, 3, 0, 3, 0, 0, 0]);
    expect(decodeRequestHeader(c)).toEqual({
      request: {
        op: "control",
        setup: { bmRequestType: 0x21, bRequest: 1, wValue: 2, wIndex: 0, wLength: 3 },
      },
      payload: 3,
    });
    const e = encodeRequest({ op: "transfer", endpoint: 0x81, timeoutMs: 5000, length: 64 });
    expect(Array.from(e)).toEqual([0x45, 0x81, 0, 0x88, 0x13, 0, 0, 64, 0, 0, 0, 0, 0]);
    expect(decodeRequestHeader(e).request).toEqual({
      op: "transfer",
      endpoint: 0x81,
      timeoutMs: 5000,
      length: 64,
    });
    expect(() => decodeRequestHeader(Uint8Array.of(0x5a, ...new Array(12).fill(0)))).toThrow(
      /unknown request op 0x5a/,
    );
    expect(Array.from(encodeReply({ status: -9 }))).toEqual([0xf7, 0xff, 0xff, 0xff]);
    expect(Array.from(encodeReply({ status: 2, data: Uint8Array.of(5, 6, 7) }))).toEqual([
      2, 0, 0, 0, 5, 6,
    ]);
  });
});
