// Opening a bus by name: "virtual:<name>" joins an in-process channel,
// anything else is a SocketCAN interface ("can0", "vcan0", …).

import type { CanBus } from "./bus.js";
import type { CanFilter } from "./filter.js";
import { openSocketCan, type SocketCanOptions } from "./socketcan.js";
import { VirtualCanChannel } from "./virtual.js";

export const VIRTUAL_PREFIX = "virtual:";

export interface OpenBusOptions {
  receiveOwn?: boolean;
  filters?: readonly CanFilter[];
  /** SocketCAN-only settings (test roots, send deadline). */
  socketcan?: SocketCanOptions;
}

export function isVirtualChannel(name: string): boolean {
  return name.startsWith(VIRTUAL_PREFIX);
}

/** Opens `name`: "virtual:<channel>" or a SocketCAN interface. */
export async function openCanBus(name: string, options: OpenBusOptions = {}): Promise<CanBus> {
  if (isVirtualChannel(name)) {
    const channel = name.slice(VIRTUAL_PREFIX.length);
    if (!channel) throw new RangeError('a virtual channel needs a name: "virtual:<name>"');
    return VirtualCanChannel.join(channel, {
      receiveOwn: options.receiveOwn,
      filters: options.filters,
      label: "host",
    });
  }
  return openSocketCan(name, {
    ...options.socketcan,
    receiveOwn: options.receiveOwn,
    filters: options.filters,
  });
}
