// Host-side CAN admin operations over a bus (the frames are in
// klippy-bridge/admin.ts): query unassigned nodes, clear and assign Katapult
// node ids, request the bootloader. Getting nodes into their bootloader is
// the gate's job (can-request.ts).

import type { CanBus } from "../can/bus.js";
import { moduleLogger } from "../util/log.js";
import {
  ADMIN_RESP_ID,
  clearKatapultNodeIdsFrame,
  decodeNeedNodeId,
  decodeQueryReply,
  queryUnassignedFrame,
  requestBootloaderFrame,
  setKatapultNodeIdFrame,
  type NodeAnswer,
} from "../klippy-bridge/admin.js";
import type { Uuid } from "../klippy-bridge/uuid.js";

const log = moduleLogger("canboot.admin");

/** How long a query listens for answers (nodes answer within milliseconds; flashtool listens 2 s). */
export const QUERY_WINDOW_MS = 1000;

export const responseFilter = [{ id: ADMIN_RESP_ID, mask: 0x7ff, extended: false }];

/** Sends a query and collects the answers for `windowMs`; one entry per UUID, in order of arrival. */
export async function queryNodes(
  bus: CanBus,
  options: {
    windowMs?: number;
    signal?: AbortSignal;
    /** Kalico's extended query: assigned Kalico nodes answer too (with their node id). */
    extended?: boolean;
  } = {},
): Promise<NodeAnswer[]> {
  const windowMs = options.windowMs ?? QUERY_WINDOW_MS;
  const reader = bus.subscribe({ filters: responseFilter });
  try {
    await bus.send(queryUnassignedFrame({ extended: !!options.extended }), {
      signal: options.signal,
    });
    const end = bus.clock.now() + windowMs;
    const seen = new Map<string, NodeAnswer>();
    for (;;) {
      const left = end - bus.clock.now();
      if (left <= 0) break;
      const f = await reader.recv(left, { signal: options.signal });
      if (!f) break;
      const a = options.extended ? decodeQueryReply(f) : decodeNeedNodeId(f);
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
