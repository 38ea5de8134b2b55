// Getting several nodes on one bus into Katapult at once: one CLEAR, one
// query/request loop for all of them (a Klipper node is asked once; a node
// that stays silent is asked too), and each node gets its own node id
// (128, 129, …) the moment it answers as Katapult, so its flash can start
// while others are still rebooting. No per-board waits, no fixed sleeps.

import type { CanBus } from "../can/bus.js";
import {
  ADMIN_RESP_ID,
  decodeNeedNodeId,
  FIRST_HOST_NODE_ID,
  nodeCanIds,
  queryUnassignedFrame,
  type NodeAnswer,
  type NodeApp,
} from "../klippy-bridge/admin.js";
import type { Uuid } from "../klippy-bridge/uuid.js";
import { CanNodeStream } from "../transport/can-node-stream.js";
import { KatapultAdapter } from "./adapter.js";
import {
  assignKatapultNodeId,
  BOOTLOADER_ENTRY_TIMEOUT_MS,
  BootloaderEntryTimeoutError,
  clearKatapultNodeIds,
  NODE_POLL_INTERVAL_MS,
  NodeNotFoundError,
  requestBootloader,
} from "./can-admin.js";
import type { SessionTimeouts } from "./session.js";
import { DryRunStopError } from "../flash-api/errors.js";

interface Pending {
  resolve(nodeId: number): void;
  reject(e: Error): void;
  firstSeenAs: NodeApp | undefined;
  requested: boolean;
}

export interface GateOptions {
  timeoutMs?: number;
  pollMs?: number;
  /** First node id to hand out (default 128). */
  firstNodeId?: number;
  signal?: AbortSignal;
  /** Called once per node when its bootloader is requested. */
  onRequest?: (uuid: Uuid, why: "answered-as-klipper" | "no-answer") => void;
  /** Dry run: never request a bootloader; a node running Klipper stops with DryRunStopError. */
  dryRun?: boolean;
}

export class KatapultCanGate {
  private readonly pending = new Map<Uuid, Pending>();
  private readonly ready = new Map<Uuid, Promise<number>>();
  private nextId: number;
  private running: Promise<void> | undefined;

  constructor(
    readonly bus: CanBus,
    uuids: readonly Uuid[],
    private readonly options: GateOptions = {},
  ) {
    this.nextId = options.firstNodeId ?? FIRST_HOST_NODE_ID;
    for (const uuid of uuids) {
      this.ready.set(
        uuid,
        new Promise<number>((resolve, reject) =>
          this.pending.set(uuid, { resolve, reject, firstSeenAs: undefined, requested: false }),
        ),
      );
      this.ready.get(uuid)!.catch(() => undefined);
    }
  }

  /** The node id `uuid` was given once it answered as Katapult. Starts the loop on first use. */
  nodeIdOf(uuid: Uuid): Promise<number> {
    const p = this.ready.get(uuid);
    if (!p) throw new Error(`${uuid} is not part of this gate`);
    this.running ??= this.run();
    return p;
  }

  /** A FlashAdapter for one of the gate's nodes. */
  adapter(
    uuid: Uuid,
    extra: { timeouts?: Partial<SessionTimeouts>; flashEnd?: number } = {},
  ): KatapultAdapter {
    return new KatapultAdapter({
      protocol: "katapult-can",
      expectUuid: uuid,
      ...extra,
      open: async () => this.stream(await this.nodeIdOf(uuid)),
    });
  }

  private stream(nodeId: number): CanNodeStream {
    return new CanNodeStream(this.bus, nodeCanIds(nodeId), `node ${nodeId}`);
  }

  private async run(): Promise<void> {
    const { bus } = this;
    const clock = bus.clock;
    const timeoutMs = this.options.timeoutMs ?? BOOTLOADER_ENTRY_TIMEOUT_MS;
    const pollMs = this.options.pollMs ?? NODE_POLL_INTERVAL_MS;
    const reader = bus.subscribe({
      filters: [{ id: ADMIN_RESP_ID, mask: 0x7ff, extended: false }],
    });
    const others = new Map<string, NodeAnswer>();
    const deadline = clock.now() + timeoutMs;
    const request = async (uuid: Uuid, p: Pending, why: "answered-as-klipper" | "no-answer") => {
      p.requested = true;
      this.options.onRequest?.(uuid, why);
      await requestBootloader(bus, uuid);
    };
    try {
      await clearKatapultNodeIds(bus);
      while (this.pending.size > 0) {
        await bus.send(queryUnassignedFrame(), { signal: this.options.signal });
        const windowEnd = Math.min(clock.now() + pollMs, deadline);
        for (;;) {
          const left = windowEnd - clock.now();
          if (left <= 0) break;
          const f = await reader.recv(left, { signal: this.options.signal });
          if (!f) break;
          const a = decodeNeedNodeId(f);
          if (!a) continue;
          const p = this.pending.get(a.uuid);
          if (!p) {
            if (!this.ready.has(a.uuid)) others.set(a.uuid, a);
            continue;
          }
          p.firstSeenAs ??= a.app;
          if (a.app === "katapult") {
            const nodeId = this.nextId++;
            await assignKatapultNodeId(bus, a.uuid, nodeId);
            this.pending.delete(a.uuid);
            p.resolve(nodeId);
          } else if (this.options.dryRun) {
            this.pending.delete(a.uuid);
            p.reject(new DryRunStopError(a.uuid, "request its bootloader"));
          } else if (!p.requested) await request(a.uuid, p, "answered-as-klipper");
        }
        if (!this.options.dryRun)
          for (const [uuid, p] of this.pending)
            if (!p.requested) await request(uuid, p, "no-answer");
        if (clock.now() >= deadline) break;
      }
    } catch (e) {
      for (const p of this.pending.values()) p.reject(e as Error);
      this.pending.clear();
    } finally {
      reader.close();
    }
    for (const [uuid, p] of this.pending) {
      p.reject(
        p.firstSeenAs === "klipper"
          ? new BootloaderEntryTimeoutError(uuid, bus.channel, timeoutMs)
          : new NodeNotFoundError(uuid, bus.channel, timeoutMs, [...others.values()]),
      );
    }
    this.pending.clear();
  }
}
