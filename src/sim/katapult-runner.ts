// The main loop of a simulated Katapult, shared by every link: find a
// frame, dispatch it, keep its bytes in the receive buffer until the command
// is done, stall the CPU for erases (input waits in hardware), keep the loop
// busy while programming (input still arrives), queue the responses, and
// start the application ~100 ms after COMPLETE. The link wrappers (CAN,
// UART, USB) own what arrives and what leaves.
//
// It runs on the chip's own timeline: each pass, stall end and command end
// is an event at a device time, and input that a link timestamps (CAN) is
// applied in time order between them. When the host process runs late (a
// loaded machine, UML), due events run back to back until the chip has
// caught up, so the chip never looks slower than it is, and input that
// arrived during an erase still meets a stalled chip.

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

/** An erase stall in device time: input in [from, to) waits in the controller's FIFO. */
export interface StallWindow {
  from: number;
  to: number;
}

export interface RunnerHooks {
  /** Apply timestamped input up to device time `at` (CAN: its inbox). */
  deliverUntil?(at: number, stall: StallWindow | undefined): void;
  /** Device time of the earliest input not applied yet. */
  nextInputAt?(): number | undefined;
  /** Start of each loop pass (CAN handles its admin queue here). */
  beforeCommands?(): void;
  /** console_sendf at device time `at`: the link decides whether the responses fit. */
  queueResponses(responses: Uint8Array[], at: number): void;
  /** An erase stall ended: the link delivers input its hardware held meanwhile. */
  stallEnded(): void;
  /** The application starts (the device leaves the bootloader). */
  onComplete(): void;
}

type LoopEvent =
  | { at: number; kind: "pass" }
  | { at: number; kind: "stall-end"; r: StepResult; done: number }
  | { at: number; kind: "finish"; r: StepResult };

/** Events run back to back at most this many times before yielding to the event loop. */
const MAX_EVENTS_PER_TURN = 10_000;

export class KatapultRunner {
  /** Highest end address of an accepted SEND_BLOCK since boot. */
  writtenEnd = 0;
  wedged = false;
  faulted = false;
  /** The current erase stall, in device time. */
  stallWindow: StallWindow | undefined;
  private working = false;
  private stopped = false;
  /** The next event of the main loop (one at a time: a pass, or the end of a stall or command). */
  private next: LoopEvent | undefined;
  private cancelNext: (() => void) | undefined;
  /** Device time the main loop is free again after the last command. */
  private freeAt = -Infinity;
  private readonly cancels = new Set<() => void>();

  constructor(
    readonly firmware: KatapultFirmware,
    private readonly clock: Clock,
    private readonly uuid: string,
    private readonly emit: SimEventListener,
    private readonly options: RunnerOptions,
    private readonly hooks: RunnerHooks,
  ) {}

  /** CPU stalled by an erase (until its end event ran): not even interrupts run. */
  get stalled(): boolean {
    return this.stallWindow !== undefined;
  }

  /** Main loop busy with a command (interrupts run). */
  get busy(): boolean {
    return this.working;
  }

  /** New input or work at device time `at` (default now): run a pass soon after. */
  wake(at = this.clock.now()): void {
    if (this.stopped || this.working) return; // the command's end wakes the loop
    const passAt = Math.max(at + this.options.loopLatencyMs, this.freeAt);
    if (this.next && this.next.at <= passAt) return;
    this.schedule({ at: passAt, kind: "pass" });
  }

  stop(): void {
    this.stopped = true;
    this.cancelNext?.();
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

  private schedule(e: LoopEvent): void {
    this.next = e;
    this.cancelNext?.();
    this.cancelNext = this.clock.schedule(e.at - this.clock.now(), () => {
      this.cancelNext = undefined;
      this.drive();
    });
  }

  /** Runs every event that is due, in device-time order. */
  private drive(): void {
    for (let n = 0; n < MAX_EVENTS_PER_TURN && !this.stopped; n++) {
      const e = this.next;
      if (!e || e.at > this.clock.now()) break;
      this.next = undefined;
      if (e.kind === "pass") this.pass(e.at);
      else if (e.kind === "stall-end") this.endStall(e);
      else this.end(e.r, e.at);
    }
    const e = this.next;
    if (e && !this.stopped) this.schedule(e);
  }

  /** After a pass or a command: the next pass for input still waiting. */
  private continueAt(at: number): void {
    const input = this.hooks.nextInputAt?.();
    if (input !== undefined) this.wake(Math.max(at, input));
  }

  /**
   * One pass of the main loop at device time `at`: input up to then, the
   * admin queue, then at most one frame, like canserial_rx_task. The next
   * frame waits for the next pass, so the transmit task runs in between (it
   * moves a reply into free mailboxes before the next reply is queued).
   */
  private pass(at: number): void {
    if (this.faulted) return;
    this.hooks.deliverUntil?.(at, undefined);
    this.hooks.beforeCommands?.();
    const r = this.wedged ? undefined : this.firmware.step();
    if (!r) return this.continueAt(at);
    if (r.nack) this.emit({ type: "nack", uuid: this.uuid });
    if (r.wedged) {
      this.hooks.queueResponses(r.responses, at);
      this.wedged = true;
      this.emit({ type: "wedged", uuid: this.uuid });
      return this.continueAt(at);
    }
    if (r.fault) {
      this.faulted = true;
      this.emit({ type: "fault", uuid: this.uuid, address: r.address ?? 0 });
      return;
    }
    this.report(r);
    const done = at + r.stallMs + r.busyMs;
    this.freeAt = done;
    if (done > at) {
      this.working = true;
      if (r.stallMs > 0) {
        this.stallWindow = { from: at, to: at + r.stallMs };
        this.next = { at: at + r.stallMs, kind: "stall-end", r, done };
      } else this.next = { at: done, kind: "finish", r };
      return;
    }
    this.finish(r, done);
    this.wake(done);
  }

  private endStall(e: { at: number; r: StepResult; done: number }): void {
    this.hooks.deliverUntil?.(e.at, this.stallWindow);
    this.stallWindow = undefined;
    this.hooks.stallEnded();
    this.next = { at: e.done, kind: "finish", r: e.r };
  }

  private end(r: StepResult, done: number): void {
    this.hooks.deliverUntil?.(done, undefined);
    this.working = false;
    this.finish(r, done);
    this.wake(done);
  }

  private finish(r: StepResult, at: number): void {
    this.firmware.consume(r.consume);
    this.hooks.queueResponses(r.responses, at);
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
