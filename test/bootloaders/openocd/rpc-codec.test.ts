import { describe, expect, it } from "vitest";
import {
  encodeCommand,
  parseWrappedReply,
  RpcFrameDecoder,
  tclWord,
  wrapCommand,
} from "../../../src/bootloaders/openocd/rpc-codec.js";

const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "latin1"));

describe("OpenOCD TCL RPC codec", () => {
  it("ends a command with 0x1a", () => {
    expect([...encodeCommand("version")]).toEqual([...Buffer.from("version"), 0x1a]);
    expect(() => encodeCommand("a\x1ab")).toThrow(RangeError);
  });

  it("reassembles a reply split over reads", () => {
    const d = new RpcFrameDecoder();
    expect(d.push(bytes("Open On-Chip"))).toEqual([]);
    expect(d.buffered).toBe(12);
    expect(d.push(bytes(" Debugger 0.12.0"))).toEqual([]);
    expect(d.push(bytes("\x1a"))).toEqual(["Open On-Chip Debugger 0.12.0"]);
    expect(d.buffered).toBe(0);
  });

  it("hands out several replies of one read in order, keeping the rest", () => {
    const d = new RpcFrameDecoder();
    expect(d.push(bytes("0 a\x1a1 b\x1a\x1a0 c"))).toEqual(["0 a", "1 b", ""]);
    expect(d.push(bytes("d\x1a"))).toEqual(["0 cd"]);
  });

  it("keeps UTF-8 split across reads intact", () => {
    const d = new RpcFrameDecoder();
    const all = Buffer.from("0 µ\x1a", "utf8");
    expect(d.push(all.subarray(0, 3))).toEqual([]);
    expect(d.push(all.subarray(3))).toEqual(["0 µ"]);
  });

  it("quotes words Tcl would split or substitute", () => {
    expect(tclWord("/home/pi/out/klipper.elf")).toBe("/home/pi/out/klipper.elf");
    expect(tclWord(0x08000000)).toBe("134217728");
    expect(tclWord("/tmp/my file [1]{$x}.bin")).toBe('"/tmp/my file \\[1\\]\\{\\$x\\}.bin"');
  });

  it("wraps a command so its code and output come back together", () => {
    expect(wrapCommand("flash banks")).toBe(
      "set _cf_rc [catch {capture {flash banks}} _cf_out]; format {%d %s} $_cf_rc $_cf_out",
    );
    expect(() => wrapCommand("echo }{")).toThrow(RangeError);
    expect(() => wrapCommand(`program ${tclWord("/a{b.bin")}`)).not.toThrow();
  });

  it("splits wrapped replies", () => {
    expect(parseWrappedReply("0 ")).toEqual({ code: 0, output: "" });
    expect(parseWrappedReply("0 hi\n")).toEqual({ code: 0, output: "hi" });
    expect(parseWrappedReply('1 invalid command name "reset"')).toEqual({
      code: 1,
      output: 'invalid command name "reset"',
    });
    expect(parseWrappedReply("Open On-Chip Debugger")).toBeUndefined();
  });
});
