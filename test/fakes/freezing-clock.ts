// A process that stops running for a while, on virtual time: what a loaded
// host (load average 7, a busy Raspberry Pi) does to everything its event
// loop drives. While frozen nothing fires; at the end every timer that fell
// due meanwhile fires at once, in the order it fell due (as the real clock's
// driver fires a late batch). Wrapping the clock of a virtual bus freezes the
// host, the bus model and the in-process device together — the same as a
// host whose frames only leave when its own event loop runs (a userspace USB
// adapter's transmit window): the device gets a command long after the host
// wrote it, while the host's clock kept running.
import { VirtualClock, type Clock } from "../../src/util/clock.js";

/** Spacing that keeps a late batch in due order without moving it noticeably, ms per ms. */
const ORDER_SCALE = 1e-6;

export class FreezingClock implements Clock {
  private readonly windows: Array<{ from: number; to: number }> = [];

  constructor(readonly virtual: VirtualClock = new VirtualClock()) {}

  now(): number {
    return this.virtual.now();
  }

  /** The process stops now for `ms`. */
  freeze(ms: number): void {
    const from = this.now();
    this.windows.push({ from, to: from + ms });
  }

  /** Total time frozen so far, ms. */
  get frozenMs(): number {
    return this.windows.reduce((sum, w) => sum + (w.to - w.from), 0);
  }

  schedule(ms: number, fn: () => void): () => void {
    let cancel = this.virtual.schedule(ms, () => fire());
    const fire = (): void => {
      const t = this.now();
      const w = this.windows.find((x) => t >= x.from && t < x.to);
      if (!w) return fn();
      cancel = this.virtual.schedule(w.to - t + (t - w.from) * ORDER_SCALE, () => fire());
    };
    return () => cancel();
  }
}
