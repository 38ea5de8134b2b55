// Opening CAN buses by interface name for the orchestration: the backend
// table (can/backends.ts) plus the demo bus "sim", slcan adapters
// ("slcan:<port>") and gs_usb adapters ("gs_usb:…"), registered here and imported only when opened;
// --trace-file wraps the bus.

import {
  isIsolatedInterface,
  isSimulatedInterface,
  openCanBus,
  registerCanBackend,
} from "../can/backends.js";
import type { CanBus } from "../can/bus.js";
import { NoSuchInterfaceError } from "../can/errors.js";
import { formatUsbId } from "../usb/device.js";
import { closeAllBuses } from "../can/registry.js";
import { TracedBus, type TraceSink } from "../can/trace.js";

/** The name `-i` takes for the built-in demo bus (four simulated boards). */
export const DEMO_INTERFACE = "sim";

registerCanBackend({
  name: "sim",
  // "sim:<dir>": the same boards, keeping their flash in <dir> from one run to the next.
  matches: (iface) => iface === DEMO_INTERFACE || iface.startsWith(`${DEMO_INTERFACE}:`),
  simulated: true,
  isolated: true,
  open: async (iface, options) => (await import("../sim/demo.js")).demoBackend.open(iface, options),
});

// slcan adapters on a serial port (transport/slcan): the backend lives above can/, so it registers here.
registerCanBackend({
  name: "slcan",
  matches: (iface) => iface.startsWith("slcan:"),
  simulated: false,
  open: async (iface, options) =>
    (await import("../transport/slcan/backend.js")).slcanBackend.open(iface, options),
});

// gs_usb adapters (candleLight, Klipper's USB-to-CAN bridge) on the USB seam (gs-usb/).
registerCanBackend({
  name: "gs_usb",
  matches: (iface) => iface.startsWith("gs_usb:"),
  simulated: false,
  open: async (iface, options) =>
    (await import("../gs-usb/backend.js")).gsUsbBackend.open(iface, options),
});

// Through this module, so the demo backend is registered before any name is judged.
export { isIsolatedInterface, isSimulatedInterface, openCanBus };

/**
 * Opens `iface`; with `trace`, every frame sent and received is also
 * written there. A SocketCAN interface that does not exist is reported with
 * the gs_usb adapters no kernel driver holds, which `-i gs_usb:…` opens.
 */
export async function openBus(iface: string, trace?: TraceSink): Promise<CanBus> {
  let bus: CanBus;
  try {
    bus = await openCanBus(iface);
  } catch (e) {
    if (e instanceof NoSuchInterfaceError && e.userspace.length === 0) {
      const userspace = await userspaceGsUsb();
      if (userspace.length) throw new NoSuchInterfaceError(e.iface, e.available, userspace);
    }
    throw e;
  }
  return trace ? new TracedBus(bus, trace) : bus;
}

/** gs_usb adapters on the USB backend that no kernel network interface stands for, by name. */
async function userspaceGsUsb(): Promise<string[]> {
  try {
    const { listGsUsbDevices, kernelNetdevOf } = await import("../gs-usb/backend.js");
    const out: string[] = [];
    for (const d of await listGsUsbDevices())
      if (!(await kernelNetdevOf(d)))
        out.push(`gs_usb:${d.serialNumber ?? formatUsbId(d.vendorId, d.productId)}`);
    return out;
  } catch {
    return []; // no USB listing (the addon missing): the plain error stands
  }
}

/** Closes every bus still open (shutdown paths). */
export const closeAllOpenBuses = closeAllBuses;

export type { TraceSink };
