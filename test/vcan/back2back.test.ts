// The back-to-back suite on SocketCAN: two CAN_RAW sockets on vcan0 in
// User-Mode Linux, the real kernel stack.
import { openCanBus } from "../../src/can/backends.js";
import { back2back } from "../can/back2back.js";

back2back("SocketCAN (vcan0, real kernel)", {
  many: 2000,
  open: async () => {
    const a = await openCanBus("vcan0");
    const b = await openCanBus("vcan0");
    return { a, b };
  },
});
