// The slcan backend: "slcan:<port>[@<tty baud>][,bitrate=…|,btr=…]" opens
// the serial port and the adapter's CAN channel. Registered in the backend
// table by flasher/buses.ts and imported only when such a name is opened.

import type { CanBackend } from "../../can/backends.js";
import type { ByteTransport } from "../byte-transport.js";
import { openSerial } from "../serial.js";
import { startSlcanBus, type SlcanBus, type SlcanBusOptions } from "./bus.js";
import { isSlcanInterface, parseSlcanInterface } from "./name.js";

export interface OpenSlcanOptions extends SlcanBusOptions {
  /** For tests: opens the port instead of the serialport addon. */
  openPort?: (path: string, baud: number) => Promise<ByteTransport>;
}

/**
 * Opens an slcan adapter by interface name. Throws SlcanInterfaceError for
 * a bad name, the serial port's errors (PortNotFoundError, PortInUseError,
 * PortPermissionError, AddonMissingError), SlcanNoAnswerError or
 * SlcanRefusedError; the port is closed again on failure.
 */
export async function openSlcan(iface: string, options: OpenSlcanOptions = {}): Promise<SlcanBus> {
  const name = parseSlcanInterface(iface);
  const port = options.openPort
    ? await options.openPort(name.path, name.ttyBaud)
    : await openSerial({ path: name.path, baudRate: name.ttyBaud });
  try {
    return await startSlcanBus(iface, name, port, options);
  } catch (e) {
    await port.close();
    throw e;
  }
}

export const slcanBackend: CanBackend = {
  name: "slcan",
  matches: isSlcanInterface,
  simulated: false,
  open: (iface, options) =>
    openSlcan(iface, {
      ...(options.receiveOwn !== undefined ? { receiveOwn: options.receiveOwn } : {}),
      ...(options.filters ? { filters: options.filters } : {}),
    }),
};
