// identify: reading a Klipper MCU's data dictionary (klipper-can.md §7),
// over any byte link — a CAN node stream after assigning a node id, a USB or
// UART port. Works while the MCU is shut down. Sequence numbers are adopted
// from the MCU's NAK, as Klippy does.

import type { CanBus } from "../can/bus.js";
import type { ByteTransport } from "../transport/byte-transport.js";
import { CanNodeStream } from "../transport/can-node-stream.js";
import { concatBytes } from "../transport/byte-transport.js";
import { CanflashError } from "../util/errors.js";
import { nodeCanIds, setKlipperNodeIdFrame } from "./admin.js";
import { parseDictionary, type KlipperDictionary } from "./dictionary.js";
import { KlipperLink, McuTimeoutError } from "./mcu-link.js";
import { MessageTable } from "./messages.js";
import { findIdentifyResponses, IDENTIFY_CHUNK, identifyRequest } from "./msgproto.js";
import { uuidFromBytes, type Uuid } from "./uuid.js";

declare module "../util/errors.js" {
  interface ErrorCodes {
    IDENTIFY_FAILED: true;
  }
}

/** Klipper allows 5 s for the whole identify. */
export const IDENTIFY_TIMEOUT_MS = 5000;
/** Per request: a reply takes milliseconds; resend after this. */
export const IDENTIFY_REPLY_MS = 300;
/** Node ids canflash gives Klipper nodes to identify them: a high range no Klippy host uses (it uses 4, 5, …). */
export const IDENTIFY_NODE_ID_BASE = 200;
/** Largest dictionary read (real ones are a few KiB compressed). */
export const MAX_IDENTIFY_BYTES = 256 * 1024;

export class IdentifyError extends CanflashError {
  constructor(
    readonly link: string,
    message: string,
  ) {
    super("IDENTIFY_FAILED", `identify on ${link}: ${message}`);
  }
}

export interface IdentifyResult {
  dictionary: KlipperDictionary;
  /** The compressed dictionary as read. */
  raw: Uint8Array;
}

/** Reads the data dictionary over `link` (a byte stream, or a link already in use). */
export async function identify(
  link: ByteTransport | KlipperLink,
  o: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<IdentifyResult> {
  const l = link instanceof KlipperLink ? link : new KlipperLink(link);
  const timeoutMs = o.timeoutMs ?? IDENTIFY_TIMEOUT_MS;
  const deadline = l.transport.clock.now() + timeoutMs;
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (;;) {
    let data: Uint8Array;
    try {
      data = await l.request(
        identifyRequest(offset, IDENTIFY_CHUNK),
        (content) => findIdentifyResponses(content).find((r) => r.offset === offset)?.data,
        {
          deadline,
          timeoutMs,
          what: `identify_response for offset ${offset}`,
          replyMs: IDENTIFY_REPLY_MS,
          ...(o.signal ? { signal: o.signal } : {}),
        },
      );
    } catch (e) {
      if (e instanceof McuTimeoutError)
        throw new IdentifyError(
          l.name,
          `no complete dictionary within ${timeoutMs} ms (got ${offset} bytes)`,
        );
      throw e;
    }
    if (data.length === 0) break;
    parts.push(data);
    offset += data.length;
    if (offset > MAX_IDENTIFY_BYTES)
      throw new IdentifyError(l.name, `dictionary larger than ${MAX_IDENTIFY_BYTES} bytes`);
  }
  const raw = concatBytes(parts);
  return { dictionary: parseDictionary(raw), raw };
}

/** Asks an identified node for its CAN UUID and node id (get_canbus_id; CAN builds only). */
export async function getCanbusId(
  link: KlipperLink,
  dictionary: KlipperDictionary,
  o: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<{ uuid: Uuid; nodeId: number | undefined }> {
  const table = new MessageTable(dictionary);
  if (!table.has("get_canbus_id"))
    throw new IdentifyError(link.name, "this build has no get_canbus_id (not a CAN build)");
  const timeoutMs = o.timeoutMs ?? IDENTIFY_REPLY_MS * 4;
  const reply = await link.request(
    table.encode("get_canbus_id"),
    (content) => table.decode(content).find((m) => m.name === "canbus_id")?.params,
    {
      deadline: link.transport.clock.now() + timeoutMs,
      timeoutMs,
      what: "canbus_id",
      ...(o.signal ? { signal: o.signal } : {}),
    },
  );
  const raw = reply.canbus_uuid;
  if (!(raw instanceof Uint8Array) || raw.length !== 6)
    throw new IdentifyError(link.name, "canbus_id carried no 6-byte UUID");
  const nodeId = typeof reply.canbus_nodeid === "number" ? reply.canbus_nodeid : undefined;
  return { uuid: uuidFromBytes(raw), nodeId };
}

/** Assigns `uuid` a node id (Klipper's 01 admin frame) and identifies it over its CAN ids. */
export async function identifyCanNode(
  bus: CanBus,
  uuid: Uuid,
  o: { nodeId?: number; timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<IdentifyResult> {
  const nodeId = o.nodeId ?? IDENTIFY_NODE_ID_BASE;
  await bus.send(setKlipperNodeIdFrame(uuid, nodeId));
  const stream = new CanNodeStream(bus, nodeCanIds(nodeId), `node ${nodeId} (${uuid})`);
  try {
    return await identify(stream, o);
  } finally {
    await stream.close();
  }
}
