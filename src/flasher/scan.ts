// What is on a CAN bus: the nodes that answer a query (Katapult and
// Klipper), what they run (identify for Klipper, CONNECT for Katapult when
// asked), and Klipper nodes that hold a node id and so stay silent to
// queries (found by probing node ids the caller says are safe).
//
// The probe of canflash's own identify range runs alongside the query
// window, so it costs no time; it also keeps identify from handing out an
// id an earlier run left on another node (which would knock that node off
// with an id conflict).

import { driverFor } from "../bootloaders/index.js";
import type { CanBus } from "../can/bus.js";
import { assignKatapultNodeId, clearKatapultNodeIds, queryNodes } from "../entry/can-admin.js";
import type { DeviceInfo } from "../flash-api/adapter.js";
import { FIRST_HOST_NODE_ID, type NodeAnswer } from "../klippy-bridge/admin.js";
import { CANFLASH_PROBE_IDS, findAssignedKlipperNodes } from "../klippy-bridge/assigned.js";
import type { KlipperDictionary } from "../klippy-bridge/dictionary.js";
import { identifyCanNode } from "../klippy-bridge/identify.js";
import type { Uuid } from "../klippy-bridge/uuid.js";
import { findTarget } from "../targets/index.js";
import { KATAPULT_TARGET_ID } from "./requests.js";

/** Kalico: the Klipper fork, told apart by its answer to the extended query. */
export type NodeApplication = "Katapult" | "Klipper" | "Kalico" | "Unknown";

export interface ScannedNode {
  uuid: Uuid;
  application: NodeApplication;
  /** Answered the query, or found holding a node id (silent to queries). */
  found: "query" | "node-id";
  /** The node id it holds (found by probing, or told by Kalico's extended query) or was given to identify it. */
  nodeId?: number;
  /** Kalico answered the extended query with the node id it holds (no probing needed). */
  kalicoAssigned?: boolean;
  /** Klipper: from identify. */
  dictionary?: KlipperDictionary;
  /** Katapult: what its bootloader reported to CONNECT (katapultInfo). */
  katapult?: DeviceInfo;
  /** Identify or CONNECT failed: why. */
  error?: string;
}

export interface ScanOptions {
  queryMs?: number;
  /** Read Klipper nodes' data dictionaries (default true). */
  identify?: boolean;
  /** CONNECT to Katapult nodes for version, MCU, block size. */
  katapultInfo?: boolean;
  /**
   * Further node ids to probe for Klipper nodes that hold an id (e.g. Klippy's
   * 4, 5, … when Klippy is not running). canflash's own identify range is
   * always probed when identify is on: no Klippy host uses it.
   */
  probeIds?: readonly number[];
  /**
   * Only these nodes matter (the flash path's identify pass): the query ends
   * once they all answered, only they are identified, and when all of them
   * answered as Katapult the node-id probes are not waited for (there is
   * nothing to identify and no one silent to find).
   */
  wanted?: readonly Uuid[];
  signal?: AbortSignal;
}

const appName = (appByte: number | undefined): NodeApplication =>
  appByte === undefined || appByte === 0x01 ? "Klipper" : appByte === 0x11 ? "Katapult" : "Unknown";

const msg = (e: unknown) => (e instanceof Error ? e.message : String(e));

export interface ScanResult {
  nodes: ScannedNode[];
  /** Answered on a probed node id but could not be identified (no UUID). */
  unnamed: Array<{ nodeId: number; error: string }>;
}

export async function scanCanBus(bus: CanBus, o: ScanOptions = {}): Promise<ScanResult> {
  const identify = o.identify ?? true;
  const signal = o.signal ? { signal: o.signal } : {};
  await clearKatapultNodeIds(bus);
  const probeIds = [...new Set([...(identify ? CANFLASH_PROBE_IDS : []), ...(o.probeIds ?? [])])];
  const wanted = o.wanted ? new Set<string>(o.wanted) : undefined;
  const allWanted = (answers: readonly NodeAnswer[], app?: string) =>
    [...wanted!].every((u) => answers.some((a) => a.uuid === u && (!app || a.app === app)));
  // The probes stop early only on our word (all wanted nodes in Katapult) or the caller's.
  const probeStop = new AbortController();
  const stopProbes = () => probeStop.abort();
  o.signal?.addEventListener("abort", stopProbes, { once: true });
  /** Set once the query is over: every wanted node answered it (so none holds a node id). */
  let wantedAllAnswered = false;
  const probing =
    probeIds.length > 0
      ? findAssignedKlipperNodes(bus, probeIds, {
          signal: probeStop.signal,
          // A node on a probed id is silent to queries: not one of the wanted that answered.
          identifyFound: () => !wantedAllAnswered,
        })
      : Promise.resolve([]);
  probing.catch(() => undefined);
  let answers: NodeAnswer[];
  let assigned: Awaited<typeof probing>;
  try {
    answers = await queryNodes(bus, {
      // Kalico's extended query: its nodes answer even while they hold a node id.
      extended: true,
      ...signal,
      ...(o.queryMs !== undefined ? { windowMs: o.queryMs } : {}),
      ...(wanted ? { until: (a: readonly NodeAnswer[]) => allWanted(a) } : {}),
    });
    wantedAllAnswered = !!wanted && allWanted(answers);
    if (wanted && allWanted(answers, "katapult")) {
      stopProbes();
      assigned = await probing.catch((e: unknown) => {
        if (o.signal?.aborted) throw e;
        return [];
      });
    } else assigned = await probing;
  } finally {
    o.signal?.removeEventListener("abort", stopProbes);
  }

  const nodes: ScannedNode[] = answers.map((a) => ({
    uuid: a.uuid,
    application: a.kalico ? "Kalico" : appName(a.appByte),
    ...(a.assignedNodeId !== undefined
      ? { found: "node-id" as const, nodeId: a.assignedNodeId, kalicoAssigned: true }
      : { found: "query" as const }),
  }));
  const unnamed: ScanResult["unnamed"] = [];
  for (const a of assigned) {
    if (a.identified === false) continue; // its id is taken; who it is did not matter
    if (!a.uuid) {
      unnamed.push({ nodeId: a.nodeId, error: a.error ?? "no UUID" });
      continue;
    }
    const known = nodes.find((n) => n.uuid === a.uuid);
    if (known) {
      // A Kalico node that told its node id: what the probe on that id read.
      if (a.dictionary) known.dictionary = a.dictionary;
      if (a.error) known.error = a.error;
      continue;
    }
    nodes.push({
      uuid: a.uuid,
      application: "Klipper",
      found: "node-id",
      nodeId: a.nodeId,
      ...(a.dictionary ? { dictionary: a.dictionary } : {}),
      ...(a.error ? { error: a.error } : {}),
    });
  }

  const used = new Set(assigned.map((a) => a.nodeId));
  const freeIds = CANFLASH_PROBE_IDS.filter((id) => !used.has(id));
  const work: Promise<void>[] = [];
  if (identify) {
    for (const n of nodes.filter(
      (x) =>
        x.found === "query" &&
        (x.application === "Klipper" || x.application === "Kalico") &&
        (!wanted || wanted.has(x.uuid)),
    )) {
      const nodeId = freeIds.shift();
      if (nodeId === undefined) {
        n.error = "no free node id left to identify it";
        continue;
      }
      n.nodeId = nodeId;
      work.push(
        identifyCanNode(bus, n.uuid, { nodeId, ...signal }).then(
          (r) => void (n.dictionary = r.dictionary),
          (e) => void (n.error = msg(e)),
        ),
      );
    }
  }
  if (o.katapultInfo) {
    let nodeId = FIRST_HOST_NODE_ID;
    for (const n of nodes.filter((x) => x.application === "Katapult")) {
      const id = nodeId++;
      work.push(
        katapultConnectInfo(bus, n.uuid, id, o.signal).then(
          (info) => void (n.katapult = info),
          (e) => void (n.error = msg(e)),
        ),
      );
    }
  }
  await Promise.all(work);
  return { nodes, unnamed };
}

/**
 * Assigns a Katapult node an id and asks its driver what the bootloader
 * reports; it stays in Katapult (the next query clears the id).
 */
export async function katapultConnectInfo(
  bus: CanBus,
  uuid: Uuid,
  nodeId: number,
  signal?: AbortSignal,
): Promise<DeviceInfo> {
  const row = findTarget(KATAPULT_TARGET_ID);
  const driver = await driverFor(row);
  await assignKatapultNodeId(bus, uuid, nodeId);
  const r = await driver.probe!(
    row,
    {
      kind: "can",
      iface: bus.channel,
      bus,
      uuid,
      gate: { nodeIdOf: () => Promise.resolve(nodeId) },
    },
    { clock: bus.clock, ...(signal ? { signal } : {}) },
  );
  return r.device!;
}
