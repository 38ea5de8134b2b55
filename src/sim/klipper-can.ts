// A simulated Klipper application on CAN: answers the admin query with app
// byte 0x01 while it has no node id, takes a node id (01 uuid n), drops it
// on conflict, and on a bootloader request (02 uuid) reboots into its
// bootloader after a delay. The msgproto side (identify) is plugged in by
// whoever needs it through `onStreamData`.

import type { CanBus, CanReader } from "../can/bus.js";
import { canFrame, type CanFrame } from "../can/frame.js";
import {
  ADMIN_ID,
  decodeAdminRequest,
  haveNodeIdFrame,
  needNodeIdFrame,
  nodeCanIds,
} from "../klippy-bridge/admin.js";
import type { Uuid } from "../klippy-bridge/uuid.js";
import type { SimEventListener } from "./events.js";

export interface KlipperAppOptions {
  /** Request-bootloader → reboot, ms. */
  bootloaderDelayMs: number;
  /** Start already holding this node id (Klipper's host assigned it): the node does not answer queries. */
  heldByNodeId?: number;
  /** A late answerer: the query's answer leaves this long after the query (default 0). */
  queryReplyDelayMs?: number;
  /** Kalico firmware: the extended query (00 01) is answered, with RESP_HAVE_NODEID while assigned. */
  kalico?: boolean;
}

export class KlipperCanApp {
  private nodeId: number | undefined;
  private reader: CanReader | undefined;
  private stopped = false;
  private readonly cancels = new Set<() => void>();
  /** Receives the node's byte stream (msgproto) while assigned. */
  onStreamData: ((bytes: Uint8Array) => void) | undefined;

  constructor(
    private readonly bus: CanBus,
    readonly uuid: Uuid,
    private readonly options: KlipperAppOptions,
    private readonly emit: SimEventListener,
    private readonly onBootloaderRequest: () => void,
  ) {
    this.nodeId = options.heldByNodeId;
  }

  get assignedNodeId(): number | undefined {
    return this.nodeId;
  }

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
        // bus gone
      }
    })();
  }

  stop(): void {
    this.stopped = true;
    this.reader?.close();
    for (const c of this.cancels) c();
    this.cancels.clear();
  }

  /** Sends bytes on the node's transmit id (8-byte frames). */
  private writing: Promise<void> = Promise.resolve();

  /** Sends bytes on the node's transmit id (8-byte frames); calls are queued whole, in order. */
  sendStream(bytes: Uint8Array): Promise<void> {
    const run = this.writing.then(async () => {
      if (this.nodeId === undefined || this.stopped) return;
      const id = nodeCanIds(this.nodeId).fromDevice;
      for (let i = 0; i < bytes.length; i += 8)
        await this.bus.send(canFrame(id, bytes.subarray(i, i + 8)));
    });
    this.writing = run.catch(() => undefined);
    return this.writing;
  }

  private onFrame(f: CanFrame): void {
    if (this.nodeId !== undefined) {
      const ids = nodeCanIds(this.nodeId);
      if (f.id === ids.toDevice) {
        this.onStreamData?.(f.data);
        return;
      }
      if (f.id === ids.fromDevice) {
        this.conflict();
        return;
      }
    }
    const req = decodeAdminRequest(f);
    if (!req) return;
    switch (req.kind) {
      case "query": {
        const kalico = !!this.options.kalico && req.extended;
        if (this.nodeId !== undefined && !kalico) return;
        const answer = () => this.answer(kalico);
        if (this.options.queryReplyDelayMs) this.later(this.options.queryReplyDelayMs, answer);
        else answer();
        break;
      }
      case "set-klipper-nodeid":
        if (req.uuid === this.uuid) {
          if (req.nodeId !== this.nodeId) {
            this.nodeId = req.nodeId;
            this.emit({ type: "assigned", uuid: this.uuid, nodeId: req.nodeId, app: "klipper" });
          }
        } else if (req.nodeId === this.nodeId) this.conflict();
        break;
      case "request-bootloader":
        if (req.uuid !== this.uuid) return;
        this.emit({ type: "request-bootloader", uuid: this.uuid });
        this.later(this.options.bootloaderDelayMs, () => this.onBootloaderRequest());
        break;
      default:
        break;
    }
  }

  /** The answer to a query: "needs a node id", while it has none. */
  private answer = (kalico = false): void => {
    if (this.nodeId !== undefined && !kalico) return;
    this.emit({ type: "query-reply", uuid: this.uuid, app: "klipper" });
    const reply =
      this.nodeId !== undefined
        ? haveNodeIdFrame(this.uuid, this.nodeId)
        : needNodeIdFrame(this.uuid, kalico ? "kalico" : "klipper");
    void this.bus.send(reply).catch(() => undefined);
  };

  private conflict(): void {
    this.nodeId = undefined;
    this.emit({ type: "unassigned", uuid: this.uuid, reason: "conflict" });
  }

  private later(ms: number, fn: () => void): void {
    const cancel = this.bus.clock.schedule(ms, () => {
      this.cancels.delete(cancel);
      if (!this.stopped) fn();
    });
    this.cancels.add(cancel);
  }
}
