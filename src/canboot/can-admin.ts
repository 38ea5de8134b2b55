// Host-side CAN admin operations over a bus: query unassigned nodes, clear
// and assign Katapult node ids, request the bootloader, and get a node into
// Katapult — by polling with a deadline, never by sleeping a fixed time.

import type { CanBus } from "../can/bus.js";
import { CanflashError } from "../util/errors.js";
import { moduleLogger } from "../util/log.js";
import {
  ADMIN_RESP_ID,
  clearKatapultNodeIdsFrame,
  decodeNeedNodeId,
  queryUnassignedFrame,
  requestBootloaderFrame,
  setKatapultNodeIdFrame,
  type NodeAnswer,
  type NodeApp,
} from "../klippy-bridge/admin.js";
import type { Uuid } from "../klippy-bridge/uuid.js";

const log = moduleLogger("canboot.admin");

/** How long a query listens for answers (nodes answer within milliseconds; flashtool listens 2 s). */
export const QUERY_WINDOW_MS = 1000;
/** How long a node may take to come back as Katapult after a bootloader request. */
export const BOOTLOADER_ENTRY_TIMEOUT_MS = 5000;
/** Interval of the re-query while waiting for a node. */
export const NODE_POLL_INTERVAL_MS = 100;

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

const responseFilter = [{ id: ADMIN_RESP_ID, mask: 0x7ff, extended: false }];

/** Sends a query and collects the answers for `windowMs`; one entry per UUID, in order of arrival. */
export async function queryNodes(
  bus: CanBus,
  options: { windowMs?: number; signal?: AbortSignal } = {},
): Promise<NodeAnswer[]> {
  const windowMs = options.windowMs ?? QUERY_WINDOW_MS;
  const reader = bus.subscribe({ filters: responseFilter });
  try {
    await bus.send(queryUnassignedFrame(), { signal: options.signal });
    const end = bus.clock.now() + windowMs;
    const seen = new Map<string, NodeAnswer>();
    for (;;) {
      const left = end - bus.clock.now();
      if (left <= 0) break;
      const f = await reader.recv(left, { signal: options.signal });
      if (!f) break;
      const a = decodeNeedNodeId(f);
      if (a && !seen.has(a.uuid)) seen.set(a.uuid, a);
    }
    return [...seen.values()];
  } finally {
    reader.close();
  }
}

/** Makes every Katapult node drop its node id (so it answers queries again). Affects the whole bus. */
export async function clearKatapultNodeIds(bus: CanBus): Promise<void> {
  await bus.send(clearKatapultNodeIdsFrame());
}

export async function requestBootloader(bus: CanBus, uuid: Uuid): Promise<void> {
  log.debug({ uuid, channel: bus.channel }, "requesting bootloader");
  await bus.send(requestBootloaderFrame(uuid));
}

export async function assignKatapultNodeId(bus: CanBus, uuid: Uuid, nodeId: number): Promise<void> {
  await bus.send(setKatapultNodeIdFrame(uuid, nodeId));
}

export interface EnterOptions {
  timeoutMs?: number;
  pollMs?: number;
  signal?: AbortSignal;
  /** Called when the bootloader request is sent (for progress output). */
  onRequest?: (why: "answered-as-klipper" | "no-answer") => void;
}

export interface EnterResult {
  /** What the node answered as first; undefined if it only answered after the request. */
  firstSeenAs: NodeApp | undefined;
  requested: boolean;
}

/**
 * Waits until `uuid` answers a query as Katapult. A node answering as Klipper
 * is sent a bootloader request; a node that does not answer within one poll
 * interval is sent one too (Klipper nodes that hold a node id do not answer).
 * Re-queries every `pollMs`; resolves as soon as the node answers as Katapult.
 * Throws NodeNotFoundError or BootloaderEntryTimeoutError at the deadline.
 */
export async function waitForKatapult(
  bus: CanBus,
  uuid: Uuid,
  options: EnterOptions = {},
): Promise<EnterResult> {
  const timeoutMs = options.timeoutMs ?? BOOTLOADER_ENTRY_TIMEOUT_MS;
  const pollMs = options.pollMs ?? NODE_POLL_INTERVAL_MS;
  const clock = bus.clock;
  const reader = bus.subscribe({ filters: responseFilter });
  const start = clock.now();
  const deadline = start + timeoutMs;
  const others = new Map<string, NodeAnswer>();
  let firstSeenAs: NodeApp | undefined;
  let requested = false;
  const request = async (why: "answered-as-klipper" | "no-answer") => {
    requested = true;
    options.onRequest?.(why);
    await requestBootloader(bus, uuid);
  };
  try {
    for (;;) {
      await bus.send(queryUnassignedFrame(), { signal: options.signal });
      const windowEnd = Math.min(clock.now() + pollMs, deadline);
      for (;;) {
        const left = windowEnd - clock.now();
        if (left <= 0) break;
        const f = await reader.recv(left, { signal: options.signal });
        if (!f) break;
        const a = decodeNeedNodeId(f);
        if (!a) continue;
        if (a.uuid !== uuid) {
          others.set(a.uuid, a);
          continue;
        }
        firstSeenAs ??= a.app;
        if (a.app === "katapult") return { firstSeenAs, requested };
        if (!requested) await request("answered-as-klipper");
      }
      if (!requested) await request("no-answer");
      if (clock.now() >= deadline) {
        if (firstSeenAs === "klipper")
          throw new BootloaderEntryTimeoutError(uuid, bus.channel, timeoutMs);
        throw new NodeNotFoundError(uuid, bus.channel, timeoutMs, [...others.values()]);
      }
    }
  } finally {
    reader.close();
  }
}
