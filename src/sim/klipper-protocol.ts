// The msgproto side of a simulated Klipper MCU, enough to be identified:
// accepts a block only with the expected sequence number (else answers a
// NAK: an empty block carrying the expected number), answers identify with
// slices of its compressed data dictionary, then ACKs (an empty block with
// the next expected number) — as Klipper's command.c does.

import { decodeVlq } from "../klippy-bridge/vlq.js";
import {
  BlockReader,
  decodeParams,
  encodeBlock,
  encodeMessage,
  IDENTIFY,
  IDENTIFY_ID,
  IDENTIFY_RESPONSE,
  IDENTIFY_RESPONSE_ID,
} from "../klippy-bridge/msgproto.js";

/** A response must fit one 64-byte block: count ≤ 57 − len(VLQ(offset)). */
const MAX_IDENTIFY_DATA = 54;

export class KlipperMcuProtocol {
  /** The host sequence number the MCU expects next (0 after reset). */
  private expected = 0;
  private readonly reader = new BlockReader();
  identifyRequests = 0;

  constructor(
    private readonly dictionary: Uint8Array,
    private readonly send: (bytes: Uint8Array) => void,
  ) {}

  receive(bytes: Uint8Array): void {
    for (const block of this.reader.push(bytes)) {
      if (block.seq !== this.expected) {
        this.send(encodeBlock(this.expected, new Uint8Array())); // NAK
        continue;
      }
      this.expected = (this.expected + 1) & 0x0f;
      const responses: Uint8Array[] = [];
      let pos = 0;
      try {
        while (pos < block.content.length) {
          const id = decodeVlq(block.content, pos);
          if (id.value !== IDENTIFY_ID) break; // other commands: not simulated
          const r = decodeParams(block.content, id.next, IDENTIFY);
          pos = r.next;
          this.identifyRequests++;
          const offset = r.params.offset as number;
          const count = r.params.count as number;
          if (count > MAX_IDENTIFY_DATA) continue; // the real MCU drops a response that would not fit
          const data = this.dictionary.slice(offset, offset + count);
          responses.push(encodeMessage(IDENTIFY_RESPONSE_ID, IDENTIFY_RESPONSE, { offset, data }));
        }
      } catch {
        // a malformed message ends the block
      }
      for (const r of responses) this.send(encodeBlock(this.expected, r));
      this.send(encodeBlock(this.expected, new Uint8Array())); // ACK
    }
  }
}
