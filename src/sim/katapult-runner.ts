// The main loop of a simulated Katapult, shared by every link: find a
// frame, dispatch it, keep its bytes in the receive buffer until the command
// is done, stall the CPU for erases (input waits in hardware), keep the loop
// busy while programming (input still arrives), queue the responses, and
// start the application ~100 ms after COMPLETE. The link wrappers (CAN,
// UART, USB) own what arrives and what leaves.

import { Cmd } from "../bootloaders/katapult/codec.js";
import type { Clock } from "../util/clock.js";
import type { SimEventListener } from "./events.js";
import type { KatapultFirmware, StepResult } from "./katapult-firmware.js";

export interface RunnerOptions {
  /** Main-loop reaction time to new input, ms. */
  loopLatencyMs: number;
  /** COMPLETE → application start, ms (100). */
  completeDelayMs: number;
}

export interface RunnerHooks {
  /** Start of each loop pass (CAN handles its admin queue here). */
  beforeCommands?(): void;
  /** console_sendf: the link decides whether the responses fit. */
  queueResponses(responses: Uint8Array[]): void;
  /** An erase stall ended: the link delivers input its hardware held meanwhile. */
  stallEnded(): void;
  /** The application starts (the device leaves the bootloader). */
  onComplete(): void;
}

export class KatapultRunner {
  /** Highest end address of an accepted SEND_BLOCK since boot. */
  writtenEnd = 0;
  wedged = false;
  faulted = false;
  private stalledUntil = -1;
  private busyUntil = -1;
  private loopScheduled = false;
  private stopped = false;
  private readonly cancels = new Set<() => void>();

  constructor(
    readonly firmware: KatapultFirmware,
    private readonly clock: Clock,
    private readonly uuid: string,
    private readonly emit: SimEventListener,
    private readonly options: RunnerOptions,
    private readonly hooks: RunnerHooks,
  ) {}

  /** CPU stalled by an erase: not even interrupts run. */
  get stalled(): boolean {
    return this.clock.now() < this.stalledUntil;
  }

  /** Main loop busy with a command (interrupts run). */
  get busy(): boolean {
    return this.clock.now() < this.busyUntil;
  }

  /** New input or work: run the loop soon. */
  wake(): void {
    if (this.loopScheduled || this.busy || this.stopped) return;
    this.loopScheduled = true;
    this.later(this.options.loopLatencyMs, () => {
      this.loopScheduled = false;
      this.run();
    });
  }

  stop(): void {
    this.stopped = true;
    for (const c of this.cancels) c();
    this.cancels.clear();
  }

  later(ms: number, fn: () => void): void {
    const cancel = this.clock.schedule(ms, () => {
      this.cancels.delete(cancel);
      if (!this.stopped) fn();
    });
    this.cancels.add(cancel);
  }

  private run(): void {
    if (this.faulted) return;
    this.hooks.beforeCommands?.();
    for (;;) {
      if (this.wedged) return;
      const r = this.firmware.step();
      if (!r) return;
      if (r.nack) this.emit({ type: "nack", uuid: this.uuid });
      if (r.wedged) {
        this.hooks.queueResponses(r.responses);
        this.wedged = true;
        this.emit({ type: "wedged", uuid: this.uuid });
        return;
      }
      if (r.fault) {
        this.faulted = true;
        this.emit({ type: "fault", uuid: this.uuid, address: r.address ?? 0 });
        return;
      }
      this.report(r);
      const total = r.stallMs + r.busyMs;
      if (total > 0) {
        const now = this.clock.now();
        this.stalledUntil = now + r.stallMs;
        this.busyUntil = now + total;
        if (r.stallMs > 0) this.later(r.stallMs, () => this.hooks.stallEnded());
        this.later(total, () => {
          this.finish(r);
          this.wake();
        });
        return;
      }
      this.finish(r);
    }
  }

  private finish(r: StepResult): void {
    this.firmware.consume(r.consume);
    this.hooks.queueResponses(r.responses);
    if (r.complete) {
      this.emit({ type: "complete", uuid: this.uuid });
      this.later(this.options.completeDelayMs, () => this.hooks.onComplete());
    }
  }

  private report(r: StepResult): void {
    const { command, address, errorCode } = r;
    if (command === Cmd.CONNECT) this.emit({ type: "connect", uuid: this.uuid });
    else if (command === Cmd.SEND_BLOCK && address !== undefined) {
      const ok = errorCode === undefined && r.responses[0]?.[2] === 0xa0;
      if (ok) this.writtenEnd = Math.max(this.writtenEnd, address + this.firmware.config.blockSize);
      this.emit({
        type: "write",
        uuid: this.uuid,
        address,
        ok,
        ...(errorCode !== undefined ? { errorCode } : {}),
      });
    } else if (command === Cmd.SEND_EOF && r.pages !== undefined) {
      this.emit({ type: "eof", uuid: this.uuid, pages: r.pages });
    } else if (command === Cmd.REQUEST_BLOCK && address !== undefined) {
      this.emit({ type: "read", uuid: this.uuid, address });
    }
  }
}
