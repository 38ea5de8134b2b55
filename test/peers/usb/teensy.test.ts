// The real teensy_loader_cli 2.2 (Debian) flashes the HalfKay at90usb1286
// model through canflash's stand-in libusb-0.1; canflash flashes a fresh
// model with the same HEX image over its socket backend; the two flash dumps must be identical
// (HalfKay cannot be read back, so the dump is the only check there is).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HalfKayAdapter } from "../../../src/bootloaders/halfkay/adapter.js";
import { decodeReport, halfKayPart } from "../../../src/bootloaders/halfkay/codec.js";
import { runFlash } from "../../../src/flasher/execute.js";
import { parseIntelHex } from "../../../src/flasher/image/index.js";
import { HalfKayModel } from "../../../src/sim/usb/halfkay.js";
import { SocketUsbBackend } from "../../../src/usb/index.js";
import { realClock } from "../../../src/util/clock.js";
import { randomBytes } from "../../../src/util/random.js";
import { intelHex } from "../../bootloaders/stm32-usart/images.js";
import { buildStandIn, dir, removeTempFiles, runTool, serveModel } from "./libusb0-harness.js";

async function until(cond: () => boolean, ms: number): Promise<void> {
  for (const end = Date.now() + ms; !cond() && Date.now() < end;)
    await new Promise((ok) => setTimeout(ok, 10));
}

const part = halfKayPart("at90usb1286")!;
let preload = "";

beforeAll(async () => {
  preload = await buildStandIn("libusb0-stand-in");
});
afterAll(removeTempFiles);

describe("teensy_loader_cli and canflash on the same HalfKay model", () => {
  it("teensy_loader_cli --mcu=at90usb1286 -w -v fw.hex: same dump as canflash's", async () => {
    const img = randomBytes(90 * 1024, 11); // past 64 KiB: the >> 16 address byte
    img.fill(0xff, 0x8000, 0x8300); // blank blocks: neither sends them
    const hexFile = join(dir, "fw.hex");
    const hex = intelHex(0, img);
    writeFileSync(hexFile, hex);

    const theirs = new HalfKayModel({ part, clock: realClock, name: "theirs" });
    const served = await serveModel(theirs, "halfkay");
    const r = await runTool("teensy_loader_cli", ["--mcu=at90usb1286", "-w", "-v", hexFile], {
      preload,
      sockets: [served.path],
      timeoutMs: 60_000,
    });
    await served.close();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Booting/);
    await until(() => theirs.mode === "program", 2000); // HalfKay leaves the bus just after the boot report
    expect(theirs.generation).toBeUndefined();

    const ours = new HalfKayModel({ part, clock: realClock, name: "ours" });
    const mine = await serveModel(ours, "halfkay-ours");
    const backend = new SocketUsbBackend(() => [mine.path]);
    const adapter = new HalfKayAdapter({ backend, part });
    const res = await runFlash(adapter, parseIntelHex(new TextEncoder().encode(hex)));
    await mine.close();
    expect(res.verified).toBe(false);
    expect(ours.mode).toBe("program");

    expect(Buffer.from(ours.flash).equals(Buffer.from(theirs.flash))).toBe(true);
    expect(Buffer.from(theirs.application().subarray(0, img.length)).equals(Buffer.from(img))).toBe(
      true,
    );
    expect(ours.blocks).toBe(theirs.blocks);
    // the same reports in the same order: block 0 first, blank blocks skipped, the boot report last
    const reports = (m: HalfKayModel) =>
      m.log.flatMap((q) => {
        if (q.op !== "control" || q.setup.bRequest !== 9 || !q.data) return [];
        const r = decodeReport(part, q.data);
        return r ? [r.kind === "boot" ? "boot" : r.address] : [];
      });
    expect(reports(ours)).toEqual(reports(theirs));
    expect(reports(theirs).at(-1)).toBe("boot");
  });

  it("teensy_loader_cli -w waits for HalfKay (the button pressed a second later), through the stand-in's rescans", async () => {
    const img = randomBytes(3000, 12);
    const hexFile = join(dir, "late.hex");
    writeFileSync(hexFile, intelHex(0, img));
    const m = new HalfKayModel({ part, clock: realClock, name: "late" });
    m.unplug();
    const served = await serveModel(m, "halfkay-late");
    const press = setTimeout(() => m.plug(), 1000);
    const r = await runTool("teensy_loader_cli", ["--mcu=at90usb1286", "-w", "-v", hexFile], {
      preload,
      sockets: [served.path],
      timeoutMs: 60_000,
    });
    clearTimeout(press);
    await served.close();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Waiting for Teensy device/);
    expect(Buffer.from(m.application().subarray(0, img.length)).equals(Buffer.from(img))).toBe(
      true,
    );
  });
});
