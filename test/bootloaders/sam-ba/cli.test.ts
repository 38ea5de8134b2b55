// SAM-BA as users meet it: `canflash --target … -d <tty> file` against the
// models on ptys (the CLI in this process), and the entries through the
// library with a fake sysfs: Klipper's 1200-baud touch on a SAMD21 and the
// Due's native port (followed to the re-enumerated bootloader), the Due's
// programming port (the touch erases: said before), a refused board put
// back into its application.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SamBaAdapter } from "../../../src/bootloaders/sam-ba/adapter.js";
import type { FlashEvent } from "../../../src/flash-api/progress.js";
import { runFlash } from "../../../src/flasher/execute.js";
import { klipperImage } from "../../../src/sim/klipper-image.js";
import {
  SamBaBoard,
  type SamBaBoardKind,
  type WatchedDeviceLink,
} from "../../../src/sim/sam-ba/board.js";
import { findTarget } from "../../../src/targets/index.js";
import { preciseClock } from "../../../src/util/clock.js";
import { runInProcess } from "../../cli/helpers.js";
import { openPty, type Pty } from "../../fakes/pty.js";
import { FakeUsbSysfs } from "../../fakes/usb-sysfs.js";

const dir = mkdtempSync(join(tmpdir(), "samba-cli-"));
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function pty(): Promise<Pty> {
  const p = await openPty();
  cleanups.push(() => p.close());
  return p;
}
const link = (p: Pty): WatchedDeviceLink => ({
  write: (b) => p.write(b),
  onData: (cb) => p.onData(cb),
  onBaud: (cb) => p.onBaud(cb),
});

async function board(
  kind: SamBaBoardKind,
  o: Partial<ConstructorParameters<typeof SamBaBoard>[1]> = {},
) {
  const p = await pty();
  const b = new SamBaBoard(link(p), { kind, clock: preciseClock, ...o });
  cleanups.push(() => b.stop());
  return { p, b };
}

async function until(cond: () => boolean | Promise<boolean>, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

const file = (name: string, data: Uint8Array) => {
  const f = join(dir, name);
  writeFileSync(f, data);
  return f;
};
const zeroImage = klipperImage({
  mcu: "samd21g18a",
  appStart: 0x2000,
  size: 12_000,
  transport: "usb",
});
const writes = (b: SamBaBoard) =>
  b.events.filter((e) => e.type === "command" && /[SWOHYXG]/.test(e.letter));

describe("canflash --target <row> -d <tty> file", () => {
  it("samd21-zero-bossac: written, verified with Z, reset into the application", async () => {
    const { p, b } = await board("zero");
    const f = file("zero.bin", zeroImage);
    const r = await runInProcess(["--target", "samd21-zero-bossac", "-d", p.path, f]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toMatch(
      /Arduino Zero SAM-BA \(8 KiB\) \(v2\.0 \[Arduino:XYZ\] .*\) on samd21g18a \(DID 0x10010005\)/,
    );
    expect(r.stdout + r.stderr).toMatch(/Wrote and verified 12000 bytes/);
    expect(Buffer.from(b.application(12_000)).equals(Buffer.from(zeroImage))).toBe(true);
    expect(b.events.some((e) => e.type === "command" && e.letter === "Z")).toBe(true);
    await until(() => b.mode === "app");
  });

  it("--json: the result object says ok", async () => {
    const { p } = await board("uf2-samd51");
    const f = file(
      "m4.bin",
      klipperImage({ mcu: "samd51j19a", appStart: 0x4000, size: 9000, transport: "usb" }),
    );
    const r = await runInProcess(["--target", "samd51-uf2-bossac", "-d", p.path, "--json", f]);
    const last = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as {
      ok: boolean;
      exitCode: number;
    };
    expect(last).toMatchObject({ ok: true, exitCode: 0 });
  });

  it("a SAM3X image for the Zero row: exit 6 before the port is opened", async () => {
    const { p, b } = await board("zero");
    const f = file(
      "due.bin",
      klipperImage({ mcu: "sam3x8e", appStart: 0x80000, size: 4096, transport: "usb" }),
    );
    const r = await runInProcess(["--target", "samd21-zero-bossac", "-d", p.path, f]);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/built for sam3x8e, but target samd21-zero-bossac is samd21g18a/);
    expect(b.events.filter((e) => e.type === "command")).toEqual([]);
  });

  it("the Zero row on a Due: exit 6 naming the chip and the row that fits; nothing written", async () => {
    const { p, b } = await board("due");
    const f = file("z2.bin", zeroImage);
    const r = await runInProcess(["--target", "samd21-zero-bossac", "-d", p.path, f]);
    expect(r.code, r.stderr).toBe(6);
    expect(r.stderr).toMatch(/runs on sam3x8e \(CHIPID 0x285e0a60\)/);
    expect(r.stderr).toContain("--target sam3x-bossac");
    expect(writes(b)).toEqual([]);
  });

  it("an Intel HEX at 0x0000 on the Zero row (over its 8 KiB bootloader): exit 6, nothing sent", async () => {
    const { p, b } = await board("zero");
    const hex = [
      ":020000040000FA",
      ":10000000000102030405060708090A0B0C0D0E0F78",
      ":00000001FF",
    ].join("\n");
    const f = file("at0.hex", new TextEncoder().encode(hex));
    const r = await runInProcess(["--target", "samd21-zero-bossac", "-d", p.path, f]);
    expect(r.code, r.stderr).toBe(6);
    expect(r.stderr).toMatch(/below the application area at 0x2000/);
    expect(b.events.filter((e) => e.type === "command")).toEqual([]);
  });

  it("-s reads the monitor's version and chip, writes nothing", async () => {
    const { p, b } = await board("duet-sam4e");
    const r = await runInProcess(["--target", "sam4-bossac", "-d", p.path, "-s"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/sam4e8e/);
    expect(writes(b)).toEqual([]);
  });
  it("-r on a board already in its monitor: says so, writes nothing", async () => {
    const { p, b } = await board("zero");
    const r = await runInProcess(["--target", "samd21-zero-bossac", "-d", p.path, "-r"]);
    expect(r.code, r.stderr).toBe(0);
    expect(writes(b)).toEqual([]);
    expect(b.mode).toBe("monitor");
  });
});

describe("entering the monitor from the application", () => {
  async function usbBoard(
    kind: SamBaBoardKind,
    app: { vid: string; pid: string; manufacturer: string },
    boot: { vid: string; pid: string },
    application: Uint8Array,
  ) {
    const usb = new FakeUsbSysfs();
    cleanups.push(() => usb.cleanup());
    let n = 0;
    const first = await pty();
    const plug = (p: Pty, id: { vid: string; pid: string; manufacturer?: string }) =>
      usb.plug({
        usbPath: "1-1.2",
        vid: id.vid,
        pid: id.pid,
        manufacturer: id.manufacturer ?? "Arduino",
        product: kind,
        serial: "0123",
        tty: { name: `ttyACM${n++}`, target: p.path },
      });
    const byId = plug(first, app)!;
    const b = new SamBaBoard(link(first), {
      kind,
      clock: preciseClock,
      boot: "app",
      application,
      reenumerate: async (into) => {
        const p = await pty();
        plug(p, into === "monitor" ? boot : app);
        return link(p);
      },
    });
    cleanups.push(() => b.stop());
    return { usb, b, byId };
  }

  it("Klipper on a SAMD21: the 1200-baud touch, the board followed to 2341:004d, flashed, back in the application", async () => {
    const old = klipperImage({
      mcu: "samd21g18a",
      appStart: 0x2000,
      size: 8000,
      transport: "usb",
      seed: 2,
    });
    const { usb, b, byId } = await usbBoard(
      "zero",
      { vid: "1d50", pid: "614e", manufacturer: "Klipper" },
      { vid: "2341", pid: "004d" },
      old,
    );
    const events: FlashEvent[] = [];
    const r = await runFlash(
      new SamBaAdapter({ device: byId, target: findTarget("samd21-zero-bossac"), tree: usb.tree }),
      { segments: [{ address: 0x2000, data: zeroImage }] },
      { onEvent: (e) => events.push(e) },
    );
    expect(r.verified).toBe(true);
    const info = events.flatMap((e) => (e.type === "info" ? [e.message] : []));
    expect(
      info.some((m) => /runs Klipper \(1d50:614e Klipper zero\): 1200-baud touch/.test(m)),
    ).toBe(true);
    expect(info.some((m) => /USB port 1-1.2 came back as 2341:004d/.test(m))).toBe(true);
    expect(b.events.some((e) => e.type === "touch")).toBe(true);
    expect(Buffer.from(b.application(zeroImage.length)).equals(Buffer.from(zeroImage))).toBe(true);
    await until(() => b.mode === "app");
  });

  it("a refusal after the touch (the Due row on a SAMD21 running Klipper): nothing written, and the board is back in Klipper", async () => {
    const old = klipperImage({
      mcu: "samd21g18a",
      appStart: 0x2000,
      size: 8000,
      transport: "usb",
      seed: 2,
    });
    const { usb, b, byId } = await usbBoard(
      "zero",
      { vid: "1d50", pid: "614e", manufacturer: "Klipper" },
      { vid: "2341", pid: "004d" },
      old,
    );
    const e = await runFlash(
      new SamBaAdapter({ device: byId, target: findTarget("sam3x-bossac"), tree: usb.tree }),
      { segments: [{ address: 0x80000, data: new Uint8Array(256) }] },
    ).catch((x: unknown) => x);
    expect((e as Error).message).toMatch(/runs on samd21g18a/);
    expect(writes(b).filter((x) => x.type === "command" && x.letter !== "W")).toEqual([]);
    await until(() => b.mode === "app");
    expect(Buffer.from(b.application(old.length)).equals(Buffer.from(old))).toBe(true);
  });

  it("Klipper on the Due's native port: the touch clears GPNVM1, the ROM (03eb:6124) is followed, GPNVM1 is set again after verify", async () => {
    const img = klipperImage({ mcu: "sam3x8e", appStart: 0x80000, size: 20_000, transport: "usb" });
    const { usb, b, byId } = await usbBoard(
      "due",
      { vid: "1d50", pid: "614e", manufacturer: "Klipper" },
      { vid: "03eb", pid: "6124" },
      randomish(30_000),
    );
    const r = await runFlash(
      new SamBaAdapter({ device: byId, target: findTarget("sam3x-bossac"), tree: usb.tree }),
      { segments: [{ address: 0x80000, data: img }] },
    );
    expect(r.verified).toBe(true);
    await until(() => b.mode === "app");
    expect(b.bootFromFlash).toBe(true);
    expect(Buffer.from(b.application(img.length)).equals(Buffer.from(img))).toBe(true);
  });

  it("the Due's programming port: the info event says the old firmware is gone before the touch erases it", async () => {
    const usb = new FakeUsbSysfs();
    cleanups.push(() => usb.cleanup());
    const p = await pty();
    const byId = usb.plug({
      usbPath: "1-1.4",
      vid: "2341",
      pid: "003d",
      manufacturer: "Arduino",
      product: "Due Prog. Port",
      serial: "7",
      tty: { name: "ttyACM5", target: p.path },
    })!;
    const b = new SamBaBoard(link(p), {
      kind: "due-programming-port",
      clock: preciseClock,
      boot: "app",
      application: randomish(4096),
    });
    cleanups.push(() => b.stop());
    const img = klipperImage({
      mcu: "sam3x8e",
      appStart: 0x80000,
      size: 3000,
      transport: "serial",
    });
    const events: FlashEvent[] = [];
    const r = await runFlash(
      new SamBaAdapter({ device: byId, target: findTarget("sam3x-bossac"), tree: usb.tree }),
      { segments: [{ address: 0x80000, data: img }] },
      { onEvent: (e) => events.push(e) },
    );
    expect(r.verified).toBe(true);
    const info = events.flatMap((e) => (e.type === "info" ? [e.message] : []));
    const gone = info.findIndex((m) => /the old firmware is gone from this moment/.test(m));
    expect(gone).toBeGreaterThanOrEqual(0);
    expect(b.events.findIndex((e) => e.type === "touch")).toBeGreaterThan(0);
    expect(Buffer.from(b.application(img.length)).equals(Buffer.from(img))).toBe(true);
    expect(b.events.some((e) => e.type === "xmodem")).toBe(true);
  });

  it("a port that is Katapult (1d50:6177): named as Katapult, nothing sent, no touch", async () => {
    const usb = new FakeUsbSysfs();
    cleanups.push(() => usb.cleanup());
    const p = await pty();
    const seen: Uint8Array[] = [];
    p.onData((d) => seen.push(d));
    const byId = usb.plug({
      usbPath: "1-1.6",
      vid: "1d50",
      pid: "6177",
      manufacturer: "katapult",
      product: "samd21g18a",
      serial: "9",
      tty: { name: "ttyACM7", target: p.path },
    })!;
    const e = await runFlash(
      new SamBaAdapter({ device: byId, target: findTarget("samd21-zero-bossac"), tree: usb.tree }),
      { segments: [{ address: 0x2000, data: new Uint8Array(64) }] },
    ).catch((x: unknown) => x);
    expect((e as Error).message).toMatch(/the port is Katapult \(1d50:6177/);
    expect(seen).toEqual([]);
    expect(p.baud === 1200).toBe(false);
  });

  it("a port that answers nothing, on a row with a double-tap entry: the prompt names the buttons, then a deadline", async () => {
    const p = await pty();
    const events: FlashEvent[] = [];
    const e = await runFlash(
      new SamBaAdapter({
        device: p.path,
        target: findTarget("samd21-zero-bossac"),
        manualTimeoutMs: 600,
      }),
      { segments: [{ address: 0x2000, data: new Uint8Array(64) }] },
      { onEvent: (x) => events.push(x) },
    ).catch((x: unknown) => x);
    expect((e as Error).message).toMatch(
      /did not show up on .* within 1 s of the prompt \(double-reset\)/,
    );
    const prompt = events.find((x) => x.type === "info" && x.data?.["prompt"] === "double-reset");
    expect(prompt && prompt.type === "info" && prompt.message).toMatch(
      /double-tap the board's reset button now/,
    );
  });
});

function randomish(n: number): Uint8Array {
  return klipperImage({ mcu: "sam3x8e", appStart: 0x80000, size: n, transport: "usb", seed: 7 });
}
