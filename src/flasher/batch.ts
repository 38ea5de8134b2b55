// Flashing many boards: jobs grouped by bus run in parallel across groups;
// inside a group up to `jobs` at a time (all by default, so one board's
// erase leaves the bus to the others), with jobs marked `last` (a USB-to-CAN
// bridge, which takes its bus down) after the rest of their group. After a
// failure no new job starts unless keepGoing; a running flash is never cut.

import { CanflashError } from "../util/errors.js";
import type { FlashResult } from "./execute.js";
import type { FlashEvent } from "../flash-api/progress.js";

declare module "../util/errors.js" {
  interface ErrorCodes {
    SKIPPED: true;
  }
}

export interface BatchJob {
  /** Label for output: a printer.cfg section, a UUID, a tty. */
  id: string;
  /** Jobs sharing a bus: "can0", "/dev/ttyACM0". */
  group: string;
  /** Run after every other job of the group (the bridge board). */
  last?: boolean;
  run(onEvent: (e: FlashEvent) => void, signal: AbortSignal | undefined): Promise<FlashResult>;
}

export interface BatchOptions {
  /** Concurrent flashes per group (default: no limit). */
  jobs?: number;
  keepGoing?: boolean;
  signal?: AbortSignal;
  /** After it fires no new job starts; running ones finish (a cancel between boards). */
  stopStarting?: AbortSignal;
  onEvent?: (jobId: string, e: FlashEvent) => void;
  now?: () => number;
}

export interface BatchOutcome {
  id: string;
  group: string;
  status: "ok" | "failed" | "skipped";
  result?: FlashResult;
  error?: Error;
  ms: number;
}

/** A board that was not started: an earlier one failed (and no keepGoing), or the run was interrupted. */
export class BatchSkippedError extends CanflashError {
  constructor(readonly reason: "earlier-failure" | "interrupted" | "cancelled") {
    super(
      "SKIPPED",
      reason === "interrupted"
        ? "not started: interrupted"
        : reason === "cancelled"
          ? "not started: cancelled"
          : "not started: an earlier board failed",
    );
  }
}

export async function runBatch(
  jobs: readonly BatchJob[],
  options: BatchOptions = {},
): Promise<BatchOutcome[]> {
  const now = options.now ?? (() => performance.now());
  const outcomes = new Map<BatchJob, BatchOutcome>();
  let stop = false;
  const runOne = async (job: BatchJob): Promise<void> => {
    if (stop || options.signal?.aborted || options.stopStarting?.aborted) {
      outcomes.set(job, {
        id: job.id,
        group: job.group,
        status: "skipped",
        error: new BatchSkippedError(
          options.signal?.aborted
            ? "interrupted"
            : options.stopStarting?.aborted
              ? "cancelled"
              : "earlier-failure",
        ),
        ms: 0,
      });
      return;
    }
    const t0 = now();
    try {
      const result = await job.run((e) => options.onEvent?.(job.id, e), options.signal);
      outcomes.set(job, { id: job.id, group: job.group, status: "ok", result, ms: now() - t0 });
    } catch (e) {
      if (!options.keepGoing) stop = true;
      outcomes.set(job, {
        id: job.id,
        group: job.group,
        status: "failed",
        error: e as Error,
        ms: now() - t0,
      });
    }
  };
  const runGroup = async (group: BatchJob[]): Promise<void> => {
    const limit = Math.max(1, options.jobs ?? group.length);
    const queue = [...group.filter((j) => !j.last)];
    const workers = Array.from({ length: Math.min(limit, queue.length) }, async () => {
      for (let job = queue.shift(); job; job = queue.shift()) await runOne(job);
    });
    await Promise.all(workers);
    for (const job of group.filter((j) => j.last)) await runOne(job);
  };
  const groups = new Map<string, BatchJob[]>();
  for (const j of jobs) groups.set(j.group, [...(groups.get(j.group) ?? []), j]);
  await Promise.all([...groups.values()].map(runGroup));
  return jobs.map((j) => outcomes.get(j)!);
}
