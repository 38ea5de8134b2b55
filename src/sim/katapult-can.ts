// A simulated Katapult bootloader on CAN (canserial.c): the hardware filter
// (admin id and its own ids once assigned), a 3-entry hardware receive FIFO
// that overruns while an erase stalls the CPU — bxCAN overwrites the last
// frame it kept, FDCAN drops the new one — the IRQ copy into the 192-byte
// receive buffer (a frame that does not fit is dropped), an 8-entry admin
// queue, and a 96-byte transmit buffer that drops a whole response when it
// lacks room, drained through 3 transmit mailboxes (katapult-can-tx.ts).

import type { CanBus, CanReader } from "../can/bus.js";
import { frameWireTimeMs } from "../can/bittime.js";
import type { CanFrame } from "../can/frame.js";
import {
  ADMIN_ID,
  decodeAdminRequest,
  needNodeIdFrame,
  nodeCanIds,
} from "../klippy-bridge/admin.js";
import type { Uuid } from "../klippy-bridge/uuid.js";
import type { SimEventListener } from "./events.js";
import type { KatapultFirmware } from "./katapult-firmware.js";
import { KatapultRunner, type RunnerOptions, type StallWindow } from "./katapult-runner.js";
import { CanTxMailboxes, type TxPacing } from "./katapult-can-tx.js";

/**
 * What a CAN controller does with a frame that arrives while its receive
 * FIFO is full. Katapult leaves both at their reset default: bxCAN (STM32
 * F0/F1/F2/F4) runs with RFLM = 0, "FIFO not locked": the newest frame
 * overwrites the last one kept. FDCAN (STM32 G0/G4/H7) runs its RX FIFO 0 in
 * blocking mode (F0OM = 0): the new frame is discarded.
 */
export type RxFifoOverrun = "overwrite-last" | "drop-new";

export interface KatapultCanOptions extends RunnerOptions {
  /** Hardware receive FIFO depth (bxCAN/FDCAN: 3). */
  hwRxFifo: number;
  rxFifoOverrun: RxFifoOverrun;
  /** canserial transmit buffer (96). */
  txBufferSize: number;
  /** Transmit mailboxes (bxCAN: 3; FDCAN: a 3-entry TX FIFO). */
  txMailboxes: number;
  /**
   * "bus": the bus models wire time (a virtual channel with a bitrate) and its
   * endpoint's 3-entry transmit queue is the mailboxes. "model": the bus sends
   * at once (SocketCAN, an untimed channel), so the node holds each frame in a
   * mailbox for its wire time at `bitrate` itself. Default: chosen from the bus.
   */
  txPacing?: TxPacing;
  /** Bit rate the mailboxes are paced at under "model" (default: the bus's, else 1 Mbit/s). */
  bitrate?: number;
  /** Admin queue entries (8). */
  adminQueue: number;
  /** A late answerer: the query's answer leaves this long after the query (default 0). */
  queryReplyDelayMs?: number;
}

export const DEFAULT_KATAPULT_CAN: KatapultCanOptions = {
  hwRxFifo: 3,
  rxFifoOverrun: "drop-new",
  txBufferSize: 96,
  txMailboxes: 3,
  adminQueue: 8,
  loopLatencyMs: 0.01,
  completeDelayMs: 100,
};

/** Katapult's default CAN bit rate (and the pace of the mailbox model when the bus reports none). */
export const KATAPULT_DEFAULT_BITRATE = 1_000_000;

/** The controller's receive-FIFO behaviour for an MCU (see RxFifoOverrun). */
export function rxFifoOverrunOf(mcu: string): RxFifoOverrun {
  if (/^stm32(g0|g4|h7)/.test(mcu)) return "drop-new";
  if (/^stm32/.test(mcu)) return "overwrite-last";
  return "drop-new";
}

export class KatapultCanNode {
  /** Host → device CAN id while assigned (0 = unassigned), i.e. 0x100 + 2n. */
  private assignedId = 0;
  private readonly hwFifo: CanFrame[] = [];
  /** Frames that reached the controller, with their device time, not yet applied by the main loop. */
  private readonly inbox: Array<{ frame: CanFrame; at: number }> = [];
  private readonly adminQueue: CanFrame[] = [];
  private reader: CanReader | undefined;
  private stopped = false;
  private readonly runner: KatapultRunner;
  private readonly tx: CanTxMailboxes;
  private readonly pacing: TxPacing;
  private readonly bitrate: number;
  /** "model" pacing: device time the last received frame ended on the wire. */
  private rxLastAt = -Infinity;
  /** Query answers of a late answerer, still to leave. */
  private readonly pendingAnswers = new Set<() => void>();

  constructor(
    private readonly bus: CanBus,
    readonly uuid: Uuid,
    readonly firmware: KatapultFirmware,
    private readonly options: KatapultCanOptions,
    private readonly emit: SimEventListener,
    /** Called when COMPLETE's delay has passed: the device starts its application. */
    onComplete: () => void,
  ) {
    this.pacing =
      options.txPacing ?? (bus.info.simulated && bus.info.bitrate !== undefined ? "bus" : "model");
    this.bitrate = options.bitrate ?? bus.info.bitrate ?? KATAPULT_DEFAULT_BITRATE;
    this.tx = new CanTxMailboxes(bus, {
      pacing: this.pacing,
      mailboxes: options.txMailboxes,
      bitrate: this.bitrate,
      txId: () => (this.assignedId ? this.assignedId + 1 : 0),
    });
    this.runner = new KatapultRunner(firmware, bus.clock, uuid, emit, options, {
      beforeCommands: () => {
        while (this.adminQueue.length > 0) this.handleAdmin(this.adminQueue.shift()!);
      },
      deliverUntil: (at, stall) => this.deliverUntil(at, stall),
      nextInputAt: () => this.inbox[0]?.at,
      queueResponses: (r, at) => this.queueResponses(r, at),
      stallEnded: () => {
        for (const f of this.hwFifo.splice(0)) this.irq(f);
      },
      onComplete,
    });
  }

  get nodeId(): number | undefined {
    return this.assignedId ? (this.assignedId - 0x100) / 2 : undefined;
  }

  get isWedged(): boolean {
    return this.runner.wedged;
  }

  get writtenEnd(): number {
    return this.runner.writtenEnd;
  }

  /** Starts listening (the firmware just booted). */
  start(): void {
    this.reader = this.bus.subscribe({
      filters: [
        { id: ADMIN_ID, mask: 0x7ff, extended: false },
        { id: 0x100, mask: 0x700, extended: false },
        { id: 0x200, mask: 0x700, extended: false },
      ],
    });
    const reader = this.reader;
    void (async () => {
      try {
        for await (const f of reader) if (!this.stopped) this.onWire(f);
      } catch {
        // bus closed or failed: the node is gone
      }
    })();
  }

  stop(): void {
    this.stopped = true;
    this.reader?.close();
    this.runner.stop();
    this.tx.stop();
    for (const cancel of this.pendingAnswers) cancel();
    this.pendingAnswers.clear();
  }

  /**
   * A frame from the bus. Under "model" pacing (vcan delivers a burst at
   * memory speed) it reaches the controller no sooner than the wire could
   * have carried it after the previous one, so input that a real bus spreads
   * over an erase still lands in the stalled FIFO.
   */
  private onWire(f: CanFrame): void {
    const now = this.bus.clock.now();
    let at = now;
    if (this.pacing === "model") {
      at = Math.max(now, this.rxLastAt + frameWireTimeMs(f, this.bitrate));
      this.rxLastAt = at;
    }
    // Whatever crossed the wire kept it from our own frames meanwhile.
    this.tx.sawForeignFrame(f);
    if (this.runner.faulted) return;
    this.inbox.push({ frame: f, at });
    this.runner.wake(at);
  }

  /**
   * The main loop's view of the controller up to device time `until`: each
   * frame goes through the receive interrupt, or — arriving during an erase
   * stall — into the 3-entry FIFO, which overruns as the chip's does.
   */
  private deliverUntil(until: number, stall: StallWindow | undefined): void {
    while (this.inbox.length > 0 && this.inbox[0]!.at <= until) {
      const { frame, at } = this.inbox.shift()!;
      // Hardware filter, as set now: admin id, and the node's own ids once assigned.
      const ours =
        this.assignedId !== 0 && (frame.id === this.assignedId || frame.id === this.assignedId + 1);
      if (frame.id !== ADMIN_ID && !ours) continue;
      if (stall && at >= stall.from && at < stall.to) this.holdInFifo(frame);
      else {
        for (const f of this.hwFifo.splice(0)) this.irq(f);
        this.irq(frame);
      }
    }
  }

  private holdInFifo(f: CanFrame): void {
    if (this.hwFifo.length < this.options.hwRxFifo) return void this.hwFifo.push(f);
    if (this.options.rxFifoOverrun === "overwrite-last") this.hwFifo[this.hwFifo.length - 1] = f;
    this.emit({ type: "overrun", uuid: this.uuid, where: "hw-fifo", lost: 1 });
  }

  /** canserial_process_data, run from the receive interrupt. */
  private irq(f: CanFrame): void {
    if (this.assignedId !== 0 && f.id === this.assignedId) {
      if (!this.firmware.appendWhole(f.data))
        this.emit({ type: "overrun", uuid: this.uuid, where: "rx-buffer", lost: 1 });
    } else if (f.id === ADMIN_ID || (this.assignedId !== 0 && f.id === this.assignedId + 1)) {
      if (this.adminQueue.length >= this.options.adminQueue) {
        this.emit({ type: "overrun", uuid: this.uuid, where: "admin-queue", lost: 1 });
        return;
      }
      this.adminQueue.push(f);
    }
  }

  private handleAdmin(f: CanFrame): void {
    if (this.assignedId !== 0 && f.id === this.assignedId + 1) {
      // Someone else transmits on our id: conflict.
      this.setAssigned(0);
      this.emit({ type: "unassigned", uuid: this.uuid, reason: "conflict" });
      return;
    }
    const req = decodeAdminRequest(f);
    if (!req) return;
    if (req.kind === "query") {
      const delay = this.options.queryReplyDelayMs;
      if (!delay) return this.answerQuery();
      const cancel = this.bus.clock.schedule(delay, () => {
        this.pendingAnswers.delete(cancel);
        if (!this.stopped) this.answerQuery();
      });
      this.pendingAnswers.add(cancel);
    } else if (req.kind === "set-katapult-nodeid") {
      const newId = nodeCanIds(req.nodeId).toDevice;
      if (req.uuid === this.uuid) {
        if (newId !== this.assignedId) {
          this.setAssigned(newId);
          this.emit({ type: "assigned", uuid: this.uuid, nodeId: req.nodeId, app: "katapult" });
        }
      } else if (newId === this.assignedId) {
        this.setAssigned(0);
        this.emit({ type: "unassigned", uuid: this.uuid, reason: "conflict" });
      }
    } else if (req.kind === "clear-katapult-nodeids") {
      if (this.assignedId !== 0)
        this.emit({ type: "unassigned", uuid: this.uuid, reason: "clear" });
      this.setAssigned(0);
    }
  }

  /** The answer to a query: "needs a node id", while it has none. */
  private answerQuery(): void {
    if (this.assignedId !== 0) return;
    this.emit({ type: "query-reply", uuid: this.uuid, app: "katapult" });
    void this.bus.send(needNodeIdFrame(this.uuid, "katapult")).catch(() => undefined);
  }

  private setAssigned(id: number): void {
    this.assignedId = id;
    // canserial_tx_task: without an id, pending output is thrown away.
    if (id === 0) this.tx.clear();
  }

  /** console_sendf at device time `at`: a response goes in whole or not at all. */
  private queueResponses(responses: Uint8Array[], at: number): void {
    for (const r of responses) {
      if (this.assignedId === 0) continue; // output before assignment is discarded
      if (!this.tx.fits(r.length, this.options.txBufferSize, at)) {
        this.emit({ type: "overrun", uuid: this.uuid, where: "tx-buffer", lost: r.length });
        continue;
      }
      this.tx.push(r);
    }
    this.tx.kick(at);
  }
}
