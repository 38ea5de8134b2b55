// The one flash executor: runs any FlashAdapter through its phases in order,
// emits progress, verifies every written block, and starts the new
// application only after verification passed. On any failure the device is
// left in its bootloader (finish is never called) and the error says so.

import { realClock, type Clock } from "../util/clock.js";
import { throwIfAborted } from "../util/errors.js";
import type { DeviceInfo, FlashAdapter, FlashContext } from "../flash-api/adapter.js";
import {
  DigestMismatchError,
  FlashError,
  VerifyMismatchError,
  type DeviceState,
} from "./errors.js";
import { planFlash, type FlashPlan, type PlanInput } from "./plan.js";
import type { FlashEvent, FlashEventListener, FlashPhase } from "../flash-api/progress.js";

export interface FlashOptions {
  signal?: AbortSignal;
  onEvent?: FlashEventListener;
  clock?: Clock;
  /** Pre-flight checks with the plan and the connected device; throw to refuse before writing. */
  checks?: Array<(plan: FlashPlan, device: DeviceInfo) => void | Promise<void>>;
  /** Stop after connect, plan and checks: nothing is written and the application is not started. */
  dryRun?: boolean;
  /**
   * Read the board's flash back first (read-back adapters): when every block
   * is already the image's, nothing is erased or written and the verified
   * firmware is started (result `unchanged`); otherwise the flash goes on.
   */
  compareFirst?: boolean;
}

export interface FlashResult {
  device: DeviceInfo;
  plan: FlashPlan;
  dryRun: boolean;
  /** A dry run that entered the bootloader sent the board back to its application. */
  returnedToApplication?: boolean;
  verified: boolean;
  /** compareFirst found the image already in flash: nothing was written. */
  unchanged?: boolean;
  /** compareFirst was asked but the bootloader cannot read back: flashed without comparing. */
  compareImpossible?: boolean;
  /** Wall time per phase, ms. */
  phaseMs: Partial<Record<FlashPhase, number>>;
  totalMs: number;
  /**
   * CPU (user + system) this process used during the flash, ms
   * (process.cpuUsage): the whole process's, so flashes run side by side
   * each count the others' share too.
   */
  cpuMs: number;
}

/** An image, or one placed once the device is known (a .bin goes to the bootloader's start address). */
export type FlashImage = PlanInput | ((device: DeviceInfo) => PlanInput);

/**
 * Flashes `image` through `adapter`. Throws FlashError (phase, device
 * state, cause) on failure; the adapter is always closed.
 */
export async function runFlash(
  adapter: FlashAdapter,
  image: FlashImage,
  options: FlashOptions = {},
): Promise<FlashResult> {
  const clock = options.clock ?? realClock;
  const emit = (e: FlashEvent): void => options.onEvent?.(e);
  const ctx: FlashContext = { signal: options.signal, clock, emit, dryRun: !!options.dryRun };
  const phaseMs: Partial<Record<FlashPhase, number>> = {};
  const t0 = clock.now();
  const cpu0 = process.cpuUsage();
  const cpuMs = (): number => {
    const d = process.cpuUsage(cpu0);
    return (d.user + d.system) / 1000;
  };
  let state: DeviceState = "untouched";

  const phase = async <T>(
    name: FlashPhase,
    totalBytes: number | undefined,
    body: () => Promise<T>,
  ): Promise<T> => {
    const start = clock.now();
    emit({ type: "phase-start", phase: name, ...(totalBytes !== undefined ? { totalBytes } : {}) });
    try {
      throwIfAborted(options.signal, name);
      const r = await body();
      phaseMs[name] = clock.now() - start;
      emit({ type: "phase-end", phase: name, ms: phaseMs[name] });
      return r;
    } catch (e) {
      const error = e instanceof Error ? e : new Error(String(e));
      emit({ type: "phase-failed", phase: name, error });
      throw new FlashError({
        phase: name,
        deviceState: name === "finish" ? "unknown" : state,
        protocol: adapter.protocol,
        cause: error,
        bootloaderStartsApplication: adapter.capabilities.abandoned === "starts-application",
      });
    }
  };

  const verify = adapter.capabilities.verify;
  if (
    (verify === "readback" && !adapter.readBlock) ||
    (verify === "digest" && !adapter.verifyDigest)
  )
    throw new TypeError(
      `adapter ${adapter.protocol} claims ${verify} verification but cannot do it: refusing to flash unverified`,
    );
  try {
    if (adapter.enter) {
      await phase("enter", undefined, () => adapter.enter!(ctx));
    }
    const { device, plan } = await phase("connect", undefined, async () => {
      const d = await adapter.connect(ctx);
      emit({
        type: "info",
        message: d.description,
        data: { mcu: d.mcu, bootloaderVersion: d.bootloaderVersion },
      });
      const p = planFlash(placeImage(image, d), d.geometry);
      for (const check of options.checks ?? []) await check(p, d);
      await adapter.check?.(ctx, p, d);
      return { device: d, plan: p };
    });
    const total = plan.blocks.length * plan.geometry.blockSize;
    if (options.dryRun) {
      const returned = await abandon(adapter, ctx);
      return {
        device,
        plan,
        dryRun: true,
        verified: false,
        ...(returned ? { returnedToApplication: true } : {}),
        phaseMs,
        totalMs: clock.now() - t0,
        cpuMs: cpuMs(),
      };
    }
    let compareImpossible = false;
    if (options.compareFirst && verify !== "readback") compareImpossible = true;
    else if (options.compareFirst) {
      const same = await phase("compare", total, async () => {
        let done = 0;
        for (const block of plan.blocks) {
          throwIfAborted(options.signal, "compare");
          const got = await adapter.readBlock!(ctx, block);
          if (firstDifference(block.data, got) >= 0) return false;
          done += block.data.length;
          emit({ type: "progress", phase: "compare", bytes: done, totalBytes: total });
        }
        return true;
      });
      emit({
        type: "info",
        message: same
          ? "the board's flash already holds this image (read back, every block identical): nothing written"
          : "the board's flash differs from the image: flashing",
        data: { unchanged: same },
      });
      if (same) {
        // Read back identical is as verified as a flash: start it as a flash would end.
        await phase("finish", undefined, () => adapter.finish(ctx));
        return {
          device,
          plan,
          dryRun: false,
          verified: true,
          unchanged: true,
          phaseMs,
          totalMs: clock.now() - t0,
          cpuMs: cpuMs(),
        };
      }
    }
    state = "in-bootloader"; // from here on the flash changes; the board must not boot it unverified
    if (adapter.erase) await phase("erase", undefined, () => adapter.erase!(ctx, plan));
    await phase("write", total, async () => {
      let done = 0;
      for (const block of plan.blocks) {
        throwIfAborted(options.signal, "write");
        await adapter.writeBlock(ctx, block);
        done += block.data.length;
        emit({ type: "progress", phase: "write", bytes: done, totalBytes: total });
      }
      await adapter.endWrite?.(ctx);
    });
    let verified = false;
    if (verify === "readback") {
      await phase("verify", total, async () => {
        let done = 0;
        for (const block of plan.blocks) {
          throwIfAborted(options.signal, "verify");
          const got = await adapter.readBlock!(ctx, block);
          const diff = firstDifference(block.data, got);
          if (diff >= 0)
            throw new VerifyMismatchError(
              block.address + diff,
              block.data[diff] ?? -1,
              got[diff] ?? -1,
            );
          done += block.data.length;
          emit({ type: "progress", phase: "verify", bytes: done, totalBytes: total });
        }
      });
      verified = true;
    } else if (verify === "digest") {
      await phase("verify", total, async () => {
        if (!(await adapter.verifyDigest!(ctx, plan))) throw new DigestMismatchError();
      });
      verified = true;
    }
    await phase("finish", undefined, () => adapter.finish(ctx));
    return {
      device,
      plan,
      dryRun: false,
      verified,
      ...(compareImpossible ? { compareImpossible } : {}),
      phaseMs,
      totalMs: clock.now() - t0,
      cpuMs: cpuMs(),
    };
  } catch (e) {
    // Refused or failed with nothing written: back to where the board was found.
    if (e instanceof FlashError && e.deviceState === "untouched" && !options.signal?.aborted)
      e.returnedToApplication = await abandon(adapter, ctx);
    throw e;
  } finally {
    try {
      await adapter.close();
    } catch {
      // closing a failed link must not hide how the flash ended
    }
  }
}

/** Asks the adapter to put the board back; a failure to do so leaves it where it is (false). */
async function abandon(adapter: FlashAdapter, ctx: FlashContext): Promise<boolean> {
  if (!adapter.abandon) return false;
  try {
    const back = await adapter.abandon(ctx);
    if (back)
      ctx.emit({
        type: "info",
        message: "nothing was written: the board was sent back to its application",
        data: { returnedToApplication: true },
      });
    return back;
  } catch {
    return false;
  }
}

function placeImage(image: FlashImage, device: DeviceInfo): PlanInput {
  return "segments" in image ? image : image(device);
}

/** First index where `actual` differs from `expected` (a short or long read-back differs at its end). */
function firstDifference(expected: Uint8Array, actual: Uint8Array): number {
  const n = Math.max(expected.length, actual.length);
  for (let i = 0; i < n; i++) if (expected[i] !== actual[i]) return i;
  return -1;
}
