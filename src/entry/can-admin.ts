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

/**
 * The longest a query listens (nodes answer within milliseconds; flashtool
 * listens 2 s), and the window `--query-ms` replaces with a fixed one.
 */
export const QUERY_WINDOW_MS = 1000;
/** The floor: a query listens at least this long, so a first answer has time to come. */
export const QUERY_FIRST_ANSWER_MS = 150;
/**
 * The quiet period: once this long passes after the last answer (and the
 * floor has passed), every node has answered and the window ends. Answers
 * of many nodes come one after another as CAN arbitration serialises them
 * (about a millisecond each at 125 kbit/s), well inside it.
 */
export const QUERY_QUIET_MS = 50;

export const responseFilter = [{ id: ADMIN_RESP_ID, mask: 0x7ff, extended: false }];

export interface QueryWindowOptions {
  /** Listen exactly this long (--query-ms): no early end. */
  windowMs?: number;
  /** Adaptive window: the floor (default QUERY_FIRST_ANSWER_MS). */
  firstAnswerMs?: number;
  /** Adaptive window: the quiet period after the last answer (default QUERY_QUIET_MS). */
  quietMs?: number;
  /** Adaptive window: the upper bound (default QUERY_WINDOW_MS). */
  maxMs?: number;
  /** Ends the window at once when it returns true for the answers so far (e.g. every node wanted answered). */
  until?: (answers: readonly NodeAnswer[]) => boolean;
}

/**
 * Sends a query and collects the answers; one entry per UUID, in order of
 * arrival. The window ends when the bus has been quiet for `quietMs` after
 * the last answer, no sooner than `firstAnswerMs` after the query and no
 * later than `maxMs`; `windowMs` listens a fixed time instead. `until` ends
 * either at once.
 */
export async function queryNodes(
  bus: CanBus,
  options: QueryWindowOptions & {
    signal?: AbortSignal;
    /** Kalico's extended query: assigned Kalico nodes answer too (with their node id). */
    extended?: boolean;
  } = {},
): Promise<NodeAnswer[]> {
  const fixed = options.windowMs !== undefined;
  const maxMs = options.windowMs ?? options.maxMs ?? QUERY_WINDOW_MS;
  const quietMs = options.quietMs ?? QUERY_QUIET_MS;
  const clock = bus.clock;
  const reader = bus.subscribe({ filters: responseFilter });
  try {
    await bus.send(queryUnassignedFrame({ extended: !!options.extended }), {
      signal: options.signal,
    });
    const start = clock.now();
    const last = start + maxMs;
    let end = fixed
      ? last
      : Math.min(last, start + (options.firstAnswerMs ?? QUERY_FIRST_ANSWER_MS));
    const seen = new Map<string, NodeAnswer>();
    let settled = false;
    for (;;) {
      const left = end - clock.now();
      let f = await reader.recv(Math.max(0, left), { signal: options.signal });
      if (!f && !settled) {
        // An event loop late to its timer runs it before the I/O that arrived meanwhile:
        // let that I/O in once, and take what it delivered.
        settled = true;
        await new Promise<void>((resolve) => clock.schedule(0, resolve));
        f = await reader.recv(0, { signal: options.signal });
      }
      if (!f) break;
      const a = options.extended ? decodeQueryReply(f) : decodeNeedNodeId(f);
      if (a && !seen.has(a.uuid)) {
        seen.set(a.uuid, a);
        if (options.until?.([...seen.values()])) break;
      }
      if (a && !fixed) end = Math.min(last, Math.max(end, clock.now() + quietMs));
      // A window the answer extended gets its own settling pass at its new end.
      if (end > clock.now()) settled = false;
    }
    log.debug(
      { channel: bus.channel, answers: seen.size, ms: Math.round(clock.now() - start) },
      "query window closed",
    );
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
