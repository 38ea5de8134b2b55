// A SAM-BA board model and a host ByteTransport in one process, on a
// virtual clock: bytes cross in `latencyMs` (a USB frame) each way.
import { SamBaBoard, type SamBaBoardOptions } from "../../../src/sim/sam-ba/board.js";
import { MockTransport } from "../../../src/transport/mock.js";
import { VirtualClock } from "../../../src/util/clock.js";

export const LATENCY_MS = 0.125;

export function pair(o: Omit<SamBaBoardOptions, "clock">, clock = new VirtualClock()) {
  let toDevice: ((b: Uint8Array) => void) | undefined;
  const host = new MockTransport(clock, (written) => {
    clock.schedule(LATENCY_MS, () => toDevice?.(written));
    return undefined;
  });
  const board = new SamBaBoard(
    {
      write: (b) => {
        const copy = Uint8Array.from(b);
        clock.schedule(LATENCY_MS, () => host.emitData(copy));
      },
      onData: (cb) => {
        toDevice = cb;
      },
    },
    { ...o, clock },
  );
  return { clock, host, board };
}

/** The commands the monitor ran, as letters. */
export const letters = (board: SamBaBoard): string =>
  board.events.flatMap((e) => (e.type === "command" ? [e.letter] : [])).join("");
