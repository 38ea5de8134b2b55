// Exact reads over a byte stream for half-duplex bootloader protocols: the
// host knows how many bytes each reply has, so it reads exactly that many
// before a deadline, keeping anything extra for the next read.

import type { ByteTransport } from "./byte-transport.js";
import { concatBytes } from "./byte-transport.js";

export class ExactReader {
  private buf: Uint8Array = new Uint8Array(0);

  constructor(readonly link: ByteTransport) {}

  /** Up to `n` bytes: all of them, or what arrived before `timeoutMs` ran out. */
  async read(n: number, timeoutMs: number, signal?: AbortSignal): Promise<Uint8Array> {
    const clock = this.link.clock;
    const deadline = clock.now() + timeoutMs;
    while (this.buf.length < n) {
      const left = deadline - clock.now();
      if (left <= 0) break;
      const got = await this.link.read(left, signal ? { signal } : {});
      if (got.length === 0) break;
      this.buf = concatBytes([this.buf, got]);
    }
    const out = this.buf.subarray(0, Math.min(n, this.buf.length));
    this.buf = this.buf.slice(out.length);
    return Uint8Array.from(out);
  }

  /** Reads one byte, or undefined at the deadline. */
  async byte(timeoutMs: number, signal?: AbortSignal): Promise<number | undefined> {
    const b = await this.read(1, timeoutMs, signal);
    return b[0];
  }

  /** Drops buffered and pending input. */
  discard(): void {
    this.buf = new Uint8Array(0);
    this.link.discardInput();
  }

  /**
   * Reads and drops input until the line has been quiet for `quietMs`
   * (late replies to earlier attempts), at most `maxMs`.
   */
  async drain(quietMs: number, maxMs: number, signal?: AbortSignal): Promise<number> {
    const clock = this.link.clock;
    const end = clock.now() + maxMs;
    let dropped = this.buf.length;
    this.buf = new Uint8Array(0);
    while (clock.now() < end) {
      const got = await this.link.read(
        Math.min(quietMs, end - clock.now()),
        signal ? { signal } : {},
      );
      if (got.length === 0) break;
      dropped += got.length;
    }
    return dropped;
  }
}
