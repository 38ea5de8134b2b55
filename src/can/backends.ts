// CAN backends by name (python-can's backend table): an interface name is
// matched against the table and opened by its backend's factory, imported
// only then. Built in: "virtual:<name>" (an in-process channel) and
// SocketCAN (everything else: can0, vcan0). Other backends register
// themselves (the demo bus "sim"; userspace gs_usb/slcan later). Whether a
// name is simulated is known from the table without opening anything, so
// no code compares interface names.

import type { CanBus } from "./bus.js";
import type { CanFilter } from "./filter.js";
import type { SocketCanOptions } from "./socketcan.js";

export const VIRTUAL_PREFIX = "virtual:";

export interface OpenBusOptions {
  receiveOwn?: boolean;
  filters?: readonly CanFilter[];
  /** SocketCAN-only settings (test roots, send deadline). */
  socketcan?: SocketCanOptions;
}

export interface CanBackend {
  readonly name: string;
  /** The interface name belongs to this backend. */
  matches(iface: string): boolean;
  /** Its buses are in-process, not a printer's (no Klipper guard, no USB bridge). */
  readonly simulated: boolean;
  /** Each open makes a bus of its own that no other open sees (the demo bus). */
  readonly isolated?: boolean;
  /** Opens the bus (the backend's module is imported here, not before). */
  open(iface: string, options: OpenBusOptions): Promise<CanBus>;
}

const virtualBackend: CanBackend = {
  name: "virtual",
  matches: (iface) => iface.startsWith(VIRTUAL_PREFIX),
  simulated: true,
  async open(iface, options) {
    const channel = iface.slice(VIRTUAL_PREFIX.length);
    if (!channel) throw new RangeError('a virtual channel needs a name: "virtual:<name>"');
    const { VirtualCanChannel } = await import("./virtual.js");
    return VirtualCanChannel.join(channel, {
      receiveOwn: options.receiveOwn,
      filters: options.filters,
      label: "host",
    });
  },
};

const socketcanBackend: CanBackend = {
  name: "socketcan",
  matches: () => true,
  simulated: false,
  async open(iface, options) {
    const { openSocketCan } = await import("./socketcan.js");
    return openSocketCan(iface, {
      ...options.socketcan,
      receiveOwn: options.receiveOwn,
      filters: options.filters,
    });
  },
};

/** Registered backends, first match wins; SocketCAN takes every name nobody else claims. */
const table: CanBackend[] = [virtualBackend];

/** Adds a backend ahead of the built-in ones (same name: replaces it). */
export function registerCanBackend(b: CanBackend): void {
  const i = table.findIndex((x) => x.name === b.name);
  if (i >= 0) table.splice(i, 1);
  table.unshift(b);
}

/** The backend an interface name belongs to. */
export function backendFor(iface: string): CanBackend {
  return table.find((b) => b.matches(iface)) ?? socketcanBackend;
}

/** Is `iface` an in-process bus (the demo bus, a virtual channel)? Opens nothing. */
export function isSimulatedInterface(iface: string): boolean {
  return backendFor(iface).simulated;
}

/** Does every open of `iface` make a private bus (so nothing else can join it)? */
export function isIsolatedInterface(iface: string): boolean {
  return !!backendFor(iface).isolated;
}

/** Opens `iface` through its backend. */
export function openCanBus(iface: string, options: OpenBusOptions = {}): Promise<CanBus> {
  return backendFor(iface).open(iface, options);
}
