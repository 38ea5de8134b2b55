// The back-to-back suite on the virtual bus: an untimed channel, and one
// that models 1 Mbit/s bus time.
import { VirtualCanChannel } from "../../src/can/virtual.js";
import { back2back } from "./back2back.js";

back2back("the virtual bus", {
  open: async () => {
    const ch = VirtualCanChannel.anonymous();
    return { a: ch.open({ label: "a" }), b: ch.open({ label: "b" }) };
  },
});

back2back("the virtual bus with 1 Mbit/s bus time", {
  many: 500,
  open: async () => {
    const ch = VirtualCanChannel.anonymous({ bitrate: 1_000_000 });
    return { a: ch.open({ label: "a" }), b: ch.open({ label: "b" }) };
  },
});
