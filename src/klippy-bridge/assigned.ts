// Klipper nodes that keep a node id do not answer queries: the classic
// "query finds nothing" after Klipper was stopped (the MCUs hold the ids
// Klippy gave them until they reset), or after an earlier identify. They
// can still be found: any Klipper node answers a block on its node id (an
// identify reply, or at least a NAK), and get_canbus_id then names its UUID.
//
// Probe only ids no running host is using: talking to a node Klippy is
// driving would disturb Klippy's sequence numbers.

import type { CanBus } from "../can/bus.js";
import { CanNodeStream } from "../transport/can-node-stream.js";
import type { KlipperDictionary } from "./dictionary.js";
import { getCanbusId, identify, IDENTIFY_NODE_ID_BASE } from "./identify.js";
import { KlipperLink } from "./mcu-link.js";
import { identifyRequest } from "./msgproto.js";
import { nodeCanIds } from "./admin.js";
import type { Uuid } from "./uuid.js";

/** How long a probed node id gets to answer. */
export const PROBE_REPLY_MS = 250;
/** Klippy's ids start at 4; a toolchanger has up to 8 boards plus a bridge. */
export const KLIPPY_PROBE_IDS = Array.from({ length: 12 }, (_, i) => 4 + i);
/** The ids canflash's own identify hands out. */
export const CANFLASH_PROBE_IDS = Array.from({ length: 16 }, (_, i) => IDENTIFY_NODE_ID_BASE + i);

export interface AssignedNode {
  nodeId: number;
  uuid?: Uuid;
  dictionary?: KlipperDictionary;
  /** It answered, but identify or get_canbus_id failed. */
  error?: string;
  /** false: only its presence was taken (the caller did not need to know who it is). */
  identified?: false;
}

/** Which of `nodeIds` answer, and who they are. */
export async function findAssignedKlipperNodes(
  bus: CanBus,
  nodeIds: readonly number[],
  o: {
    replyMs?: number;
    signal?: AbortSignal;
    /** Asked once the probes are answered: false = report only which ids are taken, identify no one. */
    identifyFound?: () => boolean;
  } = {},
): Promise<AssignedNode[]> {
  const links = nodeIds.map((id) => ({
    nodeId: id,
    stream: new CanNodeStream(bus, nodeCanIds(id), `node ${id}`),
  }));
  try {
    const present = await Promise.all(
      links.map(async (l) => {
        const link = new KlipperLink(l.stream);
        const there = await link.probe(identifyRequest(0), o.replyMs ?? PROBE_REPLY_MS, o.signal);
        return there ? { ...l, link } : undefined;
      }),
    );
    const found: AssignedNode[] = [];
    const identifyThem = o.identifyFound?.() ?? true;
    for (const p of present) {
      if (!p) continue;
      if (!identifyThem) {
        found.push({ nodeId: p.nodeId, identified: false });
        continue;
      }
      const node: AssignedNode = { nodeId: p.nodeId };
      try {
        p.link.transport.discardInput();
        node.dictionary = (await identify(p.link, o.signal ? { signal: o.signal } : {})).dictionary;
        const id = await getCanbusId(p.link, node.dictionary, o.signal ? { signal: o.signal } : {});
        node.uuid = id.uuid;
      } catch (e) {
        node.error = (e as Error).message;
      }
      found.push(node);
    }
    return found;
  } finally {
    for (const l of links) await l.stream.close();
  }
}
