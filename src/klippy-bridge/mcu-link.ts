// A command/response link to a Klipper MCU over any byte stream — the part
// of Klippy's serialqueue a flasher needs: message blocks with 4-bit
// sequence numbers, resend when no reply comes, and the MCU's expected
// sequence adopted from its NAK (an empty block carrying the number it
// wants), so it works whatever a previous host left behind.

import type { ByteTransport } from "../transport/byte-transport.js";
import { throwIfAborted, CanflashError } from "../util/errors.js";
import { moduleLogger } from "../util/log.js";
import { BlockReader, encodeBlock, MESSAGE_SEQ_MASK, type Block } from "./msgproto.js";

declare module "../util/errors.js" {
  interface ErrorCodes {
    MCU_TIMEOUT: true;
  }
}

const log = moduleLogger("klippy.link");

/** Per request: a reply takes milliseconds; resend after this. */
export const MCU_REPLY_MS = 300;

export class McuTimeoutError extends CanflashError {
  constructor(
    readonly link: string,
    readonly what: string,
    readonly timeoutMs: number,
  ) {
    super("MCU_TIMEOUT", `${link}: no ${what} within ${timeoutMs} ms`);
  }
}

export interface RequestOptions {
  /** Absolute deadline on the link's clock. */
  deadline: number;
  /** The budget the deadline came from, for the error message. */
  timeoutMs: number;
  /** For the timeout message: "identify_response offset=40". */
  what: string;
  replyMs?: number;
  signal?: AbortSignal;
}

export class KlipperLink {
  /** The sequence number of the next block we send. */
  private seq = 0;
  private readonly reader = new BlockReader();
  /** Blocks received: any reply at all, for probing. */
  blocksSeen = 0;

  constructor(readonly transport: ByteTransport) {}

  get name(): string {
    return this.transport.name;
  }

  /**
   * Sends one block with `content` and waits for a block whose content
   * `match` accepts; resends after replyMs and on a NAK (adopting its
   * sequence number) until the deadline.
   */
  request<T>(
    content: Uint8Array,
    match: (content: Uint8Array) => T | undefined,
    o: RequestOptions,
  ): Promise<T> {
    return this.exchange(content, o, (block, sent) => {
      if (block.content.length === 0) {
        // ACK (next = sent + 1) or a stale one (next = sent): fine. Anything else is a
        // NAK naming the sequence the MCU expects: adopt it and resend.
        if (block.seq !== sent && block.seq !== ((sent + 1) & MESSAGE_SEQ_MASK)) {
          log.debug({ link: this.name, want: block.seq }, "adopting the MCU's sequence number");
          return "resend";
        }
        return undefined;
      }
      const v = match(block.content);
      return v === undefined ? undefined : { value: v };
    });
  }

  /**
   * Sends a command that has no response and waits for the MCU's ACK (an
   * empty block carrying the next sequence number); resends after replyMs
   * and on a NAK until the deadline.
   */
  command(content: Uint8Array, o: RequestOptions): Promise<void> {
    return this.exchange(content, o, (block, sent) => {
      if (block.seq === ((sent + 1) & MESSAGE_SEQ_MASK)) return { value: undefined };
      // a NAK: adopt the MCU's number and resend
      return block.content.length === 0 && block.seq !== sent ? "resend" : undefined;
    });
  }

  /**
   * The resend loop both share: each received block goes to `onBlock`,
   * which settles the exchange ({ value }: the sequence moves past `sent`),
   * asks for a resend (a NAK: the MCU's number is adopted) or ignores it.
   */
  private async exchange<T>(
    content: Uint8Array,
    o: RequestOptions,
    onBlock: (block: Block, sent: number) => { value: T } | "resend" | undefined,
  ): Promise<T> {
    const clock = this.transport.clock;
    const replyMs = o.replyMs ?? MCU_REPLY_MS;
    for (;;) {
      throwIfAborted(o.signal, o.what);
      if (clock.now() >= o.deadline) throw new McuTimeoutError(this.name, o.what, o.timeoutMs);
      const sent = this.seq;
      await this.transport.write(encodeBlock(sent, content));
      const replyBy = Math.min(o.deadline, clock.now() + replyMs);
      let resend = false;
      while (!resend && clock.now() < replyBy) {
        const bytes = await this.transport.read(
          replyBy - clock.now(),
          o.signal ? { signal: o.signal } : {},
        );
        let got: { value: T } | undefined;
        for (const block of this.reader.push(bytes)) {
          this.blocksSeen++;
          const r = onBlock(block, sent);
          if (r === "resend") {
            this.seq = block.seq;
            resend = true;
          } else if (r) got ??= r;
        }
        if (got) {
          this.seq = (sent + 1) & MESSAGE_SEQ_MASK;
          return got.value;
        }
      }
    }
  }

  /** Sends a block and waits for nothing (reset: the MCU restarts before it could answer). */
  async post(content: Uint8Array): Promise<void> {
    await this.transport.write(encodeBlock(this.seq, content));
    this.seq = (this.seq + 1) & MESSAGE_SEQ_MASK;
  }

  /** Sends once and reports whether any block came back within `replyMs` (is a node there?). */
  async probe(content: Uint8Array, replyMs: number, signal?: AbortSignal): Promise<boolean> {
    const clock = this.transport.clock;
    const before = this.blocksSeen;
    await this.transport.write(encodeBlock(this.seq, content));
    const end = clock.now() + replyMs;
    while (clock.now() < end) {
      const bytes = await this.transport.read(end - clock.now(), signal ? { signal } : {});
      for (const block of this.reader.push(bytes)) {
        // Every block from the MCU carries the sequence number it expects next.
        this.blocksSeen++;
        this.seq = block.seq;
      }
      if (this.blocksSeen > before) return true;
    }
    return false;
  }
}
