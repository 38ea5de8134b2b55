// python-can's slcan interface (Debian's python3-can 4.1) as the real host
// peer: it drives canflash's slcan adapter model on a pty (so the model
// answers as a host tool expects), and it shares one virtual CAN channel
// with canflash's own slcan backend on a second adapter model, so frames
// python-can encodes reach canflash and the other way round. Run with
// `npm run test:peers` (needs python3-can and python3-serial).
import { spawn } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { canFrame, formatFrame, type CanFrame } from "../../../src/can/frame.js";
import { VirtualCanChannel } from "../../../src/can/virtual.js";
import { openCanBus } from "../../../src/flasher/buses.js";
import { slcanOnPty, type SlcanOnPty } from "../../fakes/slcan.js";

/** Debian's python, where python3-can lives (not a pyenv shim's). */
const PYTHON = "/usr/bin/python3";

// Opens the slcan bus, prints version and serial, sends five frames, says
// "ready", prints each frame it receives as candump text until it has argv[3]
// of them, then shuts the bus down (python-can sends "C").
const PEER = String.raw`
import sys, can
bus = can.interface.Bus(bustype="slcan", channel=sys.argv[1], bitrate=int(sys.argv[2]), sleep_after_open=0)
hw, sw = bus.get_version(2)
print("version", hw, sw)
print("serial", bus.get_serial_number(2))
for m in [
    can.Message(arbitration_id=0x123, data=[1, 2, 3], is_extended_id=False),
    can.Message(arbitration_id=0x1ABCDEF, data=[0, 1, 2, 3, 4, 5, 6, 7], is_extended_id=True),
    can.Message(arbitration_id=0x7FF, data=[], is_extended_id=False),
    can.Message(arbitration_id=0x321, is_remote_frame=True, dlc=4, is_extended_id=False),
    can.Message(arbitration_id=0x10, is_remote_frame=True, dlc=0, is_extended_id=True),
]:
    bus.send(m)
print("ready", flush=True)
want = int(sys.argv[3])
got = 0
while got < want:
    m = bus.recv(10)
    if m is None:
        print("timeout"); break
    ident = ("%08X" if m.is_extended_id else "%03X") % m.arbitration_id
    body = ("R%d" % m.dlc if m.dlc else "R") if m.is_remote_frame else bytes(m.data).hex().upper()
    print("frame %s#%s" % (ident, body), flush=True)
    got += 1
bus.shutdown()
print("done", flush=True)
`;

interface Peer {
  lines: string[];
  waitFor(text: string, ms?: number): Promise<void>;
  exited: Promise<number | null>;
}

function pythonCan(path: string, bitrate: number, expect: number): Peer {
  const child = spawn(PYTHON, ["-u", "-c", PEER, path, String(bitrate), String(expect)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
    let nl: number;
    while ((nl = out.indexOf("\n")) >= 0) {
      lines.push(out.slice(0, nl));
      out = out.slice(nl + 1);
    }
  });
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.on("close", r));
  return {
    lines,
    exited,
    async waitFor(text, ms = 15_000) {
      const end = performance.now() + ms;
      while (!lines.includes(text)) {
        if (performance.now() > end || child.exitCode !== null)
          throw new Error(`python-can never said "${text}": ${lines.join(" | ")} ${err}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

const adapters: SlcanOnPty[] = [];
afterEach(async () => {
  await Promise.all(adapters.splice(0).map((a) => a.close()));
});

const SENT_BY_PEER = ["123#010203", "01ABCDEF#0001020304050607", "7FF#", "321#R4", "00000010#R"];

describe("python-can's slcan interface as the host peer", () => {
  it("drives the adapter model: bitrate, open, version, serial, frames both ways, close", async () => {
    const channel = VirtualCanChannel.anonymous({ bitrate: 500_000 });
    const node = channel.open({ label: "node" });
    const dev = await slcanOnPty(channel);
    adapters.push(dev);
    const peer = pythonCan(dev.pty.path, 500_000, 3);
    await peer.waitFor("ready");
    expect(peer.lines).toContain("version 10 13");
    expect(peer.lines).toContain("serial SIM1"); // "N" + four characters, as Lawicel's manual has it
    expect(dev.adapter.configuredBitrate).toBe(500_000);
    const got: string[] = [];
    while (got.length < 5) {
      const f = await node.recv(5000);
      if (!f) break;
      got.push(formatFrame(f));
    }
    expect(got).toEqual(SENT_BY_PEER);
    for (const f of [
      canFrame(0x3f1, [0xaa, 0xbb]),
      canFrame(0x12345678, [9], { extended: true }),
      canFrame(0x55, [], { rtr: true, dlc: 8 }),
    ])
      await node.send(f);
    await peer.waitFor("done");
    expect(await peer.exited).toBe(0);
    expect(peer.lines.filter((l) => l.startsWith("frame "))).toEqual([
      "frame 3F1#AABB",
      "frame 12345678#09",
      "frame 055#R8",
    ]);
    expect(dev.adapter.isOpen).toBe(false);
    await node.close();
  });

  it("python-can and canflash's slcan backend, each on its own adapter, talk over one bus", async () => {
    const channel = VirtualCanChannel.anonymous({ bitrate: 1_000_000 });
    const ours = await slcanOnPty(channel, { dialect: "canable" });
    const theirs = await slcanOnPty(channel, { dialect: "lawicel" });
    adapters.push(ours, theirs);
    const bus = await openCanBus(ours.iface);
    try {
      const peer = pythonCan(theirs.pty.path, 1_000_000, 2);
      await peer.waitFor("ready");
      const got: CanFrame[] = [];
      while (got.length < 5) {
        const f = await bus.recv(5000);
        if (!f) break;
        got.push(f);
      }
      expect(got.map(formatFrame)).toEqual(SENT_BY_PEER);
      await bus.send(canFrame(0x100, [1, 2, 3, 4, 5, 6, 7, 8]));
      await bus.send(canFrame(0x1fffffff, [], { extended: true, rtr: true, dlc: 3 }));
      await peer.waitFor("done");
      expect(peer.lines.filter((l) => l.startsWith("frame "))).toEqual([
        "frame 100#0102030405060708",
        "frame 1FFFFFFF#R3",
      ]);
    } finally {
      await bus.close();
    }
  });
});
