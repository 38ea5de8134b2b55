// Klipper's CAN admin protocol (shared by Katapult), pure: frames on 0x3f0
// (host → all devices) and 0x3f1 (devices → host), and the mapping from a
// one-byte node id to the CAN id pair that carries its byte stream.

import { canFrame, type CanFrame } from "../can/frame.js";
import { parseUuid, uuidBytes, uuidFromBytes, type Uuid } from "./uuid.js";

export const ADMIN_ID = 0x3f0;
export const ADMIN_RESP_ID = 0x3f1;

export const AdminCmd = {
  QUERY_UNASSIGNED: 0x00,
  SET_KLIPPER_NODEID: 0x01,
  REQUEST_BOOTLOADER: 0x02,
  SET_KATAPULT_NODEID: 0x11,
  CLEAR_KATAPULT_NODEID: 0x12,
  RESP_NEED_NODEID: 0x20,
  /** Kalico: an assigned node's answer to the extended query (uuid6 + its node id). */
  RESP_HAVE_NODEID: 0x21,
} as const;

/** Kalico's extended query: QUERY_UNASSIGNED with this bit set in a second byte. */
export const QUERY_EXTENDED_FLAG = 0x01;
/** The app byte of an unassigned Kalico node's answer to the extended query. */
export const KALICO_APP_BYTE = 0x07;

/** What a node runs, from the app byte of its query reply. */
export type NodeApp = "klipper" | "katapult";

/** First node id canflash hands out (flashtool uses 128 + registered nodes; Klipper's host uses 4, 5, …). */
export const FIRST_HOST_NODE_ID = 128;

/**
 * The query; `extended` adds Kalico's second byte, so Kalico nodes answer
 * even while they hold a node id (upstream Klipper and Katapult ignore it).
 */
export function queryUnassignedFrame(o: { extended?: boolean } = {}): CanFrame {
  return canFrame(
    ADMIN_ID,
    o.extended ? [AdminCmd.QUERY_UNASSIGNED, QUERY_EXTENDED_FLAG] : [AdminCmd.QUERY_UNASSIGNED],
  );
}

export function setKlipperNodeIdFrame(uuid: Uuid, nodeId: number): CanFrame {
  return canFrame(ADMIN_ID, [AdminCmd.SET_KLIPPER_NODEID, ...uuidBytes(uuid), checkNodeId(nodeId)]);
}

export function setKatapultNodeIdFrame(uuid: Uuid, nodeId: number): CanFrame {
  return canFrame(ADMIN_ID, [
    AdminCmd.SET_KATAPULT_NODEID,
    ...uuidBytes(uuid),
    checkNodeId(nodeId),
  ]);
}

export function clearKatapultNodeIdsFrame(): CanFrame {
  return canFrame(ADMIN_ID, [AdminCmd.CLEAR_KATAPULT_NODEID]);
}

export function requestBootloaderFrame(uuid: Uuid): CanFrame {
  return canFrame(ADMIN_ID, [AdminCmd.REQUEST_BOOTLOADER, ...uuidBytes(uuid)]);
}

export function needNodeIdFrame(uuid: Uuid, app: NodeApp | "kalico"): CanFrame {
  return canFrame(ADMIN_RESP_ID, [
    AdminCmd.RESP_NEED_NODEID,
    ...uuidBytes(uuid),
    app === "katapult" ? 0x11 : app === "kalico" ? KALICO_APP_BYTE : 0x01,
  ]);
}

/** Kalico's RESP_HAVE_NODEID: an assigned node answering the extended query. */
export function haveNodeIdFrame(uuid: Uuid, nodeId: number): CanFrame {
  return canFrame(ADMIN_RESP_ID, [
    AdminCmd.RESP_HAVE_NODEID,
    ...uuidBytes(uuid),
    checkNodeId(nodeId),
  ]);
}

export interface NodeAnswer {
  uuid: Uuid;
  app: NodeApp;
  /** The raw app byte; undefined for pre-2022 Klipper replies without one (counted as Klipper). */
  appByte: number | undefined;
  /** Kalico answered the extended query (app byte 0x07, or RESP_HAVE_NODEID). */
  kalico?: boolean;
  /** RESP_HAVE_NODEID: the node id it holds. */
  assignedNodeId?: number;
}

/** Decodes a RESP_NEED_NODEID reply on 0x3f1, or undefined for anything else. */
export function decodeNeedNodeId(frame: CanFrame): NodeAnswer | undefined {
  if (frame.id !== ADMIN_RESP_ID || frame.extended || frame.rtr || frame.error) return undefined;
  if (frame.data.length < 7 || frame.data[0] !== AdminCmd.RESP_NEED_NODEID) return undefined;
  const uuid = uuidFromBytes(frame.data.subarray(1, 7));
  const appByte = frame.data.length >= 8 ? frame.data[7] : undefined;
  return { uuid, app: appByte === 0x11 ? "katapult" : "klipper", appByte };
}

/**
 * Decodes an answer to the (extended) query: RESP_NEED_NODEID, or Kalico's
 * RESP_HAVE_NODEID (DLC 8) from a node that holds a node id.
 */
export function decodeQueryReply(frame: CanFrame): NodeAnswer | undefined {
  const need = decodeNeedNodeId(frame);
  if (need) return need.appByte === KALICO_APP_BYTE ? { ...need, kalico: true } : need;
  if (frame.id !== ADMIN_RESP_ID || frame.extended || frame.rtr || frame.error) return undefined;
  if (frame.data.length < 8 || frame.data[0] !== AdminCmd.RESP_HAVE_NODEID) return undefined;
  return {
    uuid: uuidFromBytes(frame.data.subarray(1, 7)),
    app: "klipper",
    appByte: undefined,
    kalico: true,
    assignedNodeId: frame.data[7]!,
  };
}

/** What an admin frame on 0x3f0 asks (for simulated devices and traces). */
export type AdminRequest =
  /** extended: Kalico's second byte with QUERY_EXTENDED_FLAG. */
  | { kind: "query"; extended: boolean }
  | { kind: "set-klipper-nodeid"; uuid: Uuid; nodeId: number }
  | { kind: "set-katapult-nodeid"; uuid: Uuid; nodeId: number }
  | { kind: "request-bootloader"; uuid: Uuid }
  | { kind: "clear-katapult-nodeids" }
  | { kind: "other"; command: number };

/** Parses a host admin frame with the firmware's length rules (UUID needs DLC ≥ 7, set-nodeid DLC ≥ 8). */
export function decodeAdminRequest(frame: CanFrame): AdminRequest | undefined {
  if (frame.id !== ADMIN_ID || frame.extended || frame.rtr || frame.data.length === 0)
    return undefined;
  const d = frame.data;
  const uuid = (): Uuid => uuidFromBytes(d.subarray(1, 7));
  switch (d[0]) {
    case AdminCmd.QUERY_UNASSIGNED:
      return {
        kind: "query",
        extended: d.length > 1 && (d[1]! & QUERY_EXTENDED_FLAG) !== 0,
      };
    case AdminCmd.SET_KLIPPER_NODEID:
      return d.length >= 8
        ? { kind: "set-klipper-nodeid", uuid: uuid(), nodeId: d[7]! }
        : undefined;
    case AdminCmd.SET_KATAPULT_NODEID:
      return d.length >= 8
        ? { kind: "set-katapult-nodeid", uuid: uuid(), nodeId: d[7]! }
        : undefined;
    case AdminCmd.REQUEST_BOOTLOADER:
      return d.length >= 7 ? { kind: "request-bootloader", uuid: uuid() } : undefined;
    case AdminCmd.CLEAR_KATAPULT_NODEID:
      return { kind: "clear-katapult-nodeids" };
    default:
      return { kind: "other", command: d[0]! };
  }
}

/** Host → device and device → host CAN ids of a node. */
export interface NodeCanIds {
  toDevice: number;
  fromDevice: number;
}

function checkNodeId(nodeId: number): number {
  if (!Number.isInteger(nodeId) || nodeId < 0 || nodeId > 255)
    throw new RangeError(`node id ${nodeId} is not 0–255`);
  return nodeId;
}

/** CAN ids of a node's byte stream: 0x100 + 2n to the device, +1 back. */
export function nodeCanIds(nodeId: number): NodeCanIds {
  const toDevice = 0x100 + 2 * checkNodeId(nodeId);
  return { toDevice, fromDevice: toDevice + 1 };
}

/** The node id whose device-bound CAN id is `canId`, or undefined. */
export function nodeIdFromCanId(canId: number): number | undefined {
  if (canId < 0x100 || canId > 0x2ff) return undefined;
  return Math.floor((canId - 0x100) / 2);
}

export { parseUuid };
