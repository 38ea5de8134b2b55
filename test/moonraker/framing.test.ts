// Moonraker's socket framing: JSON then 0x03, messages split or joined
// arbitrarily by the stream.
import { describe, expect, it } from "vitest";
import { encodeMessage, MessageSplitter } from "../../src/moonraker/framing.js";

describe("framing", () => {
  it("ends each message with 0x03", () => {
    const b = encodeMessage({ jsonrpc: "2.0", method: "server.info", id: 1 });
    expect(b.at(-1)).toBe(0x03);
    expect(b.subarray(0, -1).toString()).toBe('{"jsonrpc":"2.0","method":"server.info","id":1}');
  });

  it("splits joined messages and keeps a cut one for the next chunk, byte by byte too", () => {
    const a = encodeMessage({ n: 1, text: "Grüße ✓" });
    const b = encodeMessage({ n: 2 });
    const all = Buffer.concat([a, b]);
    const s = new MessageSplitter();
    expect(s.push(all).map((t) => JSON.parse(t) as unknown)).toEqual([
      { n: 1, text: "Grüße ✓" },
      { n: 2 },
    ]);
    const one = new MessageSplitter();
    const got: string[] = [];
    for (const byte of all) got.push(...one.push(Uint8Array.of(byte)));
    expect(got.map((t) => JSON.parse(t) as unknown)).toEqual([{ n: 1, text: "Grüße ✓" }, { n: 2 }]);
    expect(one.pending).toBe(0);
    expect(one.push(a.subarray(0, 5))).toEqual([]);
    expect(one.pending).toBe(5);
  });
});
