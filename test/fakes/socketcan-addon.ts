// A scriptable stand-in for the `socketcan` addon's RawChannel: records what
// canflash sends and configures, refuses sends on demand (as the kernel does
// with ENOBUFS), and emits frames or an unexpected stop.
import type { AddonMessage, RawChannelLike, SocketCanAddon } from "../../src/can/socketcan.js";

export class FakeRawChannel implements RawChannelLike {
  readonly sent: Array<{ id: number; ext?: boolean; rtr?: boolean; data: Buffer }> = [];
  filters: Array<{ id: number; mask: number; invert?: boolean }> = [];
  started = false;
  stopped = false;
  /** Number of upcoming send() calls that fail as with ENOBUFS. */
  refuse = 0;
  /** Every send() fails (a bus where nothing acknowledges). */
  refuseForever = false;
  refusals = 0;
  private onMessage: ((m: AddonMessage) => void) | undefined;
  private onStopped: (() => void) | undefined;

  addListener(event: "onMessage", cb: (m: AddonMessage) => void): void;
  addListener(event: "onStopped", cb: () => void): void;
  addListener(event: "onMessage" | "onStopped", cb: (m: AddonMessage) => void): void {
    if (event === "onMessage") this.onMessage = cb;
    else this.onStopped = () => cb(undefined as never);
  }
  start(): void {
    this.started = true;
  }
  stop(): void {
    this.stopped = true;
    this.onStopped?.();
  }
  send(msg: { id: number; ext?: boolean; rtr?: boolean; data: Buffer }): number {
    if (this.refuseForever || this.refuse > 0) {
      this.refuse = Math.max(0, this.refuse - 1);
      this.refusals++;
      return -1;
    }
    this.sent.push(msg);
    return 16;
  }
  setRxFilters(filters: Array<{ id: number; mask: number; invert?: boolean }>): void {
    this.filters = filters;
  }
  emit(msg: AddonMessage): void {
    this.onMessage?.(msg);
  }
  /** The kernel reported an error on the socket (interface went down or away). */
  crash(): void {
    this.onStopped?.();
  }
}

export function fakeAddon(channel: FakeRawChannel | (() => never)): {
  addon: SocketCanAddon;
  opened: string[];
} {
  const opened: string[] = [];
  return {
    opened,
    addon: {
      createRawChannelWithOptions(name: string, options) {
        opened.push(name);
        if (!options.non_block_send) throw new Error("canflash must open channels non-blocking");
        if (typeof channel === "function") return channel();
        return channel;
      },
    },
  };
}
