// identify: reading a Klipper MCU's data dictionary (klipper-can.md §7),
// over any byte link — a CAN node stream after assigning a node id, a USB or
// UART port. Works while the MCU is shut down. Sequence numbers are adopted
// from the MCU's NAK, as Klippy does.

import type { CanBus } from "../can/bus.js";
import type { ByteTransport } from "../transport/byte-transport.js";
import { CanNodeStream } from "../transport/can-node-stream.js";
import { concatBytes } from "../transport/byte-transport.js";
import { throwIfAborted, CanflashError } from "../util/errors.js";
import { moduleLogger } from "../util/log.js";
import { nodeCanIds, setKlipperNodeIdFrame } from "./admin.js";
import { parseDictionary, type KlipperDictionary } from "./dictionary.js";
import {
  BlockReader,
  encodeBlock,
  findIdentifyResponses,
  IDENTIFY_CHUNK,
  identifyRequest,
} from "./msgproto.js";
import type { Uuid } from "./uuid.js";

const log = moduleLogger("klippy.identify");

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

/** Reads the data dictionary over `link`. */
export async function identify(
  link: ByteTransport,
  o: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<IdentifyResult> {
  const clock = link.clock;
  const deadline = clock.now() + (o.timeoutMs ?? IDENTIFY_TIMEOUT_MS);
  const reader = new BlockReader();
  const parts: Uint8Array[] = [];
  let offset = 0;
  let seq = 0;
  for (;;) {
    throwIfAborted(o.signal, "identify");
    if (clock.now() >= deadline)
      throw new IdentifyError(
        link.name,
        `no complete dictionary within ${o.timeoutMs ?? IDENTIFY_TIMEOUT_MS} ms (got ${offset} bytes)`,
      );
    await link.write(encodeBlock(seq, identifyRequest(offset, IDENTIFY_CHUNK)));
    const replyBy = Math.min(deadline, clock.now() + IDENTIFY_REPLY_MS);
    let got: Uint8Array | undefined;
    wait: while (clock.now() < replyBy) {
      const bytes = await link.read(replyBy - clock.now(), o.signal ? { signal: o.signal } : {});
      for (const block of reader.push(bytes)) {
        if (block.content.length === 0) {
          // ACK or NAK: the MCU's next expected sequence number.
          if (block.seq !== ((seq + 1) & 0x0f)) {
            log.debug({ link: link.name, want: block.seq }, "adopting the MCU's sequence number");
            seq = block.seq;
            break wait; // resend with the sequence it expects
          }
          continue;
        }
        for (const r of findIdentifyResponses(block.content)) {
          if (r.offset === offset) got = r.data;
        }
      }
      if (got) break;
    }
    if (!got) continue;
    seq = (seq + 1) & 0x0f;
    if (got.length === 0) break;
    parts.push(got);
    offset += got.length;
    if (offset > MAX_IDENTIFY_BYTES)
      throw new IdentifyError(link.name, `dictionary larger than ${MAX_IDENTIFY_BYTES} bytes`);
  }
  const raw = concatBytes(parts);
  return { dictionary: parseDictionary(raw), raw };
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
