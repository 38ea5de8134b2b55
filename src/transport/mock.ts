// A scriptable ByteTransport for protocol tests (node-serialport's
// MockBinding idea): records every write, lets a responder answer each write
// after a delay on the transport's clock, and can inject bytes at any time.

import type { Clock } from "../util/clock.js";
import { AbortedError } from "../util/errors.js";
import { concatBytes, type ByteTransport, type ReadOptions } from "./byte-transport.js";
import { onAbort as subscribeAbort } from "../util/abort.js";

/** Answers a write: bytes to deliver (after `delayMs`), or nothing. */
export type Responder = (
  written: Uint8Array,
  index: number,
) => { reply?: Uint8Array; delayMs?: number } | undefined;

export class MockTransport implements ByteTransport {
  readonly written: Uint8Array[] = [];
  private inbox: Uint8Array[] = [];
  private waiter: (() => void) | undefined;
  private closed = false;

  constructor(
    readonly clock: Clock,
    private readonly responder: Responder = () => undefined,
    readonly name = "mock",
  ) {}

  async write(data: Uint8Array): Promise<void> {
    const copy = Uint8Array.from(data);
    const index = this.written.length;
    this.written.push(copy);
    const r = this.responder(copy, index);
    if (r?.reply) {
      const reply = r.reply;
      this.clock.schedule(r.delayMs ?? 0, () => this.emitData(reply));
    }
  }

  /** Makes bytes arrive now. */
  emitData(bytes: Uint8Array): void {
    this.inbox.push(Uint8Array.from(bytes));
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  async read(timeoutMs: number, options: ReadOptions = {}): Promise<Uint8Array> {
    if (this.inbox.length === 0) {
      await new Promise<void>((resolve, reject) => {
        let unsubscribeAbort = (): void => undefined;
        const cancel = this.clock.schedule(timeoutMs, () => {
          this.waiter = undefined;
          resolve();
        });
        const onAbort = (): void => {
          cancel();
          this.waiter = undefined;
          reject(new AbortedError("mock read", options.signal?.reason));
        };
        if (options.signal?.aborted) return onAbort();
        unsubscribeAbort = subscribeAbort(options.signal, onAbort);
        this.waiter = () => {
          cancel();
          unsubscribeAbort();
          resolve();
        };
      });
    }
    const out = concatBytes(this.inbox);
    this.inbox = [];
    return out;
  }

  discardInput(): void {
    this.inbox = [];
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
