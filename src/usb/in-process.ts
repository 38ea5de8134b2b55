// The in-process USB backend: device models in this process, on any clock
// (unit tests, fault injection). Descriptors and strings are read from the
// model with GET_DESCRIPTOR, as a host stack does.

import type { UsbBackend, UsbDevice, UsbDeviceInfo } from "./device.js";
import type { UsbDeviceModel } from "./model.js";
import { RequestHost, describeModel } from "./request-host.js";

export class InProcessUsbBackend implements UsbBackend {
  readonly name = "in-process";
  constructor(private readonly models: () => readonly UsbDeviceModel[]) {}

  static of(...models: UsbDeviceModel[]): InProcessUsbBackend {
    return new InProcessUsbBackend(() => models);
  }

  async list(): Promise<UsbDeviceInfo[]> {
    const out: UsbDeviceInfo[] = [];
    for (const m of this.models()) {
      if (m.generation === undefined) continue;
      const info = await describeModel(this.name, m.name, m.portPath, (r) => m.handle(r)).catch(
        () => undefined,
      );
      if (info) out.push(info);
    }
    return out;
  }

  async open(info: UsbDeviceInfo): Promise<UsbDevice> {
    const m = this.models().find((x) => x.name === info.id);
    const generation = m?.generation;
    if (!m || generation === undefined) return RequestHost.gone(info);
    const send = async (r: Parameters<UsbDeviceModel["handle"]>[0]) =>
      m.generation === generation ? m.handle(r) : { status: -4 };
    return RequestHost.open(info, send, async () => {});
  }
}
