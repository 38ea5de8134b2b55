// Seeded, reproducible faults for the virtual bus: each frame that finishes
// transmission may be dropped, duplicated, held back behind the next frame
// (reorder) or delivered late. One random draw decides the fate of a frame
// (a second one the length of a delay), so the same seed and the same frame
// sequence give the same faults.

import { seededRandom, type Random } from "../util/random.js";
import type { CanFilter } from "./filter.js";
import { matchesAny } from "./filter.js";
import type { CanFrame } from "./frame.js";

export interface FaultOptions {
  /** Seed of the random faults (default 0). */
  seed?: number;
  /** Probability that a frame reaches no receiver. */
  drop?: number;
  /** Probability that a frame is delivered twice. */
  duplicate?: number;
  /** Probability that a frame is delivered after the frame that follows it. */
  reorder?: number;
  /** Probability that a frame is delivered late. */
  delay?: number;
  /** Longest delay in ms (uniform in (0, delayMs]). Default 5. */
  delayMs?: number;
  /** Only frames matching these filters are faulted. Default: all. */
  appliesTo?: readonly CanFilter[];
  /**
   * Scripted faults, decided before the random ones: return a fault for the
   * n-th frame leaving the wire (0-based), or undefined for none.
   */
  script?: (frame: CanFrame, index: number) => FaultDecision | undefined;
}

export type FaultKind = "drop" | "duplicate" | "reorder" | "delay";

export interface FaultCounters {
  dropped: number;
  duplicated: number;
  reordered: number;
  delayed: number;
}

/** What happens to one transmitted frame. */
export type FaultDecision =
  | { kind: "deliver" }
  | { kind: "drop" }
  | { kind: "duplicate" }
  | { kind: "reorder" }
  | { kind: "delay"; ms: number };

export class FaultInjector {
  private readonly random: Random;
  readonly counters: FaultCounters = { dropped: 0, duplicated: 0, reordered: 0, delayed: 0 };

  private index = 0;

  constructor(private readonly options: FaultOptions) {
    this.random = seededRandom(options.seed ?? 0);
    const total =
      (options.drop ?? 0) +
      (options.duplicate ?? 0) +
      (options.reorder ?? 0) +
      (options.delay ?? 0);
    if (total > 1) throw new RangeError(`fault probabilities add up to ${total}, more than 1`);
  }

  decide(frame: CanFrame): FaultDecision {
    const o = this.options;
    const scripted = o.script?.(frame, this.index++);
    if (scripted) {
      if (scripted.kind !== "deliver") this.count(scripted.kind);
      return scripted;
    }
    if (o.appliesTo && !matchesAny(frame, o.appliesTo)) return { kind: "deliver" };
    let r = this.random();
    if ((r -= o.drop ?? 0) < 0) {
      this.counters.dropped++;
      return { kind: "drop" };
    }
    if ((r -= o.duplicate ?? 0) < 0) {
      this.counters.duplicated++;
      return { kind: "duplicate" };
    }
    if ((r -= o.reorder ?? 0) < 0) {
      this.counters.reordered++;
      return { kind: "reorder" };
    }
    if ((r -= o.delay ?? 0) < 0) {
      this.counters.delayed++;
      const max = o.delayMs ?? 5;
      return { kind: "delay", ms: Math.max(0.001, this.random() * max) };
    }
    return { kind: "deliver" };
  }

  private count(kind: FaultKind): void {
    if (kind === "drop") this.counters.dropped++;
    else if (kind === "duplicate") this.counters.duplicated++;
    else if (kind === "reorder") this.counters.reordered++;
    else this.counters.delayed++;
  }
}
