import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  CanBusClosedError,
  CanPermissionError,
  CanSendTimeoutError,
  InterfaceDownError,
  KernelCanUnsupportedError,
  NoSuchInterfaceError,
  NotCanInterfaceError,
  NotLinuxError,
} from "../../src/can/errors.js";
import { AddonMissingError } from "../../src/util/native.js";
import { canFrame, formatFrame } from "../../src/can/frame.js";
import { openCanBus } from "../../src/can/backends.js";
import { openSocketCan, type SocketCanOptions } from "../../src/can/socketcan.js";
import { readSysfsInterface } from "../../src/can/sysfs.js";
import { FakeSysfs } from "../fakes/sysfs.js";
import { FakeRawChannel, fakeAddon } from "../fakes/socketcan-addon.js";

const missingModule = "socketcan-that-does-not-exist";
let fs: FakeSysfs;
let raw: FakeRawChannel;
let opts: SocketCanOptions;

beforeEach(() => {
  fs = new FakeSysfs().iface("can0").iface("can1", { up: false }).iface("eth0", { type: 1 });
  raw = new FakeRawChannel();
  opts = {
    platform: "linux",
    sysfsRoot: fs.sys,
    procRoot: fs.proc,
    modulesRoot: fs.modules,
    loadAddon: async () => fakeAddon(raw).addon,
    runIp: async () => "[]", // no real `ip` for the fake interfaces
  };
});
afterEach(() => fs.cleanup());

describe("openSocketCan typed errors", () => {
  it("needs Linux", async () => {
    await expect(openSocketCan("can0", { ...opts, platform: "darwin" })).rejects.toBeInstanceOf(
      NotLinuxError,
    );
  });

  it("names a missing interface and lists the CAN interfaces that exist", async () => {
    const e = await openSocketCan("can7", opts).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(NoSuchInterfaceError);
    expect((e as NoSuchInterfaceError).available).toEqual(["can0", "can1"]);
    expect((e as Error).message).toMatch(
      /no network interface named can7 \(CAN interfaces here: can0, can1\)/,
    );
    await expect(openSocketCan("../etc", opts)).rejects.toBeInstanceOf(NoSuchInterfaceError);
  });

  it("refuses a non-CAN interface", async () => {
    await expect(openSocketCan("eth0", opts)).rejects.toBeInstanceOf(NotCanInterfaceError);
  });

  it("reports a down interface before touching the addon", async () => {
    let loaded = false;
    const e = await openSocketCan("can1", {
      ...opts,
      loadAddon: async () => ((loaded = true), fakeAddon(raw).addon),
    }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InterfaceDownError);
    expect((e as InterfaceDownError).iface).toBe("can1");
    expect(loaded).toBe(false);
  });

  it("reports a missing native addon", async () => {
    const e = await openSocketCan("can0", {
      ...opts,
      loadAddon: () => import(missingModule),
    }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AddonMissingError);
    expect(e).toMatchObject({
      code: "ADDON_MISSING",
      addon: "socketcan",
      nativePackage: "socketcan",
    });
    expect((e as Error).cause).toBeDefined();
  });

  it("classifies a refused socket: no CAN_RAW in the kernel vs. a security policy", async () => {
    const refused = {
      ...opts,
      loadAddon: async () =>
        fakeAddon(() => {
          throw new Error("Error while creating channel");
        }).addon,
    };
    await expect(openSocketCan("can0", refused)).rejects.toBeInstanceOf(KernelCanUnsupportedError);
    fs.canRawLoaded();
    await expect(openSocketCan("can0", refused)).rejects.toBeInstanceOf(CanPermissionError);
  });
});

describe("SocketCanBus", () => {
  it("sends frames, receives data, remote and error frames, and tracks bus state", async () => {
    const bus = await openSocketCan("can0", opts);
    expect(raw.started).toBe(true);
    await bus.send(canFrame(0x123, [1, 2, 3]));
    await bus.send(canFrame(0x1abcdef, [], { extended: true }));
    await bus.send(canFrame(0x10, [], { rtr: true, dlc: 3 }));
    expect(raw.sent.map((m) => [m.id, !!m.ext, !!m.rtr, [...m.data]])).toEqual([
      [0x123, false, false, [1, 2, 3]],
      [0x1abcdef, true, false, []],
      [0x10, false, true, [0, 0, 0]],
    ]);
    const errors = bus.subscribe({ errors: true, filters: [{ id: 0, mask: 0x7ff }] });
    raw.emit({ id: 0x3f1, data: Buffer.from([0x20, 1, 2, 3, 4, 5, 6, 0x11]) });
    raw.emit({ id: 0x20, rtr: true, data: Buffer.alloc(2) });
    raw.emit({ id: 0x4, err: true, data: Buffer.from([0, 0x20, 0, 0, 0, 0, 0x80, 0]) });
    expect(formatFrame((await bus.recv(0))!)).toBe("3F1#2001020304050611");
    expect(formatFrame((await bus.recv(0))!)).toBe("020#R2");
    expect(await bus.recv(0)).toBeUndefined(); // error frames only to readers that ask
    const err = await errors.recv(0);
    expect(err?.error).toBe(true);
    expect(bus.state).toBe("error-passive");
    await bus.close();
  });

  it("installs kernel filters (EFF flag for format) and a catch-all when cleared", async () => {
    const bus = await openSocketCan("can0", {
      ...opts,
      filters: [{ id: 0x3f1, mask: 0x7ff, extended: false }],
    });
    expect(raw.filters).toEqual([{ id: 0x3f1, mask: 0x800007ff }]);
    bus.setFilters([{ id: 0x100, mask: 0x100, extended: true }]);
    expect(raw.filters).toEqual([{ id: 0x80000100, mask: 0x80000100 }]);
    bus.setFilters([]);
    expect(raw.filters).toEqual([{ id: 0, mask: 0 }]);
    await bus.close();
    expect(raw.filters).toEqual([{ id: 0, mask: 0, invert: true }]);
    expect(raw.stopped).toBe(true);
  });

  it("retries frames the kernel refuses (ENOBUFS) and keeps their order", async () => {
    const bus = await openSocketCan("can0", opts);
    raw.refuse = 5;
    await Promise.all([1, 2, 3].map((i) => bus.send(canFrame(0x100, [i]))));
    expect(raw.refusals).toBe(5);
    expect(raw.sent.map((m) => m.data[0])).toEqual([1, 2, 3]);
    await bus.close();
  });

  it("fails a send the kernel refuses past the deadline, then sends the next", async () => {
    const bus = await openSocketCan("can0", { ...opts, sendBusyTimeoutMs: 30 });
    raw.refuseForever = true;
    const first = bus.send(canFrame(0x100, [1]));
    const e = await first.catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CanSendTimeoutError);
    expect((e as CanSendTimeoutError).frameText).toBe("100#01");
    raw.refuseForever = false;
    await bus.send(canFrame(0x100, [2]));
    expect(raw.sent.map((m) => m.data[0])).toEqual([2]);
    await bus.close();
  });

  it("reports an interface that went down while sends were refused", async () => {
    const bus = await openSocketCan("can0", opts);
    raw.refuseForever = true;
    fs.iface("can0", { up: false });
    const queued = [bus.send(canFrame(1, [1])), bus.send(canFrame(1, [2]))];
    for (const q of queued) await expect(q).rejects.toBeInstanceOf(InterfaceDownError);
    await expect(bus.recv(0)).rejects.toBeInstanceOf(InterfaceDownError);
    await bus.close();
  });

  it("turns an unexpected socket stop into a typed failure", async () => {
    const bus = await openSocketCan("can0", opts);
    const pending = bus.recv();
    fs.remove("can0");
    raw.crash();
    await expect(pending).rejects.toBeInstanceOf(NoSuchInterfaceError);
    await expect(bus.send(canFrame(1, []))).rejects.toBeInstanceOf(NoSuchInterfaceError);
    expect(bus.state).toBe("stopped");
    await bus.close();
  });

  it("echoes own frames to its readers when asked (the addon cannot)", async () => {
    const bus = await openSocketCan("can0", { ...opts, receiveOwn: true });
    await bus.send(canFrame(0x55, [9]));
    expect(formatFrame((await bus.recv(0))!)).toBe("055#09");
    await bus.close();
    await expect(bus.send(canFrame(1, []))).rejects.toBeInstanceOf(CanBusClosedError);
  });
});

describe("the SocketCAN backend's bitrate (for the image's bus-speed check)", () => {
  const ipJson = JSON.stringify([
    {
      ifname: "can0",
      flags: ["UP"],
      link_type: "can",
      linkinfo: { info_kind: "can", info_data: { bittiming: { bitrate: 500000 } } },
    },
  ]);

  it("comes from ip for a real interface; a virtual one (vcan) has none and ip is not started", async () => {
    fs.iface("vcan0", { virtual: true });
    let asked = 0;
    const socketcan: SocketCanOptions = {
      ...opts,
      loadAddon: async () => fakeAddon(new FakeRawChannel()).addon,
      runIp: async () => {
        asked++;
        return ipJson;
      },
    };
    const real = await openCanBus("can0", { socketcan });
    expect(real.info.bitrate).toBe(500000);
    expect(asked).toBe(1);
    await real.close();
    const virtual = await openCanBus("vcan0", { socketcan });
    expect(virtual.info.bitrate).toBeUndefined();
    expect(asked).toBe(1);
    await virtual.close();
  });

  it("tells a virtual interface from a real one by where sysfs keeps it", async () => {
    fs.iface("vcan0", { virtual: true });
    expect((await readSysfsInterface("vcan0", fs.sys))?.virtual).toBe(true);
    expect((await readSysfsInterface("can0", fs.sys))?.virtual).toBe(false);
    expect((await readSysfsInterface("vcan0", fs.sys, { statistics: false }))?.up).toBe(true);
  });
});
