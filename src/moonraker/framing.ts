// Moonraker's Unix-socket framing: each JSON-RPC message is UTF-8 JSON
// followed by one 0x03 byte (ETX); there is no length prefix and no other
// delimiter. Pure functions and a splitter that keeps the partial tail.

/** The byte that ends every message on Moonraker's Unix socket. */
export const MESSAGE_END = 0x03;

/** One message as it goes on the socket. */
export function encodeMessage(message: unknown): Buffer {
  return Buffer.concat([Buffer.from(JSON.stringify(message), "utf8"), Buffer.of(MESSAGE_END)]);
}

/**
 * Splits a byte stream into messages. `push` returns the complete message
 * texts; bytes after the last 0x03 wait for the next chunk (a message may
 * arrive in several reads, several messages in one).
 */
export class MessageSplitter {
  private tail: Buffer[] = [];

  push(chunk: Uint8Array): string[] {
    const out: string[] = [];
    let start = 0;
    for (let i = chunk.indexOf(MESSAGE_END); i !== -1; i = chunk.indexOf(MESSAGE_END, start)) {
      const part = Buffer.from(chunk.subarray(start, i));
      out.push(Buffer.concat([...this.tail, part]).toString("utf8"));
      this.tail = [];
      start = i + 1;
    }
    if (start < chunk.length) this.tail.push(Buffer.from(chunk.subarray(start)));
    return out;
  }

  /** Bytes of a message not yet ended. */
  get pending(): number {
    return this.tail.reduce((n, b) => n + b.length, 0);
  }
}
