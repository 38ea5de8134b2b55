// The back-to-back suite through slcan: each endpoint is canflash's slcan
// backend on a pty to its own adapter model; the two adapters share one
// virtual CAN channel. Lawicel's dialect on one side, CANable's on the other.
import { VirtualCanChannel } from "../../../src/can/virtual.js";
import { openCanBus } from "../../../src/flasher/buses.js";
import { back2back } from "../../can/back2back.js";
import { slcanOnPty } from "../../fakes/slcan.js";

back2back("slcan (two adapter models on ptys, one virtual channel)", {
  many: 500,
  open: async () => {
    const channel = VirtualCanChannel.anonymous({ label: "wire" });
    const left = await slcanOnPty(channel, { dialect: "lawicel" });
    const right = await slcanOnPty(channel, { dialect: "canable" });
    try {
      const a = await openCanBus(left.iface);
      const b = await openCanBus(right.iface).catch(async (e: unknown) => {
        await a.close();
        throw e;
      });
      return {
        a,
        b,
        dispose: async () => {
          await left.close();
          await right.close();
        },
      };
    } catch (e) {
      await left.close();
      await right.close();
      throw e;
    }
  },
});
