// A bus that forwards everything to another bus: the base of wrappers that
// add one thing (a trace of every frame, a cleanup when it closes).

import type { CanBus, CanReader, ReaderOptions, SendOptions } from "./bus.js";
import type { CanFilter } from "./filter.js";
import type { CanFrame } from "./frame.js";

export class DelegatingBus implements CanBus {
  constructor(protected readonly inner: CanBus) {}

  get channel(): string {
    return this.inner.channel;
  }
  get clock() {
    return this.inner.clock;
  }
  get info() {
    return this.inner.info;
  }
  get state() {
    return this.inner.state;
  }
  get closed(): boolean {
    return this.inner.closed;
  }

  send(frame: CanFrame, options?: SendOptions): Promise<void> {
    return this.inner.send(frame, options);
  }

  subscribe(options?: ReaderOptions): CanReader {
    return this.inner.subscribe(options);
  }

  setFilters(filters: readonly CanFilter[]): void {
    this.inner.setFilters(filters);
  }

  recv(timeoutMs?: number, options?: { signal?: AbortSignal }): Promise<CanFrame | undefined> {
    return this.inner.recv(timeoutMs, options);
  }

  [Symbol.asyncIterator](): AsyncIterator<CanFrame> {
    return this.inner[Symbol.asyncIterator]();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** A bus that runs `cleanup` after it closes (a backend tearing down what it started). */
export class OwningBus extends DelegatingBus {
  constructor(
    inner: CanBus,
    private readonly cleanup: () => Promise<void>,
  ) {
    super(inner);
  }

  override async close(): Promise<void> {
    if (this.inner.closed) return;
    await this.inner.close();
    await this.cleanup();
  }
}
