// A virtual CAN bus with simulated boards and a host endpoint, on virtual
// time: the building block of the in-process end-to-end tests.
import { VirtualCanChannel, type VirtualChannelOptions } from "../../src/can/virtual.js";
import type { CanBus } from "../../src/can/bus.js";
import { SimCanDevice, type SimCanDeviceOptions } from "../../src/sim/device.js";
import { VirtualClock } from "../../src/util/clock.js";

export interface SimBus {
  clock: VirtualClock;
  channel: VirtualCanChannel;
  host: CanBus;
  devices: SimCanDevice[];
  add(options: SimCanDeviceOptions): SimCanDevice;
  /** Runs `work` on virtual time. */
  run<T>(work: Promise<T>, limitMs?: number): Promise<T>;
  close(): Promise<void>;
}

export function simBus(options: Omit<VirtualChannelOptions, "clock"> = {}): SimBus {
  const clock = new VirtualClock();
  const channel = VirtualCanChannel.anonymous({ ...options, clock });
  const host = channel.open({ label: "host" });
  const devices: SimCanDevice[] = [];
  return {
    clock,
    channel,
    host,
    devices,
    add(o) {
      const d = new SimCanDevice(channel.open({ label: o.uuid, txQueueLength: 3 }), o);
      d.start();
      devices.push(d);
      return d;
    },
    run: (work, limitMs) => clock.run(work, limitMs),
    async close() {
      await clock.run(Promise.all([host.close(), ...devices.map((d) => d.close())]));
    },
  };
}
