// The msgproto side of a simulated Klipper MCU, enough to be identified and
// asked for its CAN id: accepts a block only with the expected sequence
// number (else answers a NAK: an empty block carrying the expected number),
// answers identify with slices of its compressed data dictionary and
// get_canbus_id with its UUID and node id, then ACKs (an empty block with the
// next expected number) — responses before the ACK, as Klipper's command.c
// sends them. Commands it does not simulate are accepted and ignored.

import { inflateSync } from "node:zlib";
import { parseDictionary } from "../klippy-bridge/dictionary.js";
import { McuMessageTable } from "../klippy-bridge/messages.js";
import { BlockReader, encodeBlock } from "../klippy-bridge/msgproto.js";

/** A response must fit one 64-byte block: count ≤ 57 − len(VLQ(offset)). */
const MAX_IDENTIFY_DATA = 54;

export interface McuIdentity {
  /** The 6 UUID bytes (CAN builds). */
  canbusUuid?: () => Uint8Array;
  canbusNodeId?: () => number | undefined;
}

export class KlipperMcuProtocol {
  /** The host sequence number the MCU expects next (0 after reset). */
  private expected = 0;
  private readonly reader = new BlockReader();
  private readonly table: McuMessageTable;
  identifyRequests = 0;

  constructor(
    private readonly dictionary: Uint8Array,
    private readonly send: (bytes: Uint8Array) => void,
    private readonly identity: McuIdentity = {},
    /** Where a previous host left the sequence (0 after reset). */
    expectedSeq = 0,
  ) {
    this.expected = expectedSeq & 0x0f;
    this.table = new McuMessageTable(parseDictionary(inflateSync(dictionary)));
  }

  receive(bytes: Uint8Array): void {
    for (const block of this.reader.push(bytes)) {
      if (block.seq !== this.expected) {
        this.send(encodeBlock(this.expected, new Uint8Array())); // NAK
        continue;
      }
      this.expected = (this.expected + 1) & 0x0f;
      const responses: Uint8Array[] = [];
      for (const m of this.table.decode(block.content)) {
        if (m.name === "identify") {
          this.identifyRequests++;
          const offset = m.params.offset as number;
          const count = m.params.count as number;
          if (count > MAX_IDENTIFY_DATA) continue; // the real MCU drops a response that would not fit
          const data = this.dictionary.slice(offset, offset + count);
          responses.push(this.table.encode("identify_response", { offset, data }));
        } else if (m.name === "get_canbus_id" && this.identity.canbusUuid) {
          responses.push(
            this.table.encode("canbus_id", {
              canbus_uuid: this.identity.canbusUuid(),
              canbus_nodeid: this.identity.canbusNodeId?.() ?? 0,
            }),
          );
        }
      }
      for (const r of responses) this.send(encodeBlock(this.expected, r));
      this.send(encodeBlock(this.expected, new Uint8Array())); // ACK
    }
  }
}
