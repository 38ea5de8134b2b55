// SocketCanBus against the real kernel CAN stack (vcan inside User-Mode Linux).
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import {
  CanSendTimeoutError,
  InterfaceDownError,
  NoSuchInterfaceError,
} from "../../src/can/errors.js";
import { canFrame, formatFrame, parseFrame, type CanFrame } from "../../src/can/frame.js";
import { listCanInterfaces } from "../../src/can/interfaces.js";
import { openCanBus } from "../../src/can/backends.js";
import type { CanBus } from "../../src/can/bus.js";
import { candump, qdiscDrops, run } from "./helpers.js";

const exec = promisify(execFile);

function seqFrame(id: number, n: number, extended = false): CanFrame {
  return canFrame(id, [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, 0xa5], { extended });
}
const seqOf = (f: CanFrame) => f.data[0]! | (f.data[1]! << 8) | (f.data[2]! << 16);

async function receiveN(bus: CanBus, n: number, timeoutMs = 30_000): Promise<CanFrame[]> {
  const got: CanFrame[] = [];
  while (got.length < n) {
    const f = await bus.recv(timeoutMs);
    if (!f)
      throw new Error(`received ${got.length} of ${n} frames, then nothing for ${timeoutMs} ms`);
    got.push(f);
  }
  return got;
}

describe("SocketCanBus on vcan (real kernel)", () => {
  it("two channels exchange 10,000 frames each way with none lost or reordered", async () => {
    const a = await openCanBus("vcan0", { filters: [{ id: 0x200, mask: 0x7ff }] });
    const b = await openCanBus("vcan0", { filters: [{ id: 0x100, mask: 0x7ff }] });
    const N = 10_000;
    const sendAll = async (bus: CanBus, id: number) => {
      for (let i = 0; i < N; i++) await bus.send(seqFrame(id, i));
    };
    const [, , atB, atA] = await Promise.all([
      sendAll(a, 0x100),
      sendAll(b, 0x200),
      receiveN(b, N),
      receiveN(a, N),
    ]);
    expect(atB.map(seqOf)).toEqual(Array.from({ length: N }, (_, i) => i));
    expect(atA.map(seqOf)).toEqual(Array.from({ length: N }, (_, i) => i));
    expect(atB.every((f) => f.id === 0x100)).toBe(true);
    await a.close();
    await b.close();
  });

  it("carries standard and extended ids exactly", async () => {
    const a = await openCanBus("vcan0");
    const b = await openCanBus("vcan0");
    const frames = [
      canFrame(0x000, []),
      canFrame(0x7ff, [1, 2, 3, 4, 5, 6, 7, 8]),
      canFrame(0x123, [0xde, 0xad], { extended: true }),
      canFrame(0x1fffffff, [0xff], { extended: true }),
      canFrame(0x3f0, [], { rtr: true, dlc: 2 }),
    ];
    for (const f of frames) await a.send(f);
    expect((await receiveN(b, frames.length)).map(formatFrame)).toEqual(frames.map(formatFrame));
    await a.close();
    await b.close();
  });

  it("applies kernel filters by id, mask and format", async () => {
    const tx = await openCanBus("vcan0");
    const std = await openCanBus("vcan0", {
      filters: [{ id: 0x3f1, mask: 0x7ff, extended: false }],
    });
    const ext = await openCanBus("vcan0", {
      filters: [{ id: 0x3f1, mask: 0x1fffffff, extended: true }],
    });
    const range = await openCanBus("vcan0", { filters: [{ id: 0x100, mask: 0x700 }] });
    for (const f of [
      canFrame(0x3f1, [1]),
      canFrame(0x3f1, [2], { extended: true }),
      canFrame(0x1ab, [3]),
      canFrame(0x200, [4]),
    ]) {
      await tx.send(f);
    }
    await tx.send(canFrame(0x3f1, [5])); // marker: last frame every std/3f1 reader sees
    expect((await receiveN(std, 2)).map(formatFrame)).toEqual(["3F1#01", "3F1#05"]);
    expect((await receiveN(ext, 1)).map(formatFrame)).toEqual(["000003F1#02"]);
    expect((await receiveN(range, 1)).map(formatFrame)).toEqual(["1AB#03"]);
    expect(await std.recv(50)).toBeUndefined();
    expect(await range.recv(50)).toBeUndefined();
    for (const b of [tx, std, ext, range]) await b.close();
  });

  it("interoperates with can-utils both ways (candump sees ours, we see cansend's)", async () => {
    const dump = candump("vcan0");
    await dump.ready;
    const bus = await openCanBus("vcan0");
    const ours = [
      canFrame(0x3f0, [0]),
      canFrame(0x12345678, [0xde, 0xad, 0xbe, 0xef]),
      canFrame(0x202, [1, 0x88, 0x11, 0, 0xf1, 0x7c, 0x99, 3]),
    ];
    for (const f of ours) await bus.send(f);
    expect(await dump.waitFor(ours.length)).toEqual(ours.map(formatFrame));
    await dump.stop();

    for (const text of ["3F1#2082664C63642911", "1ABCDEF0#00", "123#R", "7FF#"]) {
      await exec("cansend", ["vcan0", text]);
      const f = await bus.recv(5000);
      expect(f && formatFrame(f)).toBe(formatFrame(parseFrame(text)));
    }
    await bus.close();
  });

  it("a 5,000-frame burst through a 10-frame transmit queue arrives complete: ENOBUFS is retried, not lost", async () => {
    const dropsBefore = await qdiscDrops("vcanq");
    const tx = await openCanBus("vcanq");
    const rx = await openCanBus("vcanq");
    const N = 5000;
    const sends: Promise<void>[] = [];
    for (let i = 0; i < N; i++) sends.push(tx.send(seqFrame(0x1, i))); // all at once: a real burst
    const [, got] = await Promise.all([Promise.all(sends), receiveN(rx, N)]);
    expect(got.map(seqOf)).toEqual(Array.from({ length: N }, (_, i) => i));
    // The kernel really refused frames (qdisc drops = ENOBUFS returned to us); each was resent.
    expect((await qdiscDrops("vcanq")) - dropsBefore).toBeGreaterThan(0);
    await tx.close();
    await rx.close();
  });

  it("a queue that does not drain makes send fail with a typed error; every frame arrives or its send rejects", async () => {
    const tx = await openCanBus("vcanstall", { socketcan: { sendBusyTimeoutMs: 300 } });
    const rx = await openCanBus("vcanstall");
    const N = 12;
    const results = await Promise.allSettled(
      Array.from({ length: N }, (_, i) => tx.send(seqFrame(0x2, i))),
    );
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(failed.length).toBeGreaterThan(0);
    for (const r of failed) expect(r.reason).toBeInstanceOf(CanSendTimeoutError);
    const delivered: number[] = [];
    const deadline = Date.now() + 20_000;
    while (delivered.length < N - failed.length && Date.now() < deadline) {
      const f = await rx.recv(500);
      if (f) delivered.push(seqOf(f));
    }
    const accepted = results.flatMap((r, i) => (r.status === "fulfilled" ? [i] : []));
    expect(delivered).toEqual(accepted);
    await tx.close();
    await rx.close();
  });

  it("gives typed errors for a missing interface, a down interface, and one taken down while in use", async () => {
    await expect(openCanBus("vcan9")).rejects.toBeInstanceOf(NoSuchInterfaceError);
    const e = await openCanBus("vcan1").catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InterfaceDownError);
    expect((e as InterfaceDownError).iface).toBe("vcan1");

    await run("ip", ["link", "add", "dev", "vcantmp", "type", "vcan"]);
    await run("ip", ["link", "set", "vcantmp", "up"]);
    const bus = await openCanBus("vcantmp");
    const pending = bus.recv();
    await run("ip", ["link", "set", "vcantmp", "down"]);
    await expect(pending).rejects.toBeInstanceOf(InterfaceDownError);
    await expect(bus.send(canFrame(1, []))).rejects.toBeInstanceOf(InterfaceDownError);
    await bus.close();
    await run("ip", ["link", "del", "vcantmp"]);
  });

  it("lists the CAN interfaces with state and queue length", async () => {
    const list = await listCanInterfaces();
    const byName = Object.fromEntries(list.map((i) => [i.name, i]));
    expect(byName.vcan0).toMatchObject({ kind: "vcan", up: true, source: "ip" });
    expect(byName.vcan1).toMatchObject({ up: false });
    expect(byName.vcanq).toMatchObject({ txQueueLen: 10 });
  });
});
