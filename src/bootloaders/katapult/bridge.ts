// The USB-to-CAN bridge hand-off. A Klipper "USB to CAN bridge" board is the
// CAN adapter (gs_usb, manufacturer "Klipper") and also a CAN node whose
// UUID derives from its USB serial. Flashing it over its own bus is
// impossible — asked into Katapult it leaves the bus and comes back as a
// Katapult USB serial device — so: request the bootloader over CAN, follow
// the USB port to the Katapult tty, and finish over serial in the same run.
// A dry run sends no request: the bridge runs Klipper, so it stops there.
// A bridge that comes back in a USB DFU bootloader instead (the STM32 ROM,
// 0483:df11: Katapult missing or damaged, Katapult issue #179) is reported
// as exactly that, with the device's port: nothing was written.

declare module "../../util/errors.js" {
  interface ErrorCodes {
    BRIDGE_IN_DFU: true;
  }
}

/** The bridge left the bus for its bootloader but came back in a DFU bootloader, not Katapult. */
export class BridgeInDfuError extends CanflashError {
  constructor(
    readonly iface: string,
    readonly uuid: string,
    /** Its USB port ("1-1.4"). */
    readonly usbPath: string,
    /** "0483:df11". */
    readonly usbId: string,
    /** DFU rows of the device table with that id. */
    readonly targets: readonly string[],
    readonly bootloader: string,
    cause: unknown,
  ) {
    super(
      "BRIDGE_IN_DFU",
      `the USB-to-CAN bridge ${iface} (${uuid}) left the bus for its bootloader but came back on USB ${usbPath} as ${usbId}, the ${bootloader}, not as Katapult; it waits there`,
      { cause },
    );
  }
}

/** A DFU bootloader of the device table at this USB id ("0483:df11 STMicroelectronics …"), if any. */
function dfuRowsFor(seen: string | undefined): Target[] {
  const id = seen?.split(" ")[0];
  return targets().filter(
    (t) => (t.protocol === "dfuse" || t.protocol === "dfu") && !!id && t.usbIds.includes(id),
  );
}

import type { CanBus } from "../../can/bus.js";
import { requestBootloader } from "../../entry/can-admin.js";
import { followUsbTo, UsbReenumerationError, type FollowOptions } from "../../entry/follow-usb.js";
import { DryRunStopError } from "../../flash-api/errors.js";
import type { Uuid } from "../../klippy-bridge/uuid.js";
import { targets, type Target } from "../../targets/index.js";
import { CanflashError } from "../../util/errors.js";
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
      ).catch((e: unknown) => {
        const rows = e instanceof UsbReenumerationError ? dfuRowsFor(e.seen) : [];
        if (rows.length === 0) throw e;
        throw new BridgeInDfuError(
          o.bridge.iface,
          o.uuid,
          o.bridge.usb.usbPath,
          (e as UsbReenumerationError).seen!.split(" ")[0]!,
          rows.map((t) => t.id),
          rows[0]!.bootloader,
          e,
        );
      });
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
