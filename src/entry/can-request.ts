// The "can-request" entry: getting CAN nodes into Katapult. One gate per
// interface, for any number of its nodes (one board is a gate of one): one
// CLEAR, then a query/request loop — a node answering as Klipper is sent
// REQUEST_BOOTLOADER once; a node silent for one poll window is sent one
// too (a Klipper node holding a node id does not answer queries) — and each
// node gets its own node id (128, 129, …) the moment it answers as Katapult,
// so its flash can start while others still reboot. No per-board waits, no
// fixed sleeps: the first query window ends once every node answered; once
// a request is out, re-queries every NODE_REPOLL_MS up to one deadline.
//
// A dry run sends no REQUEST_BOOTLOADER: a node that answers as Klipper, or
// stays silent through the first query window, stops with DryRunStopError
// (what a real run would do) instead.

import type { CanBus } from "../can/bus.js";
import { DryRunStopError } from "../flash-api/errors.js";
import type { CanGateLike } from "../flash-api/driver.js";
import {
  decodeNeedNodeId,
  FIRST_HOST_NODE_ID,
  queryUnassignedFrame,
  type NodeAnswer,
  type NodeApp,
} from "../klippy-bridge/admin.js";
import type { Uuid } from "../klippy-bridge/uuid.js";
import { CanflashError } from "../util/errors.js";
import {
  assignKatapultNodeId,
  clearKatapultNodeIds,
  QUERY_WINDOW_MS,
  requestBootloader,
  responseFilter,
} from "./can-admin.js";

declare module "../util/errors.js" {
  interface ErrorCodes {
    NO_NODE: true;
    BOOTLOADER_ENTRY_TIMEOUT: true;
  }
}

/** How long a node may take to come back as Katapult after a bootloader request. */
export const BOOTLOADER_ENTRY_TIMEOUT_MS = 5000;
/**
 * The first query window, and the interval of re-queries while no
 * bootloader request is out: a node silent through it is sent a request (it
 * may hold a node id). It ends early once every node waited for answered.
 */
export const NODE_POLL_INTERVAL_MS = 100;
/**
 * The re-query interval once a request is out: a node reboots into Katapult
 * within tens of milliseconds, and is seen at most this long after it
 * listens (a query and its answers are two frames per node).
 */
export const NODE_REPOLL_MS = 20;

/** The node never answered a query. */
export class NodeNotFoundError extends CanflashError {
  constructor(
    readonly uuid: string,
    readonly channel: string,
    readonly timeoutMs: number,
    /** Other nodes that did answer meanwhile. */
    readonly others: readonly NodeAnswer[],
  ) {
    super(
      "NO_NODE",
      `node ${uuid} did not answer on ${channel} within ${timeoutMs} ms` +
        (others.length
          ? ` (nodes that answered: ${others.map((o) => `${o.uuid} ${o.app}`).join(", ")})`
          : " (no node answered)"),
    );
  }
}

/** The node answered as Klipper but did not come back as Katapult after the bootloader request. */
export class BootloaderEntryTimeoutError extends CanflashError {
  constructor(
    readonly uuid: string,
    readonly channel: string,
    readonly timeoutMs: number,
  ) {
    super(
      "BOOTLOADER_ENTRY_TIMEOUT",
      `node ${uuid} runs Klipper and was asked to enter its bootloader, but did not answer as Katapult within ${timeoutMs} ms`,
    );
  }
}

export type RequestReason = "answered-as-klipper" | "no-answer";

/** How a node reached Katapult. */
export interface GateArrival {
  /** Its node id (undefined when the gate does not assign ids). */
  nodeId: number | undefined;
  /** What it answered as first; undefined if it only answered after the request. */
  firstSeenAs: NodeApp | undefined;
  /** A bootloader request was sent to it. */
  requested: boolean;
}

export interface GateOptions {
  /** Deadline for every node (default BOOTLOADER_ENTRY_TIMEOUT_MS). */
  timeoutMs?: number;
  /** First window and re-query interval before any request (default NODE_POLL_INTERVAL_MS). */
  pollMs?: number;
  /** Re-query interval once a request is out (default NODE_REPOLL_MS). */
  repollMs?: number;
  /** First node id to hand out (default 128). */
  firstNodeId?: number;
  /** Assign node ids as nodes arrive (default true; -r only confirms the arrival). */
  assignNodeIds?: boolean;
  /** Send CLEAR_KATAPULT_NODEID first (default true). */
  clearFirst?: boolean;
  signal?: AbortSignal;
  /** Called once per node when its bootloader is requested. */
  onRequest?: (uuid: Uuid, why: RequestReason) => void;
  /** Dry run: never request a bootloader. */
  dryRun?: boolean;
  /**
   * Nodes known to run Klipper (just identified: they may hold a node id and
   * stay silent to queries): requested right after the CLEAR, not after a
   * silent first window.
   */
  knownKlipper?: readonly Uuid[];
}

interface Pending {
  resolve(a: GateArrival): void;
  reject(e: Error): void;
  firstSeenAs: NodeApp | undefined;
  requested: boolean;
}

export class CanBootloaderGate implements CanGateLike {
  private readonly pending = new Map<Uuid, Pending>();
  private readonly arrivals = new Map<Uuid, Promise<GateArrival>>();
  private nextId: number;
  private running: Promise<void> | undefined;

  constructor(
    readonly bus: CanBus,
    uuids: readonly Uuid[],
    private readonly options: GateOptions = {},
  ) {
    this.nextId = options.firstNodeId ?? FIRST_HOST_NODE_ID;
    for (const uuid of uuids) {
      const p = new Promise<GateArrival>((resolve, reject) =>
        this.pending.set(uuid, { resolve, reject, firstSeenAs: undefined, requested: false }),
      );
      p.catch(() => undefined);
      this.arrivals.set(uuid, p);
    }
  }

  /** How `uuid` reached Katapult. Starts the loop on first use. */
  arrival(uuid: Uuid): Promise<GateArrival> {
    const p = this.arrivals.get(uuid);
    if (!p) throw new RangeError(`${uuid} is not part of this gate`);
    this.running ??= this.run();
    return p;
  }

  /**
   * How `uuid` arrived, without starting the loop: undefined when the gate
   * never ran or the node never arrived.
   */
  async settled(uuid: Uuid): Promise<GateArrival | undefined> {
    if (!this.running) return undefined;
    return this.arrivals.get(uuid)?.catch(() => undefined);
  }

  /** The node id `uuid` was given once it answered as Katapult. */
  async nodeIdOf(uuid: Uuid): Promise<number> {
    const a = await this.arrival(uuid);
    if (a.nodeId === undefined) throw new RangeError("this gate assigns no node ids");
    return a.nodeId;
  }

  private async run(): Promise<void> {
    const { bus, options } = this;
    const clock = bus.clock;
    const timeoutMs = options.timeoutMs ?? BOOTLOADER_ENTRY_TIMEOUT_MS;
    const pollMs = options.pollMs ?? NODE_POLL_INTERVAL_MS;
    const repollMs = options.repollMs ?? NODE_REPOLL_MS;
    let requestsOut = false;
    const assign = options.assignNodeIds ?? true;
    const reader = bus.subscribe({ filters: responseFilter });
    const others = new Map<string, NodeAnswer>();
    const start = clock.now();
    const deadline = start + timeoutMs;
    const request = async (uuid: Uuid, p: Pending, why: RequestReason) => {
      p.requested = true;
      requestsOut = true;
      options.onRequest?.(uuid, why);
      await requestBootloader(bus, uuid);
    };
    const stopDry = (uuid: Uuid, p: Pending, why: RequestReason) => {
      this.pending.delete(uuid);
      p.reject(new DryRunStopError(uuid, "request its bootloader", why));
    };
    try {
      if (options.clearFirst ?? true) await clearKatapultNodeIds(bus);
      if (!options.dryRun)
        for (const uuid of options.knownKlipper ?? []) {
          const p = this.pending.get(uuid);
          if (!p || p.requested) continue;
          p.firstSeenAs = "klipper";
          await request(uuid, p, "answered-as-klipper");
        }
      while (this.pending.size > 0) {
        await bus.send(queryUnassignedFrame(), { signal: options.signal });
        // Once a request is out, queries go out every repollMs until the nodes are back.
        const repolling = requestsOut;
        const windowEnd = Math.min(clock.now() + (repolling ? repollMs : pollMs), deadline);
        /** Nodes waited for that answered this query (as Klipper: they are asked in). */
        const heard = new Set<Uuid>();
        for (;;) {
          if (this.pending.size === 0) break;
          // The first window learns all it can once every node waited for has answered.
          if (!repolling && [...this.pending.keys()].every((u) => heard.has(u))) break;
          const left = windowEnd - clock.now();
          if (left <= 0) break;
          const f = await reader.recv(left, { signal: options.signal });
          if (!f) break;
          const a = decodeNeedNodeId(f);
          if (!a) continue;
          const p = this.pending.get(a.uuid);
          if (!p) {
            if (!this.arrivals.has(a.uuid)) others.set(a.uuid, a);
            continue;
          }
          p.firstSeenAs ??= a.app;
          heard.add(a.uuid);
          if (a.app === "katapult") {
            const nodeId = assign ? this.nextId++ : undefined;
            if (nodeId !== undefined) await assignKatapultNodeId(bus, a.uuid, nodeId);
            this.pending.delete(a.uuid);
            p.resolve({ nodeId, firstSeenAs: p.firstSeenAs, requested: p.requested });
          } else if (options.dryRun) stopDry(a.uuid, p, "answered-as-klipper");
          else if (!p.requested) await request(a.uuid, p, "answered-as-klipper");
        }
        if (options.dryRun) {
          // Nodes answer a query within milliseconds: silent through a whole query window, a
          // real run would ask them in (they may hold a node id from a running Klipper).
          if (clock.now() - start >= Math.min(QUERY_WINDOW_MS, timeoutMs))
            for (const [uuid, p] of [...this.pending])
              if (!p.firstSeenAs) stopDry(uuid, p, "no-answer");
        } else {
          for (const [uuid, p] of this.pending)
            if (!p.requested) await request(uuid, p, "no-answer");
        }
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

/** Gets one node into Katapult (a gate of one). Throws NodeNotFoundError or BootloaderEntryTimeoutError. */
export function waitForKatapult(
  bus: CanBus,
  uuid: Uuid,
  options: Omit<GateOptions, "onRequest"> & { onRequest?: (why: RequestReason) => void } = {},
): Promise<GateArrival> {
  const { onRequest, ...rest } = options;
  return new CanBootloaderGate(bus, [uuid], {
    ...rest,
    ...(onRequest ? { onRequest: (_u, why) => onRequest(why) } : {}),
  }).arrival(uuid);
}
