import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { listCanInterfaces, parseIpLinkJson } from "../../src/can/interfaces.js";
import { FakeSysfs } from "../fakes/sysfs.js";

const fixture = readFileSync(new URL("../fixtures/ip/links.json", import.meta.url), "utf8");

describe("parseIpLinkJson", () => {
  const links = parseIpLinkJson(fixture);

  it("keeps only CAN links", () => {
    expect(links.map((l) => l.name)).toEqual(["vcan0", "vcan1", "can0", "can1"]);
  });

  it("reads vcan links (no controller data)", () => {
    const v = links.find((l) => l.name === "vcan0")!;
    expect(v).toMatchObject({
      kind: "vcan",
      up: true,
      operState: "unknown",
      txQueueLen: 1000,
      state: undefined,
      bitrate: undefined,
    });
    expect(links.find((l) => l.name === "vcan1")!.up).toBe(false);
  });

  it("reads controller state, bitrate, error counters and statistics of a hardware link", () => {
    const c = links.find((l) => l.name === "can0")!;
    expect(c).toMatchObject({
      kind: "can",
      up: true,
      txQueueLen: 10,
      state: "error-passive",
      bitrate: 500000,
      samplePoint: 0.875,
      restartMs: 0,
      errorCounters: { tx: 128, rx: 0 },
      stats: { rxPackets: 10, txPackets: 9, rxErrors: 3, txDropped: 2 },
      canStats: { busErrors: 12, errorPassive: 1, busOff: 0 },
      source: "ip",
    });
  });

  it("accepts sample_point as a number (older iproute2)", () => {
    expect(links.find((l) => l.name === "can1")).toMatchObject({
      bitrate: 1000000,
      samplePoint: 0.75,
      state: "error-active",
    });
  });
});

describe("listCanInterfaces", () => {
  let fs: FakeSysfs | undefined;
  afterEach(() => fs?.cleanup());

  it("uses ip when it works", async () => {
    const l = await listCanInterfaces({ runIp: async () => fixture });
    expect(l.map((i) => i.name)).toEqual(["can0", "can1", "vcan0", "vcan1"]);
  });

  it("falls back to sysfs when ip fails", async () => {
    fs = new FakeSysfs()
      .iface("can0", { txQueueLen: 128, stats: { rx_packets: 5, tx_dropped: 1 } })
      .iface("eth0", { type: 1 });
    const l = await listCanInterfaces({
      runIp: async () => {
        throw new Error("ip: not found");
      },
      sysfsRoot: fs.sys,
    });
    expect(l).toHaveLength(1);
    expect(l[0]).toMatchObject({
      name: "can0",
      up: true,
      txQueueLen: 128,
      bitrate: undefined,
      source: "sysfs",
      stats: { rxPackets: 5, txDropped: 1 },
    });
  });
});
