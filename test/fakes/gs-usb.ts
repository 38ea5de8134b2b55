// gs_usb adapter models where canflash finds them: registered with the
// in-process USB backend (CANFLASH_USB_BACKEND=in-process), so that
// "gs_usb:…" names open them through the backend table.
import { vi } from "vitest";
import type { VirtualCanChannel } from "../../src/can/virtual.js";
import { SimGsUsbAdapter, type SimGsUsbOptions } from "../../src/sim/usb/gs-usb.js";
import { registerInProcessUsbModels } from "../../src/usb/backends.js";

export interface GsUsbRig {
  adapters: SimGsUsbAdapter[];
  add(channel: VirtualCanChannel, options?: SimGsUsbOptions): SimGsUsbAdapter;
  close(): Promise<void>;
}

export function gsUsbRig(): GsUsbRig {
  const adapters: SimGsUsbAdapter[] = [];
  const unregister = registerInProcessUsbModels(() => adapters);
  vi.stubEnv("CANFLASH_USB_BACKEND", "in-process");
  return {
    adapters,
    add(channel, options) {
      const a = new SimGsUsbAdapter(channel, options);
      adapters.push(a);
      return a;
    },
    async close() {
      await Promise.all(adapters.map((a) => a.close()));
      adapters.length = 0;
      unregister();
      vi.unstubAllEnvs();
    },
  };
}
