// The USB-to-CAN bridge hand-off. A Klipper "USB to CAN bridge" board is the
// CAN adapter (gs_usb, manufacturer "Klipper") and also a CAN node whose
// UUID derives from its USB serial. Flashing it over its own bus is
// impossible — asked into Katapult it leaves the bus and comes back as a
// Katapult USB serial device — so: request the bootloader over CAN, follow
// the USB port to the Katapult tty, and finish over serial in the same run.
// A dry run sends no request: the bridge runs Klipper, so it stops there.

import type { CanBus } from "../../can/bus.js";
import { requestBootloader } from "../../entry/can-admin.js";
import { followUsbTo, type FollowOptions } from "../../entry/follow-usb.js";
import { DryRunStopError } from "../../flash-api/errors.js";
import type { Uuid } from "../../klippy-bridge/uuid.js";
import type { Target } from "../../targets/index.js";
import type { ByteTransport } from "../../transport/byte-transport.js";
import { openSerial } from "../../transport/serial.js";
import { UsbTree, type BridgeNetdev } from "../../transport/usb-tree.js";
import { KatapultAdapter } from "./adapter.js";
import { DEFAULT_KATAPULT_BAUD, isKatapultUsb } from "./serial.js";
import type { SessionTimeouts } from "./session.js";

export interface KatapultBridgeOptions extends FollowOptions {
  bus: CanBus;
  uuid: Uuid;
  bridge: BridgeNetdev;
  target: Target;
  tree?: UsbTree;
  procRoot?: string;
  wrapTransport?: (t: ByteTransport) => ByteTransport;
  timeouts?: Partial<SessionTimeouts>;
  flashEnd?: number;
}

/** Flashes the bridge board: request over CAN, then Katapult over its USB tty. */
export function katapultBridgeAdapter(o: KatapultBridgeOptions): KatapultAdapter {
  const tree = o.tree ?? new UsbTree();
  return new KatapultAdapter({
    protocol: "katapult-bridge",
    prime: true,
    // It runs Klipper (it is the bridge) until this run asks it into Katapult.
    entered: () => true,
    ...(o.timeouts ? { timeouts: o.timeouts } : {}),
    ...(o.flashEnd !== undefined ? { flashEnd: o.flashEnd } : {}),
    ...(o.wrapTransport ? { wrapTransport: o.wrapTransport } : {}),
    async open(ctx) {
      if (ctx.dryRun)
        throw new DryRunStopError(
          o.uuid,
          `request its bootloader (it is the USB-to-CAN bridge ${o.bridge.iface}) and finish over USB`,
        );
      ctx.emit({
        type: "info",
        message: `${o.uuid} is the USB-to-CAN bridge ${o.bridge.iface} (USB ${o.bridge.usb.usbPath}): requesting its bootloader, then flashing over USB`,
        data: { bridge: o.bridge.iface },
      });
      await requestBootloader(o.bus, o.uuid);
      const tty = await followUsbTo(
        tree,
        {
          device: o.bridge.iface,
          usbPath: o.bridge.usb.usbPath,
          expected: "Katapult",
          accept: (u) => isKatapultUsb(o.target, u),
        },
        { ...o, clock: ctx.clock, ...(ctx.signal ? { signal: ctx.signal } : {}) },
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
