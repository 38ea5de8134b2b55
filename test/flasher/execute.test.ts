// The one executor against an in-test fake adapter that logs every call and
// keeps a memory: phase and event order, verification policy, what a failure
// leaves the device in, dry runs, aborts and close.
import { flashFailure } from "../fakes/flash-failure.js";
import { describe, expect, it } from "vitest";
import type { DeviceInfo, FlashAdapter, FlashContext } from "../../src/flash-api/adapter.js";
import type { FlashGeometry, FlashPlan, PlanInput } from "../../src/flash-api/geometry.js";
import type { FlashEvent, FlashPhase } from "../../src/flash-api/progress.js";
import { DigestMismatchError, FlashError, VerifyMismatchError } from "../../src/flasher/errors.js";
import { runFlash, type FlashImage, type FlashOptions } from "../../src/flasher/execute.js";
import { ImageDoesNotFitError } from "../../src/flasher/plan.js";
import { VirtualClock } from "../../src/util/clock.js";
import { AbortedError, CanflashError, OperationTimeoutError } from "../../src/util/errors.js";

type Method =
  | "enter"
  | "connect"
  | "check"
  | "erase"
  | "writeBlock"
  | "endWrite"
  | "readBlock"
  | "verifyDigest"
  | "finish"
  | "close";

const START = 0x1000;
const BS = 16;
const GEOMETRY: FlashGeometry = { start: START, blockSize: BS, padByte: 0xff, addressUnit: "byte" };

interface FakeOptions {
  verify?: "readback" | "digest" | "none";
  /** Which optional methods the adapter has (default: all). */
  enter?: boolean;
  erase?: boolean;
  check?: boolean;
  endWrite?: boolean;
  readBlock?: boolean;
  verifyDigest?: boolean;
  geometry?: FlashGeometry;
  description?: string;
  /** Read back this address with its bits flipped. */
  corrupt?: number;
  digestOk?: boolean;
  /** Throw in this method (close rejects too). */
  failIn?: Method;
  /** Hang in this method (on its first call) until the context's signal aborts. */
  hangIn?: Method;
  /** Called after each writeBlock, with the 0-based block index. */
  afterWrite?: (index: number) => void;
  /** Called after each readBlock, with the 0-based block index. */
  afterRead?: (index: number) => void;
}

interface Fake {
  adapter: FlashAdapter;
  log: string[];
  memory: Map<number, number>;
  contexts: FlashContext[];
  checkArgs: { plan: FlashPlan; device: DeviceInfo }[];
  digestPlans: FlashPlan[];
  /** Resolves when a hanging method has started to hang. */
  hanging: Promise<void>;
  calls(method: Method): number;
}

const hex = (a: number) => `0x${a.toString(16)}`;

function fakeAdapter(o: FakeOptions = {}): Fake {
  const log: string[] = [];
  const memory = new Map<number, number>();
  const contexts: FlashContext[] = [];
  const checkArgs: Fake["checkArgs"] = [];
  const digestPlans: FlashPlan[] = [];
  let startedHanging!: () => void;
  const hanging = new Promise<void>((r) => (startedHanging = r));
  const geometry = o.geometry ?? GEOMETRY;
  let written = 0;
  let read = 0;

  const step = async (method: Method, entry: string, ctx?: FlashContext): Promise<void> => {
    log.push(entry);
    if (ctx) contexts.push(ctx);
    if (o.failIn === method) throw new OperationTimeoutError(`fake ${method}`, 100);
    if (o.hangIn === method) {
      startedHanging();
      await new Promise<never>((_, reject) => {
        const signal = ctx?.signal;
        if (!signal) return; // hangs forever: tests always pass a signal
        const onAbort = () => reject(new AbortedError(`fake ${method}`, signal.reason));
        if (signal.aborted) onAbort();
        else signal.addEventListener("abort", onAbort, { once: true });
      });
    }
  };

  const adapter: FlashAdapter = {
    protocol: "fake",
    capabilities: { verify: o.verify ?? "readback", erase: o.erase === false ? "none" : "chip" },
    async connect(ctx) {
      await step("connect", "connect", ctx);
      return {
        geometry,
        description: o.description ?? "Fake bootloader 1.0 on fake-mcu",
        mcu: "fake-mcu",
        bootloaderVersion: "1.0",
      };
    },
    async writeBlock(ctx, block) {
      await step("writeBlock", `writeBlock ${hex(block.address)}`, ctx);
      block.data.forEach((v, i) => memory.set(block.address + i, v));
      o.afterWrite?.(written++);
    },
    async finish(ctx) {
      await step("finish", "finish", ctx);
    },
    async close() {
      await step("close", "close");
    },
    ...(o.enter !== false
      ? {
          async enter(ctx: FlashContext) {
            await step("enter", "enter", ctx);
          },
        }
      : {}),
    ...(o.check !== false
      ? {
          async check(ctx: FlashContext, plan: FlashPlan, device: DeviceInfo) {
            checkArgs.push({ plan, device });
            await step("check", "check", ctx);
          },
        }
      : {}),
    ...(o.erase !== false
      ? {
          async erase(ctx: FlashContext) {
            await step("erase", "erase", ctx);
          },
        }
      : {}),
    ...(o.endWrite !== false
      ? {
          async endWrite(ctx: FlashContext) {
            await step("endWrite", "endWrite", ctx);
          },
        }
      : {}),
    ...(o.readBlock !== false
      ? {
          async readBlock(ctx: FlashContext, block: { address: number; data: Uint8Array }) {
            await step("readBlock", `readBlock ${hex(block.address)}`, ctx);
            const got = Uint8Array.from(block.data, (_, i) => {
              const a = block.address + i;
              const v = memory.get(a) ?? 0xff;
              return a === o.corrupt ? v ^ 0xff : v;
            });
            o.afterRead?.(read++);
            return got;
          },
        }
      : {}),
    ...(o.verifyDigest !== false
      ? {
          async verifyDigest(ctx: FlashContext, plan: FlashPlan) {
            digestPlans.push(plan);
            await step("verifyDigest", "verifyDigest", ctx);
            return o.digestOk ?? true;
          },
        }
      : {}),
  };

  return {
    adapter,
    log,
    memory,
    contexts,
    checkArgs,
    digestPlans,
    hanging,
    calls: (m) => log.filter((l) => l === m || l.startsWith(`${m} `)).length,
  };
}

/** 40 bytes at START: three 16-byte blocks, the last one half padding. */
const DATA = Uint8Array.from({ length: 40 }, (_, i) => (i * 7 + 3) & 0xff);
const IMAGE: PlanInput = { segments: [{ address: START, data: DATA }] };
const TOTAL = 48;

function flash(fake: Fake, options: FlashOptions = {}, image: FlashImage = IMAGE) {
  const events: FlashEvent[] = [];
  const run = runFlash(fake.adapter, image, {
    clock: new VirtualClock(),
    onEvent: (e) => events.push(e),
    ...options,
  });
  return { run, events };
}

/** The code an abort surfaced as, whether wrapped in FlashError or not. */
function abortCode(e: unknown): string | undefined {
  if (e instanceof FlashError) return e.causeCode;
  return e instanceof CanflashError ? e.code : undefined;
}

const phasesOf = (events: FlashEvent[]) =>
  events.filter((e) => e.type === "phase-start").map((e) => e.phase);

const ms = expect.any(Number) as number;

describe("runFlash: a good flash", () => {
  it("runs enter, connect, erase, write, verify, finish with events in documented order", async () => {
    const fake = fakeAdapter();
    const { run, events } = flash(fake);
    const result = await run;

    expect(fake.log).toEqual([
      "enter",
      "connect",
      "check",
      "erase",
      "writeBlock 0x1000",
      "writeBlock 0x1010",
      "writeBlock 0x1020",
      "endWrite",
      "readBlock 0x1000",
      "readBlock 0x1010",
      "readBlock 0x1020",
      "finish",
      "close",
    ]);
    expect(events).toEqual([
      { type: "phase-start", phase: "enter" },
      { type: "phase-end", phase: "enter", ms },
      { type: "phase-start", phase: "connect" },
      {
        type: "info",
        message: "Fake bootloader 1.0 on fake-mcu",
        data: { mcu: "fake-mcu", bootloaderVersion: "1.0" },
      },
      { type: "phase-end", phase: "connect", ms },
      { type: "phase-start", phase: "erase" },
      { type: "phase-end", phase: "erase", ms },
      { type: "phase-start", phase: "write", totalBytes: TOTAL },
      { type: "progress", phase: "write", bytes: 16, totalBytes: TOTAL },
      { type: "progress", phase: "write", bytes: 32, totalBytes: TOTAL },
      { type: "progress", phase: "write", bytes: 48, totalBytes: TOTAL },
      { type: "phase-end", phase: "write", ms },
      { type: "phase-start", phase: "verify", totalBytes: TOTAL },
      { type: "progress", phase: "verify", bytes: 16, totalBytes: TOTAL },
      { type: "progress", phase: "verify", bytes: 32, totalBytes: TOTAL },
      { type: "progress", phase: "verify", bytes: 48, totalBytes: TOTAL },
      { type: "phase-end", phase: "verify", ms },
      { type: "phase-start", phase: "finish" },
      { type: "phase-end", phase: "finish", ms },
    ]);

    expect(result.dryRun).toBe(false);
    expect(result.verified).toBe(true);
    expect(result.device.description).toBe("Fake bootloader 1.0 on fake-mcu");
    expect(result.plan.blocks.map((b) => b.address)).toEqual([0x1000, 0x1010, 0x1020]);
    expect(Object.keys(result.phaseMs).sort()).toEqual(
      ["connect", "enter", "erase", "finish", "verify", "write"].sort(),
    );
    // The device holds the image, padded with the geometry's pad byte.
    const flashed = Array.from({ length: TOTAL }, (_, i) => fake.memory.get(START + i));
    expect(flashed).toEqual([...DATA, ...new Array<number>(8).fill(0xff)]);
    // Every call saw the same context, not a dry run.
    expect(new Set(fake.contexts).size).toBe(1);
    expect(fake.contexts[0]!.dryRun).toBe(false);
  });

  it("progress bytes rise monotonically to totalBytes in each phase", async () => {
    const fake = fakeAdapter();
    const { run, events } = flash(
      fake,
      {},
      { segments: [{ address: START, data: new Uint8Array(200) }] },
    );
    await run;
    for (const phase of ["write", "verify"] as FlashPhase[]) {
      const start = events.find((e) => e.type === "phase-start" && e.phase === phase);
      const progress = events.filter((e) => e.type === "progress" && e.phase === phase);
      expect(start).toMatchObject({ totalBytes: 208 });
      expect(progress).toHaveLength(13);
      let last = 0;
      for (const p of progress) {
        if (p.type !== "progress") throw new Error("unreachable");
        expect(p.bytes).toBeGreaterThan(last);
        expect(p.totalBytes).toBe(208);
        last = p.bytes;
      }
      expect(last).toBe(208);
    }
  });

  it("has no erase phase when the adapter has no erase, nor enter when it has no enter", async () => {
    const fake = fakeAdapter({ erase: false, enter: false });
    const { run, events } = flash(fake);
    await run;
    expect(phasesOf(events)).toEqual(["connect", "write", "verify", "finish"]);
    expect(fake.log).not.toContain("erase");
    expect(fake.log).not.toContain("enter");
  });

  it("runs without endWrite and without an event listener", async () => {
    const fake = fakeAdapter({ endWrite: false });
    const result = await runFlash(fake.adapter, IMAGE, { clock: new VirtualClock() });
    expect(result.verified).toBe(true);
    expect(fake.calls("finish")).toBe(1);
  });

  it("passes the plan and the device to options.checks and adapter.check", async () => {
    const fake = fakeAdapter();
    const seen: { plan: FlashPlan; device: DeviceInfo }[] = [];
    const { run } = flash(fake, {
      checks: [(plan, device) => void seen.push({ plan, device })],
    });
    const result = await run;
    expect(seen).toHaveLength(1);
    expect(seen[0]!.plan).toBe(result.plan);
    expect(seen[0]!.device).toBe(result.device);
    expect(fake.checkArgs).toEqual([{ plan: result.plan, device: result.device }]);
  });
});

describe("runFlash: verification", () => {
  it("a read-back mismatch fails verify with the first differing address; finish is never called", async () => {
    const fake = fakeAdapter({ corrupt: 0x1013 });
    const { run, events } = flash(fake);
    const e = await flashFailure(run);

    expect(e).toMatchObject({
      code: "FLASH_FAILED",
      phase: "verify",
      deviceState: "in-bootloader",
      protocol: "fake",
      causeCode: "VERIFY_MISMATCH",
    });
    expect(e.cause).toBeInstanceOf(VerifyMismatchError);
    expect(e.cause).toMatchObject({
      address: 0x1013,
      expected: DATA[0x13],
      actual: DATA[0x13]! ^ 0xff,
    });
    expect(e.message).toContain("verify failed");
    expect(fake.calls("finish")).toBe(0);
    expect(fake.calls("close")).toBe(1);
    // Verification stops at the bad block.
    expect(fake.log.filter((l) => l.startsWith("readBlock"))).toEqual([
      "readBlock 0x1000",
      "readBlock 0x1010",
    ]);
    expect(events.at(-1)).toEqual({ type: "phase-failed", phase: "verify", error: e.cause });
    expect(phasesOf(events)).not.toContain("finish");
  });

  it("read-back covers the padding of the last block", async () => {
    const fake = fakeAdapter({ corrupt: 0x102c });
    const { run } = flash(fake);
    const e = await flashFailure(run);
    expect(e.cause).toBeInstanceOf(VerifyMismatchError);
    expect(e.cause).toMatchObject({ address: 0x102c, expected: 0xff, actual: 0x00 });
    expect(fake.calls("finish")).toBe(0);
  });

  it("a digest mismatch fails verify with DigestMismatchError; finish is never called", async () => {
    const fake = fakeAdapter({ verify: "digest", digestOk: false });
    const { run, events } = flash(fake);
    const e = await flashFailure(run);
    expect(e).toMatchObject({
      phase: "verify",
      deviceState: "in-bootloader",
      causeCode: "VERIFY_MISMATCH",
    });
    expect(e.cause).toBeInstanceOf(DigestMismatchError);
    expect(fake.calls("verifyDigest")).toBe(1);
    expect(fake.calls("readBlock")).toBe(0);
    expect(fake.calls("finish")).toBe(0);
    expect(fake.calls("close")).toBe(1);
    expect(events.at(-1)).toMatchObject({ type: "phase-failed", phase: "verify" });
  });

  it("a matching digest verifies the whole plan and starts the application", async () => {
    const fake = fakeAdapter({ verify: "digest", digestOk: true });
    const { run, events } = flash(fake);
    const result = await run;
    expect(result.verified).toBe(true);
    expect(fake.digestPlans).toEqual([result.plan]);
    expect(fake.calls("readBlock")).toBe(0);
    expect(fake.log.slice(-3)).toEqual(["verifyDigest", "finish", "close"]);
    expect(phasesOf(events)).toEqual(["enter", "connect", "erase", "write", "verify", "finish"]);
  });

  it('verify "none": not verified, no verify phase, finish called', async () => {
    const fake = fakeAdapter({ verify: "none", corrupt: 0x1000 });
    const { run, events } = flash(fake);
    const result = await run;
    expect(result.verified).toBe(false);
    expect(fake.calls("readBlock")).toBe(0);
    expect(fake.calls("verifyDigest")).toBe(0);
    expect(fake.calls("finish")).toBe(1);
    expect(fake.calls("close")).toBe(1);
    expect(phasesOf(events)).toEqual(["enter", "connect", "erase", "write", "finish"]);
  });
});

describe("runFlash: failures", () => {
  it.each([
    { phase: "enter", state: "untouched", writes: 0 },
    { phase: "connect", state: "untouched", writes: 0 },
    { phase: "erase", state: "in-bootloader", writes: 0 },
    { phase: "write", state: "in-bootloader", writes: 1 },
    { phase: "verify", state: "in-bootloader", writes: 3 },
    { phase: "finish", state: "unknown", writes: 3 },
  ] as const)(
    "a failure in $phase -> FlashError($phase, $state), never a later phase",
    async ({ phase, state, writes }) => {
      const failIn: Method =
        phase === "write" ? "writeBlock" : phase === "verify" ? "readBlock" : phase;
      const fake = fakeAdapter({ failIn });
      const { run, events } = flash(fake);
      const e = await flashFailure(run);

      expect(e).toMatchObject({
        code: "FLASH_FAILED",
        phase,
        deviceState: state,
        protocol: "fake",
        causeCode: "TIMEOUT",
      });
      expect(e.cause).toBeInstanceOf(OperationTimeoutError);
      expect(e.message).toBe(`${phase} failed: ${e.cause.message}`);
      expect(fake.calls("writeBlock")).toBe(writes);
      expect(fake.calls("close")).toBe(1);
      expect(fake.log.at(-1)).toBe("close");
      if (phase !== "finish") expect(fake.calls("finish")).toBe(0);
      expect(events.at(-1)).toEqual({ type: "phase-failed", phase, error: e.cause });
      expect(events.filter((ev) => ev.type === "phase-end").map((ev) => ev.phase)).not.toContain(
        phase,
      );
      const order: FlashPhase[] = ["enter", "connect", "erase", "write", "verify", "finish"];
      expect(phasesOf(events)).toEqual(order.slice(0, order.indexOf(phase) + 1));
    },
  );

  it("a failing connect leaves the device untouched: nothing planned, erased or written", async () => {
    const fake = fakeAdapter({ failIn: "connect" });
    const { run, events } = flash(fake);
    const e = await flashFailure(run);
    expect(e).toMatchObject({ phase: "connect", deviceState: "untouched" });
    expect(fake.log).toEqual(["enter", "connect", "close"]);
    expect(events.some((ev) => ev.type === "info")).toBe(false);
  });

  it("a failing options.checks entry refuses before anything is written", async () => {
    const fake = fakeAdapter();
    const refusal = new Error("wrong MCU");
    const { run } = flash(fake, {
      checks: [
        () => undefined,
        async () => {
          throw refusal;
        },
      ],
    });
    const e = await flashFailure(run);
    expect(e).toMatchObject({ phase: "connect", deviceState: "untouched", causeCode: "UNKNOWN" });
    expect(e.cause).toBe(refusal);
    expect(fake.log).toEqual(["enter", "connect", "close"]);
  });

  it("a failing adapter.check refuses before anything is written", async () => {
    const fake = fakeAdapter({ failIn: "check" });
    const { run } = flash(fake);
    const e = await flashFailure(run);
    expect(e).toMatchObject({ phase: "connect", deviceState: "untouched", causeCode: "TIMEOUT" });
    expect(fake.log).toEqual(["enter", "connect", "check", "close"]);
  });

  it("an image that does not fit the device fails connect with the planner's error", async () => {
    const fake = fakeAdapter({ geometry: { ...GEOMETRY, end: 0x1020 } });
    const { run } = flash(fake);
    const e = await flashFailure(run);
    expect(e).toMatchObject({
      phase: "connect",
      deviceState: "untouched",
      causeCode: "IMAGE_DOES_NOT_FIT",
    });
    expect(e.cause).toBeInstanceOf(ImageDoesNotFitError);
    expect(fake.log).toEqual(["enter", "connect", "close"]);
  });

  it("a non-Error thrown by the adapter is wrapped", async () => {
    const fake = fakeAdapter();
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a misbehaving adapter is the point
    fake.adapter.writeBlock = () => Promise.reject("string failure");
    const { run } = flash(fake);
    const e = await flashFailure(run);
    expect(e.phase).toBe("write");
    expect(e.cause).toBeInstanceOf(Error);
    expect(e.cause.message).toBe("string failure");
    expect(fake.calls("finish")).toBe(0);
  });
});

describe("runFlash: dry run", () => {
  it("connects, plans and checks; no erase, write or finish", async () => {
    const fake = fakeAdapter();
    let checked = 0;
    const { run, events } = flash(fake, { dryRun: true, checks: [() => void checked++] });
    const result = await run;
    expect(result.dryRun).toBe(true);
    expect(result.verified).toBe(false);
    expect(result.plan.blocks.map((b) => b.address)).toEqual([0x1000, 0x1010, 0x1020]);
    expect(result.plan.imageBytes).toBe(40);
    expect(checked).toBe(1);
    expect(fake.log).toEqual(["enter", "connect", "check", "close"]);
    expect(fake.memory.size).toBe(0);
    expect(fake.contexts.every((c) => c.dryRun === true)).toBe(true);
    expect(phasesOf(events)).toEqual(["enter", "connect"]);
  });
});

describe("runFlash: abort", () => {
  it("an abort during write stops before the next block; no finish; close called", async () => {
    const ac = new AbortController();
    const fake = fakeAdapter({ afterWrite: (i) => i === 1 && ac.abort() });
    const { run, events } = flash(fake, { signal: ac.signal });
    const e = await flashFailure(run);
    expect(e).toMatchObject({ phase: "write", deviceState: "in-bootloader", causeCode: "ABORTED" });
    expect(e.cause).toBeInstanceOf(AbortedError);
    expect(fake.log.filter((l) => l.startsWith("writeBlock"))).toEqual([
      "writeBlock 0x1000",
      "writeBlock 0x1010",
    ]);
    expect(fake.log).not.toContain("endWrite");
    expect(fake.calls("readBlock")).toBe(0);
    expect(fake.calls("finish")).toBe(0);
    expect(fake.calls("close")).toBe(1);
    expect(events.at(-1)).toMatchObject({ type: "phase-failed", phase: "write" });
  });

  it("an already-aborted signal writes nothing and does not start the application", async () => {
    const ac = new AbortController();
    ac.abort();
    const fake = fakeAdapter();
    const { run } = flash(fake, { signal: ac.signal });
    const e = await run.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(abortCode(e)).toBe("ABORTED");
    expect(fake.calls("connect")).toBe(0);
    expect(fake.calls("writeBlock")).toBe(0);
    expect(fake.calls("finish")).toBe(0);
    expect(fake.log).toEqual(["close"]);
  });

  it("an abort after the last block skips verify and finish", async () => {
    const ac = new AbortController();
    const fake = fakeAdapter({ afterWrite: (i) => i === 2 && ac.abort() });
    const { run } = flash(fake, { signal: ac.signal });
    const e = await run.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(abortCode(e)).toBe("ABORTED");
    expect(fake.calls("writeBlock")).toBe(3);
    expect(fake.calls("readBlock")).toBe(0);
    expect(fake.calls("finish")).toBe(0);
    expect(fake.calls("close")).toBe(1);
  });

  it("an abort during verify stops before the next read-back; no finish", async () => {
    const ac = new AbortController();
    const fake = fakeAdapter({ afterRead: (i) => i === 0 && ac.abort() });
    const { run } = flash(fake, { signal: ac.signal });
    const e = await flashFailure(run);
    expect(e).toMatchObject({
      phase: "verify",
      deviceState: "in-bootloader",
      causeCode: "ABORTED",
    });
    expect(fake.log.filter((l) => l.startsWith("readBlock"))).toEqual(["readBlock 0x1000"]);
    expect(fake.calls("finish")).toBe(0);
    expect(fake.calls("close")).toBe(1);
  });

  it("a block write that hangs ends when the signal aborts", async () => {
    const ac = new AbortController();
    const fake = fakeAdapter({ hangIn: "writeBlock" });
    const { run } = flash(fake, { signal: ac.signal });
    await fake.hanging;
    expect(fake.calls("close")).toBe(0);
    ac.abort(new Error("user pressed ^C"));
    const e = await flashFailure(run);
    expect(e).toMatchObject({ phase: "write", deviceState: "in-bootloader", causeCode: "ABORTED" });
    expect(e.cause).toBeInstanceOf(AbortedError);
    expect(fake.calls("writeBlock")).toBe(1);
    expect(fake.calls("finish")).toBe(0);
    expect(fake.calls("close")).toBe(1);
  });

  it("a connect that hangs ends untouched when the signal aborts", async () => {
    const ac = new AbortController();
    const fake = fakeAdapter({ hangIn: "connect" });
    const { run } = flash(fake, { signal: ac.signal });
    await fake.hanging;
    ac.abort();
    const e = await flashFailure(run);
    expect(e).toMatchObject({ phase: "connect", deviceState: "untouched", causeCode: "ABORTED" });
    expect(fake.log).toEqual(["enter", "connect", "close"]);
  });
});

describe("runFlash: image placement and close", () => {
  it("an image given as a function of the device is placed with its geometry", async () => {
    const appStart = 0x08002000;
    const fake = fakeAdapter({ geometry: { ...GEOMETRY, start: appStart } });
    const seen: DeviceInfo[] = [];
    const bin = Uint8Array.from({ length: 20 }, (_, i) => i + 1);
    const { run } = flash(fake, {}, (device) => {
      seen.push(device);
      return { segments: [{ address: device.geometry.start, data: bin }] };
    });
    const result = await run;
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBe(result.device);
    expect(result.plan.start).toBe(appStart);
    expect(fake.log.filter((l) => l.startsWith("writeBlock"))).toEqual([
      "writeBlock 0x8002000",
      "writeBlock 0x8002010",
    ]);
    expect(fake.memory.get(appStart)).toBe(1);
    expect(fake.memory.get(appStart + 19)).toBe(20);
    expect(result.verified).toBe(true);
  });

  it("close throwing does not mask a successful result", async () => {
    const fake = fakeAdapter({ failIn: "close" });
    const { run } = flash(fake);
    const result = await run;
    expect(result.verified).toBe(true);
    expect(fake.calls("finish")).toBe(1);
    expect(fake.calls("close")).toBe(1);
  });

  it("close throwing does not mask the flash error", async () => {
    const fake = fakeAdapter({ corrupt: 0x1000 });
    fake.adapter.close = async () => {
      fake.log.push("close");
      throw new Error("close failed");
    };
    const { run } = flash(fake);
    const e = await flashFailure(run);
    expect(e.causeCode).toBe("VERIFY_MISMATCH");
    expect(fake.calls("close")).toBe(1);
  });
});

describe("runFlash: compareFirst (canflash ensure --readback)", () => {
  it("the image already in flash: read back, nothing erased or written, the verified firmware started", async () => {
    const fake = fakeAdapter();
    DATA.forEach((v, i) => fake.memory.set(START + i, v));
    const { run, events } = flash(fake, { compareFirst: true });
    const r = await run;
    expect(r).toMatchObject({ unchanged: true, verified: true, dryRun: false });
    expect(phasesOf(events)).toEqual(["enter", "connect", "compare", "finish"]);
    expect(fake.calls("writeBlock")).toBe(0);
    expect(fake.calls("erase")).toBe(0);
    expect(fake.calls("readBlock")).toBe(TOTAL / BS);
  });

  it("one byte differs: the compare stops at its block, then the full flash runs and verifies", async () => {
    const fake = fakeAdapter();
    DATA.forEach((v, i) => fake.memory.set(START + i, i === 20 ? v ^ 1 : v));
    const { run, events } = flash(fake, { compareFirst: true });
    const r = await run;
    expect(r.unchanged).toBeUndefined();
    expect(r.verified).toBe(true);
    expect(phasesOf(events)).toEqual([
      "enter",
      "connect",
      "compare",
      "erase",
      "write",
      "verify",
      "finish",
    ]);
    expect(fake.memory.get(START + 20)).toBe(DATA[20]);
    // compare read blocks 0 and 1 (the difference), verify read all three
    expect(fake.calls("readBlock")).toBe(2 + TOTAL / BS);
  });

  it("a bootloader that cannot read back is flashed without comparing, and the result says so", async () => {
    const fake = fakeAdapter({ verify: "none", readBlock: false });
    DATA.forEach((v, i) => fake.memory.set(START + i, v));
    const r = await flash(fake, { compareFirst: true }).run;
    expect(r).toMatchObject({ compareImpossible: true, verified: false });
    expect(fake.calls("writeBlock")).toBe(TOTAL / BS);
  });

  it("a read failing during the compare: nothing written, the board untouched", async () => {
    const fake = fakeAdapter({ failIn: "readBlock" });
    const e = await flashFailure(flash(fake, { compareFirst: true }).run);
    expect(e.phase).toBe("compare");
    expect(e.deviceState).toBe("untouched");
    expect(fake.calls("writeBlock")).toBe(0);
    expect(fake.calls("finish")).toBe(0);
  });
});
