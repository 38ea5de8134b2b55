// The Katapult (formerly CanBoot) driver: CAN nodes through their
// interface's gate, the USB-to-CAN bridge through its USB hand-off, and
// ttys (USB CDC or UART). Status is flashtool's -s; a request is the CAN
// request, the 1200-baud touch or the serial request string, whichever the
// row's entries and the link allow.

import { ENTRIES, manualEntries, pickEntry } from "../../entry/index.js";
import { sendSerialBootloaderRequest } from "../../entry/serial-request.js";
import {
  driverContext,
  type BootloaderDriver,
  type DriverEnv,
  type Link,
  type RequestReport,
  type StatusReport,
} from "../../flash-api/driver.js";
import { LinkNotSupportedError, NoEntryError } from "../../flash-api/errors.js";
import type { Target } from "../../targets/index.js";
import { nodeCanIds } from "../../klippy-bridge/admin.js";
import { CanNodeStream } from "../../transport/can-node-stream.js";
import { UsbTree } from "../../transport/usb-tree.js";
import { KatapultSession } from "./session.js";
import type { KatapultAdapter } from "./adapter.js";
import { katapultBridgeAdapter } from "./bridge.js";
import { katapultCanAdapter } from "./can.js";
import { DEFAULT_KATAPULT_BAUD, katapultSerialAdapter, reachKatapultSerial } from "./serial.js";

/** Katapult is a CAN node or a tty, never a bare USB device. */
function notUsb<L extends Link>(t: Target, link: L): Exclude<L, { kind: "usb" }> {
  if (link.kind === "usb")
    throw new LinkNotSupportedError(t.id, t.protocol, link.kind, ["can", "serial"]);
  return link as Exclude<L, { kind: "usb" }>;
}

function adapterFor(t: Target, anyLink: Link, env: DriverEnv): KatapultAdapter {
  const link = notUsb(t, anyLink);
  const flashEnd = t.appEnd !== undefined ? { flashEnd: t.appEnd } : {};
  if (link.kind === "can") {
    if (link.bridge)
      return katapultBridgeAdapter({
        bus: link.bus,
        uuid: link.uuid,
        bridge: link.bridge,
        target: t,
        ...(env.usbTree ? { tree: env.usbTree } : {}),
        ...(env.procRoot ? { procRoot: env.procRoot } : {}),
        ...(env.wrapTransport ? { wrapTransport: env.wrapTransport } : {}),
        ...flashEnd,
      });
    return katapultCanAdapter({ bus: link.bus, uuid: link.uuid, gate: link.gate, ...flashEnd });
  }
  if (link.kind === "drive" || link.kind === "openocd")
    throw new LinkNotSupportedError(t.id, t.protocol, link.kind, ["can", "serial"]);
  return katapultSerialAdapter({
    device: link.device,
    target: t,
    ...(link.baud !== undefined ? { baud: link.baud } : {}),
    ...(env.usbTree ? { tree: env.usbTree } : {}),
    ...(env.procRoot ? { procRoot: env.procRoot } : {}),
    ...(env.wrapTransport ? { wrapTransport: env.wrapTransport } : {}),
    ...flashEnd,
  });
}

export const driver: BootloaderDriver = {
  protocol: "katapult",
  name: "Katapult",
  links: ["can", "serial"],

  supports: () => true,

  adapter: adapterFor,

  async status(t, link, env): Promise<StatusReport> {
    const adapter = adapterFor(t, link, env);
    const ctx = driverContext(env);
    try {
      await adapter.enter(ctx);
      const d = await adapter.connect(ctx);
      const info = adapter.connectInfo!;
      return {
        bootloader: "Katapult",
        fields: [
          { label: "Software Version", value: info.softwareVersion ?? "?" },
          { label: "Protocol Version", value: info.protocol },
          { label: "Block Size", value: `${info.blockSize} bytes` },
          { label: "Application Start", value: `0x${info.appStart.toString(16).toUpperCase()}` },
          { label: "MCU type", value: info.mcu },
        ],
        description: d.description,
      };
    } finally {
      await adapter.close();
    }
  },

  async release(_t, link, env) {
    if (link.kind !== "can" || link.bridge) return false;
    const a = await link.gate.settled?.(link.uuid);
    if (!a?.requested || a.nodeId === undefined) return false;
    const stream = new CanNodeStream(link.bus, nodeCanIds(a.nodeId), `node ${a.nodeId}`);
    try {
      await new KatapultSession(stream, env.signal ? { signal: env.signal } : {}).complete();
      return true;
    } finally {
      await stream.close();
    }
  },

  async probe(t, link, env) {
    const adapter = adapterFor(t, link, env);
    const ctx = driverContext({ ...env, dryRun: true });
    try {
      await adapter.enter(ctx);
      const device = await adapter.connect(ctx);
      return { present: true, description: device.description, device };
    } finally {
      await adapter.close();
    }
  },

  async request(t, anyLink, env): Promise<RequestReport> {
    const link = notUsb(t, anyLink);
    if (link.kind === "can") {
      if (!link.gate.arrival)
        throw new RangeError("a CAN request needs a gate that reports arrivals");
      const a = await link.gate.arrival(link.uuid);
      return { bootloader: "Katapult", at: link.uuid, already: !a.requested, confirmed: true };
    }
    if (link.kind === "drive" || link.kind === "openocd")
      throw new LinkNotSupportedError(t.id, t.protocol, link.kind, ["can", "serial"]);
    const tree = env.usbTree ?? new UsbTree();
    const tty = await tree.resolveTty(link.device);
    if (tty?.usb) {
      const r = await reachKatapultSerial(link.device, t, {
        tree,
        clock: env.clock,
        ...(env.signal ? { signal: env.signal } : {}),
        ...(env.procRoot ? { procRoot: env.procRoot } : {}),
        onInfo: (message) => env.emit?.({ type: "info", message }),
      });
      return { bootloader: "Katapult", at: r.path, already: !r.entered, confirmed: true };
    }
    const entry = pickEntry(t, "uart");
    if (!entry)
      throw new NoEntryError(link.device, t.id, manualEntries(t), "an unknown application");
    const baud = link.baud ?? t.defaultBaud ?? DEFAULT_KATAPULT_BAUD;
    env.emit?.({
      type: "info",
      message: `${ENTRIES[entry].wouldDo} at ${baud} baud`,
      data: { entry, baud },
    });
    await sendSerialBootloaderRequest(link.device, baud, env.procRoot);
    return { bootloader: "Katapult", at: link.device, already: false, confirmed: false };
  },
};
