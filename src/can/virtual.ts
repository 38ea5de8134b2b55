// In-process CAN: a VirtualCanChannel is the wire, each VirtualCanBus an
// endpoint on it. Every endpoint sees the others' frames (its own only when
// asked). With a bitrate the channel models bus time: one frame on the wire
// at a time, each for its exact bit length, the lowest id winning
// arbitration among the frames waiting at the endpoints' transmit queues.
// Optional seeded faults act on frames as they leave the wire.

import { preciseClock, realClock, type Clock } from "../util/clock.js";
import { AbortedError } from "../util/errors.js";
import { arbitrationKey, frameWireBits } from "./bittime.js";
import { BaseBus, type SendOptions } from "./bus.js";
import { CanBusClosedError } from "./errors.js";
import { FaultInjector, type FaultCounters, type FaultOptions } from "./faults.js";
import { matchesAny, type CanFilter } from "./filter.js";
import type { CanFrame } from "./frame.js";
import { onAbort as subscribeAbort } from "../util/abort.js";

export interface VirtualChannelOptions {
  /** Bit rate in bit/s. When set, frames take their wire time and compete in arbitration. */
  bitrate?: number;
  /**
   * Model bus time (default: when a bitrate is set). False keeps the bitrate
   * as the channel's nominal rate (what a bus reports) but delivers frames at
   * once: the demo bus, which needs no sub-millisecond timers to look right.
   */
  busTime?: boolean;
  faults?: FaultOptions;
  clock?: Clock;
  /** Frames each endpoint may queue before send() waits. Default 128 (Klipper's recommended txqueuelen). */
  txQueueLength?: number;
}

export interface VirtualEndpointOptions {
  /** Also receive the frames this endpoint sends. Default false. */
  receiveOwn?: boolean;
  filters?: readonly CanFilter[];
  /** Name for traces ("host", "node 8266c4636429"). */
  label?: string;
  /** The backend name this endpoint reports in `info` (default "virtual"; the demo bus says "sim"). */
  backend?: string;
  /** This endpoint's transmit queue (e.g. 3 for a controller's mailboxes). Default: the channel's. */
  txQueueLength?: number;
  /**
   * One-way latency between this endpoint and the wire, ms (a USB-CAN
   * adapter's: frames reach the wire, and received frames reach the host,
   * this much later). Default 0.
   */
  latencyMs?: number;
}

export interface ChannelStats {
  /** Frames that completed transmission. */
  frames: number;
  /** Their wire bits, stuffing and intermission included. */
  bits: number;
  /** Time the wire was occupied, in ms (bit-time model only). */
  busyMs: number;
  faults: FaultCounters;
}

/** A held-back frame is released after this long if no frame follows it. */
const REORDER_HOLD_MS = 2;
const DEFAULT_TX_QUEUE = 128;

interface TxEntry {
  frame: CanFrame;
  seq: number;
  /** Clock time the frame entered the transmit queue. */
  queuedAt: number;
}

export class VirtualCanChannel {
  private static readonly registry = new Map<string, VirtualCanChannel>();

  readonly clock: Clock;
  readonly bitrate: number | undefined;
  /** Frames take their wire time (the bus-time model runs). */
  readonly timed: boolean;
  readonly txQueueLength: number;
  readonly stats: ChannelStats;
  private readonly endpoints = new Set<VirtualCanBus>();
  private readonly faults: FaultInjector | undefined;
  private seq = 0;
  private inFlight = false;
  private drainScheduled = false;
  private wireFreeAt = 0;
  private held: { frame: CanFrame; from: VirtualCanBus; cancel: () => void } | undefined;

  private constructor(
    readonly name: string,
    options: VirtualChannelOptions,
    /** Removed from the registry when its last endpoint closes. */
    private readonly transient: boolean,
  ) {
    this.timed = options.bitrate !== undefined && options.busTime !== false;
    // The bus-time model needs sub-millisecond deadlines; an untimed channel does not.
    this.clock = options.clock ?? (this.timed ? preciseClock : realClock);
    this.bitrate = options.bitrate;
    this.txQueueLength = options.txQueueLength ?? DEFAULT_TX_QUEUE;
    this.faults = options.faults ? new FaultInjector(options.faults) : undefined;
    this.stats = {
      frames: 0,
      bits: 0,
      busyMs: 0,
      faults: this.faults?.counters ?? { dropped: 0, duplicated: 0, reordered: 0, delayed: 0 },
    };
    if (this.bitrate !== undefined && !(this.bitrate > 0))
      throw new RangeError(`bitrate ${this.bitrate} must be > 0`);
  }

  /**
   * Creates a named channel with options; endpoints opened by that name
   * ("virtual:<name>") join it. It lives until `remove()`.
   */
  static create(name: string, options: VirtualChannelOptions = {}): VirtualCanChannel {
    if (VirtualCanChannel.registry.has(name))
      throw new Error(`virtual CAN channel "${name}" already exists`);
    const ch = new VirtualCanChannel(name, options, false);
    VirtualCanChannel.registry.set(name, ch);
    return ch;
  }

  /** A private channel not reachable by name (for tests and simulations). */
  static anonymous(
    options: VirtualChannelOptions & {
      /** What its endpoints call their channel in messages (default "virtual"). */
      label?: string;
    } = {},
  ): VirtualCanChannel {
    const ch = new VirtualCanChannel("anonymous", options, false);
    ch.label = options.label;
    return ch;
  }

  /** Anonymous channels: the name endpoints report. */
  label: string | undefined;

  static get(name: string): VirtualCanChannel | undefined {
    return VirtualCanChannel.registry.get(name);
  }

  /** Joins channel `name`, creating a default channel (no bit-time model) if none exists. */
  static join(name: string, options: VirtualEndpointOptions = {}): VirtualCanBus {
    let ch = VirtualCanChannel.registry.get(name);
    if (!ch) {
      ch = new VirtualCanChannel(name, {}, true);
      VirtualCanChannel.registry.set(name, ch);
    }
    return ch.open(options);
  }

  /** Removes the channel from the registry (open endpoints keep working). */
  remove(): void {
    if (VirtualCanChannel.registry.get(this.name) === this)
      VirtualCanChannel.registry.delete(this.name);
  }

  /** A new endpoint on this channel. */
  open(options: VirtualEndpointOptions = {}): VirtualCanBus {
    const ep = new VirtualCanBus(this, options);
    this.endpoints.add(ep);
    return ep;
  }

  get endpointCount(): number {
    return this.endpoints.size;
  }

  /** Delivers a controller error frame to every endpoint (to model bus-state changes). */
  injectErrorFrame(frame: CanFrame): void {
    for (const ep of this.endpoints) ep.deliver(frame);
  }

  /** @internal called by an endpoint's send. */
  enqueue(ep: VirtualCanBus, frame: CanFrame): void {
    ep.tx.push({ frame, seq: this.seq++, queuedAt: this.clock.now() });
    if (!this.timed) {
      if (!this.drainScheduled) {
        this.drainScheduled = true;
        this.clock.schedule(0, () => this.drainUntimed());
      }
    } else {
      this.startNext();
    }
  }

  /** @internal */
  detach(ep: VirtualCanBus): void {
    this.endpoints.delete(ep);
    if (this.transient && this.endpoints.size === 0) this.remove();
  }

  private drainUntimed(): void {
    this.drainScheduled = false;
    for (;;) {
      let best: VirtualCanBus | undefined;
      for (const ep of this.endpoints) {
        const head = ep.tx[0];
        if (head && (!best || head.seq < best.tx[0]!.seq)) best = ep;
      }
      if (!best) return;
      const { frame } = best.tx.shift()!;
      this.stats.frames++;
      this.stats.bits += frameWireBits(frame);
      best.transmitted();
      this.leaveWire(frame, best);
    }
  }

  /**
   * Puts the next frame on the wire. The wire could start at T = the later of
   * the moment it freed and the earliest queued head; the frames waiting at T
   * arbitrate (lowest id wins) and the winner starts exactly at T — even when
   * this callback runs late on the real clock — so back-to-back frames cost
   * their modelled time and lateness never accumulates.
   */
  private startNext(): void {
    if (this.inFlight) return;
    let earliest = Infinity;
    for (const ep of this.endpoints) {
      const head = ep.tx[0];
      if (head && head.queuedAt < earliest) earliest = head.queuedAt;
    }
    if (earliest === Infinity) return;
    const t = Math.max(this.wireFreeAt, earliest);
    let best: VirtualCanBus | undefined;
    let bestKey = Infinity;
    let bestSeq = Infinity;
    for (const ep of this.endpoints) {
      const head = ep.tx[0];
      if (!head || head.queuedAt > t) continue;
      const key = arbitrationKey(head.frame);
      if (key < bestKey || (key === bestKey && head.seq < bestSeq)) {
        best = ep;
        bestKey = key;
        bestSeq = head.seq;
      }
    }
    const sender = best!;
    const { frame } = sender.tx.shift()!;
    sender.onWire++; // still holds its transmit slot (a mailbox) until the frame ends
    const bits = frameWireBits(frame);
    const duration = (bits * 1000) / this.bitrate!;
    const end = t + duration;
    this.wireFreeAt = end;
    this.inFlight = true;
    this.clock.schedule(end - this.clock.now(), () => {
      this.inFlight = false;
      this.stats.frames++;
      this.stats.bits += bits;
      this.stats.busyMs += duration;
      sender.onWire--;
      sender.transmitted();
      this.leaveWire(frame, sender);
      this.startNext();
    });
  }

  /** A frame finished transmission: apply faults, then deliver. */
  private leaveWire(frame: CanFrame, from: VirtualCanBus): void {
    const decision = this.faults?.decide(frame) ?? { kind: "deliver" };
    switch (decision.kind) {
      case "deliver":
        this.deliver(frame, from);
        this.releaseHeld();
        break;
      case "drop":
        break;
      case "duplicate":
        this.deliver(frame, from);
        this.deliver(frame, from);
        this.releaseHeld();
        break;
      case "reorder":
        this.releaseHeld();
        this.held = {
          frame,
          from,
          cancel: this.clock.schedule(REORDER_HOLD_MS, () => this.releaseHeld()),
        };
        break;
      case "delay":
        this.clock.schedule(decision.ms, () => this.deliver(frame, from));
        break;
    }
  }

  private releaseHeld(): void {
    const h = this.held;
    if (!h) return;
    this.held = undefined;
    h.cancel();
    this.deliver(h.frame, h.from);
  }

  private deliver(frame: CanFrame, from: VirtualCanBus): void {
    for (const ep of this.endpoints) {
      if (ep === from && !ep.receiveOwn) continue;
      if (!matchesAny(frame, ep.endpointFilters)) continue;
      ep.deliver(frame);
    }
  }
}

/** One endpoint on a VirtualCanChannel. */
export class VirtualCanBus extends BaseBus {
  readonly receiveOwn: boolean;
  readonly label: string;
  readonly txQueueLength: number;
  readonly latencyMs: number;
  /** Frames sent but still on their way to the wire (adapter latency). */
  private inTransit = 0;
  /** @internal the frame the channel is transmitting for this endpoint (bit-time model). */
  onWire = 0;
  private readonly txListeners = new Set<() => void>();
  /** @internal transmit queue, owned by the channel. */
  readonly tx: TxEntry[] = [];
  private filters: readonly CanFilter[];
  private spaceWaiters: Array<() => void> = [];
  private drainWaiters: Array<() => void> = [];

  /** @internal use VirtualCanChannel.open / join. */
  constructor(
    readonly medium: VirtualCanChannel,
    options: VirtualEndpointOptions,
  ) {
    super(
      medium.name === "anonymous" ? (medium.label ?? "virtual") : `virtual:${medium.name}`,
      medium.clock,
      { backend: options.backend ?? "virtual", simulated: true, bitrate: medium.bitrate },
    );
    this.receiveOwn = options.receiveOwn ?? false;
    this.filters = options.filters ?? [];
    this.label = options.label ?? "endpoint";
    this.txQueueLength = options.txQueueLength ?? medium.txQueueLength;
    this.latencyMs = options.latencyMs ?? 0;
    this.busState = "error-active";
  }

  get endpointFilters(): readonly CanFilter[] {
    return this.filters;
  }

  setFilters(filters: readonly CanFilter[]): void {
    this.filters = [...filters];
  }

  /** @internal a frame arrived from the wire. */
  deliver(frame: CanFrame): void {
    if (this.closed) return;
    if (this.latencyMs > 0)
      this.medium.clock.schedule(this.latencyMs, () => !this.closed && this.dispatch(frame));
    else this.dispatch(frame);
  }

  /**
   * Frames send() accepted that have not finished transmission yet: queued,
   * on their way to the wire (latency), or on the wire. A device model uses
   * it to hold exactly as many frames as its controller has mailboxes.
   */
  get unsent(): number {
    return this.tx.length + this.inTransit + this.onWire;
  }

  /** Calls `fn` each time a frame of this endpoint finished transmission. Returns the unsubscribe. */
  onTransmitted(fn: () => void): () => void {
    this.txListeners.add(fn);
    return () => this.txListeners.delete(fn);
  }

  /** @internal the channel took the head of the transmit queue onto the wire. */
  transmitted(): void {
    for (const l of [...this.txListeners]) l();
    this.spaceWaiters.shift()?.();
    if (this.tx.length === 0 && this.inTransit === 0)
      for (const w of this.drainWaiters.splice(0)) w();
  }

  protected async transmit(frame: CanFrame, options: SendOptions): Promise<void> {
    while (this.tx.length + this.inTransit >= this.txQueueLength) {
      await this.waitForSpace(options.signal);
      if (this.closed) throw new CanBusClosedError(this.channel);
    }
    if (this.latencyMs > 0) {
      this.inTransit++;
      this.medium.clock.schedule(this.latencyMs, () => {
        this.inTransit--;
        this.medium.enqueue(this, frame);
      });
    } else this.medium.enqueue(this, frame);
  }

  protected async release(): Promise<void> {
    for (const w of this.spaceWaiters.splice(0)) w();
    if (this.tx.length > 0 || this.inTransit > 0)
      await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
    this.medium.detach(this);
  }

  private waitForSpace(signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      let unsubscribeAbort = (): void => undefined;
      if (signal?.aborted) {
        reject(new AbortedError("CAN send", signal.reason));
        return;
      }
      const onAbort = (): void => {
        const i = this.spaceWaiters.indexOf(wake);
        if (i >= 0) this.spaceWaiters.splice(i, 1);
        reject(new AbortedError("CAN send", signal?.reason));
      };
      const wake = (): void => {
        unsubscribeAbort();
        resolve();
      };
      unsubscribeAbort = subscribeAbort(signal, onAbort);
      this.spaceWaiters.push(wake);
    });
  }
}
