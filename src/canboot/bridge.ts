// The USB-to-CAN bridge hand-off. A Klipper "USB to CAN bridge" board is the
// CAN adapter (gs_usb 1d50:606f, manufacturer "Klipper") and also a CAN node
// whose UUID derives from its USB serial. Flashing it over its own bus is
// impossible — asked into Katapult it leaves the bus and comes back as a
// Katapult USB serial device — so: request the bootloader over CAN, follow
// the USB port to the Katapult tty, and finish over serial in the same run.

import type { CanBus } from "../can/bus.js";
import { uuidFromUsbSerial, type Uuid } from "../klippy-bridge/uuid.js";
import { openSerial } from "../transport/serial.js";
import { UsbTree, type BridgeNetdev } from "../transport/usb-tree.js";
import { KatapultAdapter } from "./adapter.js";
import { katapultCanAdapter, type KatapultCanOptions } from "./can.js";
import { requestBootloader } from "./can-admin.js";
import { DEFAULT_KATAPULT_BAUD, waitForKatapultUsb, type SerialLinkOptions } from "./serial.js";
import type { SessionTimeouts } from "./session.js";

/** The bridge netdev `iface` when its USB serial maps to `uuid`. */
export async function findBridgeFor(
  uuid: Uuid,
  iface: string,
  tree: UsbTree = new UsbTree(),
): Promise<BridgeNetdev | undefined> {
  for (const b of await tree.bridges()) {
    if (b.iface === iface && uuidFromUsbSerial(b.usb.serial) === uuid) return b;
  }
  return undefined;
}

export interface KatapultBridgeOptions extends SerialLinkOptions {
  bus: CanBus;
  uuid: Uuid;
  bridge: BridgeNetdev;
  timeouts?: Partial<SessionTimeouts>;
  flashEnd?: number;
}

/** Flashes the bridge board: request over CAN, then Katapult over its USB tty. */
export function katapultBridgeAdapter(o: KatapultBridgeOptions): KatapultAdapter {
  const tree = o.tree ?? new UsbTree();
  return new KatapultAdapter({
    protocol: "katapult-bridge",
    prime: true,
    ...(o.timeouts ? { timeouts: o.timeouts } : {}),
    ...(o.flashEnd !== undefined ? { flashEnd: o.flashEnd } : {}),
    async open(ctx) {
      ctx.emit({
        type: "info",
        message: `${o.uuid} is the USB-to-CAN bridge ${o.bridge.iface} (USB ${o.bridge.usb.usbPath}): requesting its bootloader, then flashing over USB`,
        data: { bridge: o.bridge.iface },
      });
      await requestBootloader(o.bus, o.uuid);
      const tty = await waitForKatapultUsb(
        tree,
        o.bridge.iface,
        o.bridge.usb.usbPath,
        { ...o, ...(ctx.signal ? { signal: ctx.signal } : {}) },
        ctx.clock,
      );
      ctx.emit({ type: "info", message: `the bridge came back as Katapult on ${tty.name}` });
      const port = await openSerial({
        path: tty.devPath,
        baudRate: DEFAULT_KATAPULT_BAUD,
        clock: ctx.clock,
        ...(o.procRoot ? { procRoot: o.procRoot } : {}),
      });
      await port.flush();
      return port;
    },
  });
}

/** The right adapter for a CAN UUID: the bridge hand-off when `uuid` is the bridge behind `iface`. */
export async function katapultAdapterForCanNode(
  o: KatapultCanOptions & { iface: string; tree?: UsbTree },
): Promise<{ adapter: KatapultAdapter; bridge: BridgeNetdev | undefined }> {
  const bridge = await findBridgeFor(o.uuid, o.iface, o.tree);
  if (bridge) {
    return {
      adapter: katapultBridgeAdapter({
        bus: o.bus,
        uuid: o.uuid,
        bridge,
        ...(o.tree ? { tree: o.tree } : {}),
        ...(o.timeouts ? { timeouts: o.timeouts } : {}),
      }),
      bridge,
    };
  }
  return { adapter: katapultCanAdapter(o), bridge: undefined };
}
