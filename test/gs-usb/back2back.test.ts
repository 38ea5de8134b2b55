// The back-to-back suite through gs_usb: each endpoint is canflash's gs_usb
// backend (opened by name through the backend table) on the in-process USB
// backend, talking to its own adapter model; the two adapters share one
// virtual CAN channel. candleLight on one side, Klipper's bridge on the other.
import { VirtualCanChannel } from "../../src/can/virtual.js";
import { openCanBus } from "../../src/flasher/buses.js";
import { back2back } from "../can/back2back.js";
import { gsUsbRig } from "../fakes/gs-usb.js";

back2back("gs_usb (two adapter models on the in-process USB backend, one virtual channel)", {
  many: 500,
  open: async () => {
    const channel = VirtualCanChannel.anonymous({ label: "wire" });
    const rig = gsUsbRig();
    rig.add(channel, { name: "left", serialNumber: "LEFT0001" });
    rig.add(channel, { name: "right", variant: "klipper-bridge", serialNumber: "RIGHT0002" });
    try {
      const a = await openCanBus("gs_usb:LEFT0001");
      const b = await openCanBus("gs_usb:RIGHT0002").catch(async (e: unknown) => {
        await a.close();
        throw e;
      });
      return { a, b, dispose: () => rig.close() };
    } catch (e) {
      await rig.close();
      throw e;
    }
  },
});
