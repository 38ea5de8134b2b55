// The RPC client against a scripted TCP peer (what OpenOCD's TCL server
// does with bytes, without OpenOCD): replies split over many writes, a reply that is not the wrapper's, a peer that never
// answers, and one that hangs up.
import { createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { OpenOcdRpc } from "../../../src/bootloaders/openocd/rpc-client.js";
import { realClock } from "../../../src/util/clock.js";

let server: Server | undefined;
afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

/** A peer that hands every complete command (without 0x1a) to `on`. */
async function peer(on: (cmd: string, s: Socket) => void): Promise<number> {
  server = createServer((s) => {
    let buf = "";
    s.on("data", (d) => {
      buf += d.toString("latin1");
      let i: number;
      while ((i = buf.indexOf("\x1a")) >= 0) {
        on(buf.slice(0, i), s);
        buf = buf.slice(i + 1);
      }
    });
    s.on("error", () => undefined);
  });
  await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
  return (server.address() as { port: number }).port;
}

const inner = (script: string): string => /capture \{(.*)\}\} _cf_out/.exec(script)![1]!;

describe("OpenOcdRpc", () => {
  it("takes replies split byte by byte, one command at a time, in order", async () => {
    const seen: string[] = [];
    const port = await peer((cmd, s) => {
      seen.push(inner(cmd));
      if (seen.length === 1) for (const ch of "0 first\n\x1a") s.write(ch);
      if (seen.length === 2) {
        s.write("0 sec");
        setImmediate(() => s.write("ond\x1a"));
      }
      if (seen.length === 3) s.write("1 third failed\x1a");
    });
    const rpc = await OpenOcdRpc.connect("127.0.0.1", port, realClock);
    // queued together; the client sends each after the previous reply (as OpenOCD serves them)
    const [a, b, c] = [rpc.run("one"), rpc.run("two"), rpc.run("three").catch((e: unknown) => e)];
    expect(await a).toBe("first");
    expect(await b).toBe("second");
    expect(await c).toMatchObject({
      code: "OPENOCD_COMMAND_FAILED",
      command: "three",
      output: "third failed",
    });
    expect(seen).toEqual(["one", "two", "three"]);
    await rpc.close();
  });

  it("a reply that is not the wrapper's is OPENOCD_PROTOCOL (another server on that port)", async () => {
    const port = await peer((_c, s) => s.write("Open On-Chip Debugger\r\n> \x1a"));
    const rpc = await OpenOcdRpc.connect("127.0.0.1", port, realClock);
    await expect(rpc.run("version")).rejects.toMatchObject({
      code: "OPENOCD_PROTOCOL",
      command: "version",
    });
    await rpc.close();
  });

  it("no reply within the deadline is a TIMEOUT naming the command, and the connection is dropped", async () => {
    const port = await peer(() => undefined);
    const rpc = await OpenOcdRpc.connect("127.0.0.1", port, realClock);
    await expect(rpc.run("at91samd chip-erase", { timeoutMs: 30 })).rejects.toMatchObject({
      code: "TIMEOUT",
      operation: "OpenOCD reply to at91samd chip-erase",
      timeoutMs: 30,
    });
    await expect(rpc.run("version")).rejects.toMatchObject({ code: "OPENOCD_UNREACHABLE" });
  });

  it("a peer that hangs up mid-command is OPENOCD_UNREACHABLE", async () => {
    const port = await peer((_c, s) => s.destroy());
    const rpc = await OpenOcdRpc.connect("127.0.0.1", port, realClock);
    await expect(rpc.run("version")).rejects.toMatchObject({ code: "OPENOCD_UNREACHABLE", port });
  });

  it("nothing listening: OPENOCD_UNREACHABLE at connect", async () => {
    const port = await peer(() => undefined);
    await new Promise<void>((r) => server!.close(() => r()));
    server = undefined;
    await expect(OpenOcdRpc.connect("127.0.0.1", port, realClock)).rejects.toMatchObject({
      code: "OPENOCD_UNREACHABLE",
      started: false,
    });
  });
});
