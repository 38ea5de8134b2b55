// One back-to-back suite for every CAN backend (python-can's
// Back2BackTestCase idea): two endpoints on one bus send and receive
// standard and extended ids, remote frames, every DLC, in order, through
// filters, with timeouts, closing while a read waits, and many frames at
// once. A backend's test file calls back2back() with a factory for the pair;
// the same assertions run on the virtual bus, through slcan adapters and on
// SocketCAN in User-Mode Linux.
import { describe, expect, it } from "vitest";
import type { CanBus } from "../../src/can/bus.js";
import { CanBusClosedError } from "../../src/can/errors.js";
import { canFrame, formatFrame, type CanFrame } from "../../src/can/frame.js";
import { AbortedError } from "../../src/util/errors.js";

export interface Pair {
  a: CanBus;
  b: CanBus;
  /** Closes whatever a and b need beyond themselves (adapter models, ptys). */
  dispose?(): Promise<void>;
}

export interface Back2BackOptions {
  /** Opens two fresh endpoints on one bus. */
  open(): Promise<Pair>;
  /** Frames each way in the "many frames" case. */
  many?: number;
  /** How long a frame may take from send() to the other end, ms. */
  latencyMs?: number;
  /** Test timeout, ms. */
  timeoutMs?: number;
}

const seqFrame = (id: number, n: number, extended = false): CanFrame =>
  canFrame(id, [n & 0xff, (n >> 8) & 0xff, 0x5a], { extended });
const seqOf = (f: CanFrame): number => f.data[0]! | (f.data[1]! << 8);

async function recvAll(bus: CanBus, n: number, waitMs: number): Promise<CanFrame[]> {
  const out: CanFrame[] = [];
  while (out.length < n) {
    const f = await bus.recv(waitMs);
    if (!f) throw new Error(`received ${out.length} of ${n} frames, then nothing for ${waitMs} ms`);
    out.push(f);
  }
  return out;
}

/** Nothing more arrives within `quietMs`. */
async function expectQuiet(bus: CanBus, quietMs: number): Promise<void> {
  const f = await bus.recv(quietMs);
  expect(f && formatFrame(f)).toBeUndefined();
}

export function back2back(name: string, o: Back2BackOptions): void {
  const wait = o.latencyMs ?? 2000;
  const quiet = Math.min(300, wait);
  const many = o.many ?? 2000;
  const timeout = o.timeoutMs ?? 60_000;

  /** Runs `body` on a fresh pair and closes it whatever happens. */
  const withPair = (body: (p: Pair) => Promise<void>) => async () => {
    const p = await o.open();
    try {
      await body(p);
    } finally {
      await Promise.allSettled([p.a.close(), p.b.close()]);
      await p.dispose?.();
    }
  };

  describe(`back-to-back on ${name}`, () => {
    it(
      "standard ids both ways, exactly, and no endpoint hears its own frames",
      withPair(async ({ a, b }) => {
        const frames = [canFrame(0x000, []), canFrame(0x123, [1, 2, 3]), canFrame(0x7ff, [0xff])];
        for (const f of frames) await a.send(f);
        expect((await recvAll(b, 3, wait)).map(formatFrame)).toEqual(frames.map(formatFrame));
        await b.send(canFrame(0x456, [9]));
        expect(formatFrame((await a.recv(wait))!)).toBe("456#09");
        await expectQuiet(a, quiet);
        await expectQuiet(b, quiet);
      }),
      timeout,
    );

    it(
      "extended ids, including the 11-bit values in 29-bit form",
      withPair(async ({ a, b }) => {
        const frames = [
          canFrame(0, [1], { extended: true }),
          canFrame(0x7ff, [2], { extended: true }),
          canFrame(0x1234567, [3, 4], { extended: true }),
          canFrame(0x1fffffff, [0xde, 0xad, 0xbe, 0xef], { extended: true }),
        ];
        for (const f of frames) await a.send(f);
        const got = await recvAll(b, frames.length, wait);
        expect(got.map(formatFrame)).toEqual(frames.map(formatFrame));
        expect(got.every((f) => f.extended && !f.rtr && !f.error)).toBe(true);
      }),
      timeout,
    );

    it(
      "data frames with every DLC 0–8",
      withPair(async ({ a, b }) => {
        const frames = Array.from({ length: 9 }, (_, n) =>
          canFrame(
            0x100 + n,
            Array.from({ length: n }, (_, i) => (n * 16 + i) & 0xff),
          ),
        );
        for (const f of frames) await a.send(f);
        const got = await recvAll(b, 9, wait);
        expect(got.map(formatFrame)).toEqual(frames.map(formatFrame));
        expect(got.map((f) => f.dlc)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
      }),
      timeout,
    );

    it(
      "remote frames, standard and extended, keep their requested length",
      withPair(async ({ a, b }) => {
        const frames = [
          ...[0, 1, 4, 8].map((dlc) => canFrame(0x321, [], { rtr: true, dlc })),
          canFrame(0x1abcdef, [], { rtr: true, dlc: 2, extended: true }),
        ];
        for (const f of frames) await a.send(f);
        const got = await recvAll(b, frames.length, wait);
        expect(got.map(formatFrame)).toEqual(frames.map(formatFrame));
        expect(got.map((f) => [f.rtr, f.dlc, f.data.length])).toEqual([
          [true, 0, 0],
          [true, 1, 0],
          [true, 4, 0],
          [true, 8, 0],
          [true, 2, 0],
        ]);
      }),
      timeout,
    );

    it(
      "endpoint filters: exact standard id, masked range, extended only; a reader's own filter on top",
      withPair(async ({ a, b }) => {
        b.setFilters([
          { id: 0x3f0, mask: 0x7ff, extended: false },
          { id: 0x200, mask: 0x700, extended: false },
          { id: 0x18000000, mask: 0x1f000000, extended: true },
        ]);
        const sub = b.subscribe({ filters: [{ id: 0x200, mask: 0x7ff }] });
        const sent = [
          canFrame(0x3f0, [1]), // passes
          canFrame(0x3f1, [2]),
          canFrame(0x2ab, [3]), // passes
          canFrame(0x3f0, [4], { extended: true }), // a 29-bit 0x3F0 is not the standard one
          canFrame(0x18abcdef, [5], { extended: true }), // passes
          canFrame(0x08abcdef, [6], { extended: true }),
          canFrame(0x200, [7]), // passes, and reaches the subscriber
        ];
        for (const f of sent) await a.send(f);
        expect((await recvAll(b, 4, wait)).map(formatFrame)).toEqual([
          "3F0#01",
          "2AB#03",
          "18ABCDEF#05",
          "200#07",
        ]);
        expect(formatFrame((await sub.recv(wait))!)).toBe("200#07");
        await expectQuiet(b, quiet);
        expect(await sub.recv(0)).toBeUndefined();
        sub.close();
        b.setFilters([]);
        await a.send(canFrame(0x3f1, [8]));
        expect(formatFrame((await b.recv(wait))!)).toBe("3F1#08");
      }),
      timeout,
    );

    it(
      "recv times out with undefined, recv(0) answers at once, an abort rejects",
      withPair(async ({ a, b }) => {
        const t0 = performance.now();
        expect(await b.recv(150)).toBeUndefined();
        const waited = performance.now() - t0;
        expect(waited).toBeGreaterThanOrEqual(140);
        expect(waited).toBeLessThan(150 + 1000);
        const t1 = performance.now();
        expect(await b.recv(0)).toBeUndefined();
        expect(performance.now() - t1).toBeLessThan(50);
        const ac = new AbortController();
        const pending = b.recv(undefined, { signal: ac.signal });
        ac.abort();
        await expect(pending).rejects.toBeInstanceOf(AbortedError);
        // The bus still works afterwards.
        await a.send(canFrame(0x10, [1]));
        expect(formatFrame((await b.recv(wait))!)).toBe("010#01");
      }),
      timeout,
    );

    it(
      "closing while a read waits ends it; sends after close reject",
      withPair(async ({ a, b }) => {
        const reading = b.recv();
        const sub = b.subscribe();
        const subReading = sub.recv();
        await new Promise((r) => setTimeout(r, 20));
        await b.close();
        await expect(reading).rejects.toBeInstanceOf(CanBusClosedError);
        await expect(subReading).rejects.toBeInstanceOf(CanBusClosedError);
        expect(b.closed).toBe(true);
        await expect(b.send(canFrame(0x1, []))).rejects.toBeInstanceOf(CanBusClosedError);
        // The other endpoint is unaffected.
        await a.send(canFrame(0x2, [2]));
        await expectQuiet(a, quiet);
      }),
      timeout,
    );

    it(
      `many frames at once: ${many} each way, none lost, none reordered`,
      withPair(async ({ a, b }) => {
        const sendAll = async (bus: CanBus, id: number, extended: boolean) => {
          for (let i = 0; i < many; i++) await bus.send(seqFrame(id, i, extended));
        };
        const [, , atB, atA] = await Promise.all([
          sendAll(a, 0x100, false),
          sendAll(b, 0x1bcdef0, true),
          recvAll(b, many, wait * 5),
          recvAll(a, many, wait * 5),
        ]);
        const upto = Array.from({ length: many }, (_, i) => i);
        expect(atB.map(seqOf)).toEqual(upto);
        expect(atA.map(seqOf)).toEqual(upto);
        expect(atB.every((f) => f.id === 0x100 && !f.extended)).toBe(true);
        expect(atA.every((f) => f.id === 0x1bcdef0 && f.extended)).toBe(true);
      }),
      timeout,
    );
  });
}
