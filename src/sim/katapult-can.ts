// A simulated Katapult bootloader on CAN (canserial.c): the hardware filter
// (admin id and its own ids once assigned), a 3-entry hardware receive FIFO
// that overruns while an erase stalls the CPU, the IRQ copy into the
// 192-byte receive buffer (a frame that does not fit is dropped), an 8-entry
// admin queue, and a 96-byte transmit buffer that drops a whole response
// when it lacks room, drained through 3 TX mailboxes.

import type { CanBus, CanReader } from "../can/bus.js";
import { canFrame, type CanFrame } from "../can/frame.js";
import {
  ADMIN_ID,
  decodeAdminRequest,
  needNodeIdFrame,
  nodeCanIds,
} from "../klippy-bridge/admin.js";
import type { Uuid } from "../klippy-bridge/uuid.js";
import type { SimEventListener } from "./events.js";
import type { KatapultFirmware } from "./katapult-firmware.js";
import { KatapultRunner, type RunnerOptions } from "./katapult-runner.js";

export interface KatapultCanOptions extends RunnerOptions {
  /** Hardware receive FIFO depth (bxCAN/FDCAN: 3). */
  hwRxFifo: number;
  /** canserial transmit buffer (96). */
  txBufferSize: number;
  /** Admin queue entries (8). */
  adminQueue: number;
}

export const DEFAULT_KATAPULT_CAN: KatapultCanOptions = {
  hwRxFifo: 3,
  txBufferSize: 96,
  adminQueue: 8,
  loopLatencyMs: 0.01,
  completeDelayMs: 100,
};

export class KatapultCanNode {
  /** Host → device CAN id while assigned (0 = unassigned), i.e. 0x100 + 2n. */
  private assignedId = 0;
  private readonly hwFifo: CanFrame[] = [];
  private readonly adminQueue: CanFrame[] = [];
  private txBytes: number[] = [];
  private txRunning = false;
  private reader: CanReader | undefined;
  private stopped = false;
  private readonly runner: KatapultRunner;

  constructor(
    private readonly bus: CanBus,
    readonly uuid: Uuid,
    readonly firmware: KatapultFirmware,
    private readonly options: KatapultCanOptions,
    private readonly emit: SimEventListener,
    /** Called when COMPLETE's delay has passed: the device starts its application. */
    onComplete: () => void,
  ) {
    this.runner = new KatapultRunner(firmware, bus.clock, uuid, emit, options, {
      beforeCommands: () => {
        while (this.adminQueue.length > 0) this.handleAdmin(this.adminQueue.shift()!);
      },
      queueResponses: (r) => this.queueResponses(r),
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
        for await (const f of reader) if (!this.stopped) this.onFrame(f);
      } catch {
        // bus closed or failed: the node is gone
      }
    })();
  }

  stop(): void {
    this.stopped = true;
    this.reader?.close();
    this.runner.stop();
  }

  /** A frame reached the controller. */
  private onFrame(f: CanFrame): void {
    if (this.runner.faulted) return;
    // Hardware filter: admin id, and the node's own ids once assigned.
    const ours =
      this.assignedId !== 0 && (f.id === this.assignedId || f.id === this.assignedId + 1);
    if (f.id !== ADMIN_ID && !ours) return;
    if (this.runner.stalled) {
      if (this.hwFifo.length < this.options.hwRxFifo) this.hwFifo.push(f);
      else this.emit({ type: "overrun", uuid: this.uuid, where: "hw-fifo", lost: 1 });
      return;
    }
    this.irq(f);
  }

  /** canserial_process_data, run from the receive interrupt. */
  private irq(f: CanFrame): void {
    if (this.assignedId !== 0 && f.id === this.assignedId) {
      if (!this.firmware.appendWhole(f.data))
        this.emit({ type: "overrun", uuid: this.uuid, where: "rx-buffer", lost: 1 });
      else this.runner.wake();
    } else if (f.id === ADMIN_ID || (this.assignedId !== 0 && f.id === this.assignedId + 1)) {
      if (this.adminQueue.length >= this.options.adminQueue) {
        this.emit({ type: "overrun", uuid: this.uuid, where: "admin-queue", lost: 1 });
        return;
      }
      this.adminQueue.push(f);
      this.runner.wake();
    }
  }

  private handleAdmin(f: CanFrame): void {
    if (this.assignedId !== 0 && f.id === this.assignedId + 1) {
      // Someone else transmits on our id: conflict.
      this.assignedId = 0;
      this.emit({ type: "unassigned", uuid: this.uuid, reason: "conflict" });
      return;
    }
    const req = decodeAdminRequest(f);
    if (!req) return;
    if (req.kind === "query") {
      if (this.assignedId !== 0) return;
      this.emit({ type: "query-reply", uuid: this.uuid, app: "katapult" });
      void this.bus.send(needNodeIdFrame(this.uuid, "katapult")).catch(() => undefined);
    } else if (req.kind === "set-katapult-nodeid") {
      const newId = nodeCanIds(req.nodeId).toDevice;
      if (req.uuid === this.uuid) {
        if (newId !== this.assignedId) {
          this.assignedId = newId;
          this.emit({ type: "assigned", uuid: this.uuid, nodeId: req.nodeId, app: "katapult" });
        }
      } else if (newId === this.assignedId) {
        this.assignedId = 0;
        this.emit({ type: "unassigned", uuid: this.uuid, reason: "conflict" });
      }
    } else if (req.kind === "clear-katapult-nodeids") {
      if (this.assignedId !== 0)
        this.emit({ type: "unassigned", uuid: this.uuid, reason: "clear" });
      this.assignedId = 0;
    }
  }

  /** console_sendf: a response goes in whole or not at all. */
  private queueResponses(responses: Uint8Array[]): void {
    for (const r of responses) {
      if (this.assignedId === 0) continue; // output before assignment is discarded
      if (this.txBytes.length + r.length > this.options.txBufferSize) {
        this.emit({ type: "overrun", uuid: this.uuid, where: "tx-buffer", lost: r.length });
        continue;
      }
      for (const b of r) this.txBytes.push(b);
    }
    this.kickTx();
  }

  /** canserial_tx_task: 8-byte frames into the mailboxes; bytes leave the buffer when a mailbox takes them. */
  private kickTx(): void {
    if (this.txRunning) return;
    this.txRunning = true;
    void (async () => {
      try {
        while (this.txBytes.length > 0 && !this.stopped) {
          if (this.assignedId === 0) {
            this.txBytes = [];
            break;
          }
          const chunk = this.txBytes.slice(0, 8);
          await this.bus.send(canFrame(this.assignedId + 1, chunk));
          this.txBytes.splice(0, chunk.length);
        }
      } catch {
        // bus gone
      } finally {
        this.txRunning = false;
      }
    })();
  }
}
