// canflash's gs_usb bus against the adapter models (candleLight and Klipper's
// bridge) on the in-process USB backend: the setup requests each variant
// gets, frames lost at a full adapter queue reported, bus-off, unplug, bad
// names. The transmit window (echo ids in flight) is in window.test.ts.
import { afterEach, describe, expect, it } from "vitest";
import type { CanBus } from "../../src/can/bus.js";
import { CanBusStoppedError } from "../../src/can/errors.js";
import {
  CAN_ERR_BUSOFF,
  CAN_ERR_CRTL,
  CAN_ERR_CRTL_RX_OVERFLOW,
  CAN_ERR_CRTL_TX_OVERFLOW,
} from "../../src/can/errorframe.js";
import { canFrame, type CanFrame } from "../../src/can/frame.js";
import { VirtualCanChannel, type VirtualChannelOptions } from "../../src/can/virtual.js";
import { openGsUsb, type OpenGsUsbOptions } from "../../src/gs-usb/backend.js";
import type { GsUsbBus } from "../../src/gs-usb/bus.js";
import { GsRequest } from "../../src/gs-usb/codec.js";
import {
  GsUsbBitrateError,
  GsUsbInterfaceError,
  GsUsbKernelHeldError,
  GsUsbNotFoundError,
  GsUsbRxOverflowError,
  GsUsbTxOverflowError,
} from "../../src/gs-usb/errors.js";
import { parseGsUsbInterface } from "../../src/gs-usb/name.js";
import { SimGsUsbAdapter, type SimGsUsbOptions } from "../../src/sim/usb/gs-usb.js";
import { InProcessUsbBackend } from "../../src/usb/in-process.js";
import type { UsbRequest } from "../../src/usb/wire.js";
import { FakeUsbSysfs } from "../fakes/usb-sysfs.js";

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

function rig(channelOptions: Omit<VirtualChannelOptions, "label"> = {}) {
  const channel = VirtualCanChannel.anonymous({ label: "wire", ...channelOptions });
  return {
    channel,
    adapter(options: SimGsUsbOptions = {}) {
      const a = new SimGsUsbAdapter(channel, options);
      open.push(a);
      return a;
    },
    node(label = "node"): CanBus {
      const b = channel.open({ label });
      open.push(b);
      return b;
    },
  };
}

async function bus(
  model: SimGsUsbAdapter,
  iface = "gs_usb:",
  options: OpenGsUsbOptions = {},
): Promise<GsUsbBus> {
  const b = await openGsUsb(iface, { usb: InProcessUsbBackend.of(model), ...options });
  open.push(b);
  return b;
}

const vendorRequests = (log: UsbRequest[]) =>
  log.flatMap((r) =>
    r.op === "control" && r.setup.bmRequestType & 0x40 ? [r.setup.bRequest] : [],
  );

describe("gs_usb bus: setup", () => {
  it("candleLight: HOST_FORMAT, DEVICE_CONFIG, BT_CONST, the bit timing for the rate, MODE start; MODE reset on close", async () => {
    const r = rig();
    const a = r.adapter();
    const b = await bus(a);
    expect(vendorRequests(a.log).slice(0, 5)).toEqual([
      GsRequest.HOST_FORMAT,
      GsRequest.DEVICE_CONFIG,
      GsRequest.BT_CONST,
      GsRequest.BITTIMING,
      GsRequest.MODE,
    ]);
    expect(a.hostFormatOk).toBe(true);
    expect(a.configuredBitrate).toBe(1_000_000);
    expect(a.started).toBe(true);
    expect(b.info).toEqual({ backend: "gs_usb", simulated: false, bitrate: 1_000_000 });
    expect(b.adapter.kind).toBe("candlelight");
    expect(b.adapter.endpointIn).toBe(0x81);
    expect(b.adapter.endpointOut).toBe(0x02);
    expect(b.state).toBe("error-active");
    await b.close();
    expect(a.started).toBe(false);
  });

  it("candleLight at bitrate=500000: the adapter is set to 500 kbit/s", async () => {
    const a = rig().adapter();
    const b = await bus(a, "gs_usb:1d50:606f,bitrate=500000");
    expect(a.configuredBitrate).toBe(500_000);
    expect(b.info.bitrate).toBe(500_000);
  });

  it("Klipper's bridge: no bit timing sent (it runs at its build's rate); 1 Mbit/s assumed unless bitrate= says", async () => {
    const r = rig();
    const a = r.adapter({ variant: "klipper-bridge" });
    const b = await bus(a);
    expect(b.adapter.kind).toBe("klipper-bridge");
    expect(vendorRequests(a.log)).not.toContain(GsRequest.BITTIMING);
    expect(b.info.bitrate).toBe(1_000_000);
    await b.close();
    const c = await bus(a, "gs_usb:,bitrate=500000");
    expect(c.info.bitrate).toBe(500_000);
  });

  it("a rate the adapter's clock cannot make is refused before anything is sent, and the interface is released", async () => {
    const a = rig().adapter();
    await expect(bus(a, "gs_usb:,bitrate=33333")).rejects.toBeInstanceOf(GsUsbBitrateError);
    expect(vendorRequests(a.log)).not.toContain(GsRequest.MODE);
    expect(a.log.at(-1)).toEqual({ op: "release", iface: 0 });
  });

  it("an adapter the kernel's gs_usb driver holds (can0) is refused, not detached from under Klipper", async () => {
    const sysfs = new FakeUsbSysfs();
    open.push({ close: async () => sysfs.cleanup() });
    sysfs.plug({
      usbPath: "1-1.4",
      vid: "1d50",
      pid: "606f",
      manufacturer: "Klipper",
      product: "stm32g0b1xx",
      serial: "HELD01",
      net: "can0",
    });
    const a = rig().adapter({ variant: "klipper-bridge", serialNumber: "HELD01" });
    const e = await bus(a, "gs_usb:", { sysfsRoot: sysfs.sys }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(GsUsbKernelHeldError);
    expect((e as GsUsbKernelHeldError).netdev).toBe("can0");
    expect(a.log.some((r) => r.op === "claim")).toBe(false);
  });

  it("names: vid:pid, serial, the first; bad names and absent devices are typed errors", async () => {
    expect(parseGsUsbInterface("gs_usb:1d50:606f").selector).toEqual({
      vendorId: 0x1d50,
      productId: 0x606f,
    });
    expect(parseGsUsbInterface("gs_usb:ABC123").selector).toEqual({ serialNumber: "ABC123" });
    expect(parseGsUsbInterface("gs_usb:").selector).toEqual({});
    expect(() => parseGsUsbInterface("gs_usb:1d50:60")).toThrow(GsUsbInterfaceError);
    expect(() => parseGsUsbInterface("gs_usb:,speed=1")).toThrow(GsUsbInterfaceError);
    expect(() => parseGsUsbInterface("gs_usb:,bitrate=2000000")).toThrow(GsUsbInterfaceError);
    const a = rig().adapter({ serialNumber: "S1" });
    await expect(bus(a, "gs_usb:S2")).rejects.toBeInstanceOf(GsUsbNotFoundError);
    await expect(bus(a, "gs_usb:1209:2323")).rejects.toBeInstanceOf(GsUsbNotFoundError);
    expect((await bus(a, "gs_usb:S1")).adapter.kind).toBe("candlelight");
  });
});

describe("gs_usb bus: frames", () => {
  it("frames lost at the adapter's full queue to the host are reported to the reader, never silent", async () => {
    const r = rig();
    const a = r.adapter({ hostQueue: 4, usbLatencyMs: 20 });
    const node = r.node();
    const b = await bus(a);
    for (let i = 0; i < 40; i++) await node.send(canFrame(0x123, [i]));
    const got: CanFrame[] = [];
    let loss: unknown;
    for (;;) {
      try {
        const f = await b.recv(500);
        if (!f) break;
        got.push(f);
      } catch (e) {
        loss = e;
      }
    }
    expect(a.droppedToHost).toBeGreaterThan(0);
    expect(loss).toBeInstanceOf(GsUsbRxOverflowError);
    expect(got.length + a.droppedToHost).toBe(40);
  });

  it("an error frame reporting bus-off sets the bus state", async () => {
    const a = rig().adapter();
    const b = await bus(a);
    const errors = b.subscribe({ errors: true });
    a.reportError(canFrame(CAN_ERR_BUSOFF, [0, 0, 0, 0, 0, 0, 0, 0], { error: true }));
    const f = await errors.recv(2000);
    expect(f?.error).toBe(true);
    expect(b.state).toBe("bus-off");
  });

  it("controller error frames saying frames were dropped reach every reader as a loss, not only the error readers", async () => {
    const a = rig().adapter();
    const b = await bus(a);
    const stream = b.subscribe({ filters: [{ id: 0x581, mask: 0x7ff, extended: false }] });
    const errors = b.subscribe({ errors: true });
    a.reportError(
      canFrame(CAN_ERR_CRTL, [0, CAN_ERR_CRTL_TX_OVERFLOW, 0, 0, 0, 0, 0, 0], { error: true }),
    );
    await expect(stream.recv(2000)).rejects.toBeInstanceOf(GsUsbTxOverflowError);
    // An error reader hears of the loss first, then gets the error frame itself.
    await expect(errors.recv(2000)).rejects.toBeInstanceOf(GsUsbTxOverflowError);
    expect((await errors.recv(2000))?.error).toBe(true);
    a.reportError(
      canFrame(CAN_ERR_CRTL, [0, CAN_ERR_CRTL_RX_OVERFLOW, 0, 0, 0, 0, 0, 0], { error: true }),
    );
    await expect(stream.recv(2000)).rejects.toBeInstanceOf(GsUsbRxOverflowError);
    // Once reported, the reader goes on: nothing more is owed.
    expect(await stream.recv(50)).toBeUndefined();
  });

  it("Klipper's bridge answers the admin id itself and forwards it to the wire", async () => {
    const r = rig();
    const a = r.adapter({
      variant: "klipper-bridge",
      bridgeNode: { uuid: "aabbccddeeff", mcu: "stm32f072xb" },
    });
    const wireNode = r.node("listener");
    const b = await bus(a);
    await b.send(canFrame(0x3f0, [0x00])); // query unassigned
    const answer = await b.recv(2000);
    expect(answer?.id).toBe(0x3f1);
    expect(answer!.data[0]).toBe(0x20); // "needs a node id", then its UUID
    expect(Buffer.from(answer!.data.subarray(1, 7)).toString("hex")).toBe("aabbccddeeff");
    const seen = await wireNode.recv(2000);
    expect(seen?.id).toBe(0x3f0);
  });

  it("the adapter unplugged: readers and later sends fail with CanBusStoppedError", async () => {
    const a = rig().adapter();
    const b = await bus(a);
    const pending = b.recv(5000);
    a.unplug();
    await expect(pending).rejects.toBeInstanceOf(CanBusStoppedError);
    await expect(b.send(canFrame(1, []))).rejects.toBeInstanceOf(CanBusStoppedError);
  });
});
