// Which CAN node is the interface itself: a Klipper USB-to-CAN bridge board
// is the CAN adapter (gs_usb) and also a node whose UUID derives from its
// USB serial. Asked into its bootloader it leaves the bus, so it is flashed
// last, through its USB hand-off.

import { uuidFromUsbSerial, type Uuid } from "../klippy-bridge/uuid.js";
import { UsbTree, type BridgeNetdev } from "../transport/usb-tree.js";

/** The bridges behind `iface`, by the UUID of their node. */
export async function bridgesOf(
  iface: string,
  tree: UsbTree = new UsbTree(),
): Promise<Map<Uuid, BridgeNetdev>> {
  const out = new Map<Uuid, BridgeNetdev>();
  for (const b of await tree.bridges()) {
    const uuid = uuidFromUsbSerial(b.usb.serial);
    if (b.iface === iface && uuid) out.set(uuid, b);
  }
  return out;
}

/** The bridge netdev `iface` when its USB serial maps to `uuid`. */
export async function bridgeFor(
  uuid: Uuid,
  iface: string,
  tree?: UsbTree,
): Promise<BridgeNetdev | undefined> {
  return (await bridgesOf(iface, tree)).get(uuid);
}
