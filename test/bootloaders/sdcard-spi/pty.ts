// The simulated flash-sdcard board on a real pty (test/fakes/pty.ts), for
// canflash run as a user runs it: the board runs in this process and
// answers what the host writes. The slave stays while the board reboots
// (as a UART's line does).
import type { SimSpiKlipperBoard } from "../../../src/sim/sdcard/spi-board.js";
import { openPty } from "../../fakes/pty.js";

export interface BoardOnPty {
  path: string;
  stop(): Promise<void>;
}

export async function boardOnPty(board: SimSpiKlipperBoard): Promise<BoardOnPty> {
  const pty = await openPty();
  pty.onData((d) => {
    const out = board.receive(d);
    if (out.length) pty.write(out);
  });
  return { path: pty.path, stop: () => pty.close() };
}
