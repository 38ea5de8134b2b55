// The SAM-BA adapter through the flasher core, against the models on
// virtual time: every board writes, verifies and starts the new image; the
// UART (XMODEM) path; a verify that fails leaves the board in its monitor
// without boot-from-flash; a monitor that hangs, a locked bootloader and a
// wrong chip are typed errors with nothing written.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SamBaAdapter } from "../../../src/bootloaders/sam-ba/adapter.js";
import {
  SamBaFlashError,
  SamBaProtocolError,
  SamBaWrongChipError,
} from "../../../src/bootloaders/sam-ba/errors.js";
import {
  DigestMismatchError,
  FlashError,
  VerifyMismatchError,
} from "../../../src/flasher/errors.js";
import { runFlash } from "../../../src/flasher/execute.js";
import type { SamBaBoardKind } from "../../../src/sim/sam-ba/board.js";
import { arduinoZero, sam3xRom } from "../../../src/sim/sam-ba/personalities.js";
import { findTarget, type Target } from "../../../src/targets/index.js";
import { UsbTree } from "../../../src/transport/usb-tree.js";
import { randomBytes } from "../../../src/util/random.js";
import { pair } from "./pair.js";

const dir = mkdtempSync(join(tmpdir(), "samba-adapter-"));
const device = join(dir, "ttyACM0");
writeFileSync(device, "");
/** A port sysfs does not know (a pty): nothing to look up, on virtual time. */
const tree = { resolveTty: async () => undefined } as unknown as UsbTree;

function rig(
  kind: SamBaBoardKind,
  target: Target,
  o: Parameters<typeof pair>[0] extends infer P ? Partial<P> : never = {},
  transport?: "usb" | "uart",
) {
  const p = pair({ kind, ...o });
  const adapter = new SamBaAdapter({
    device,
    target,
    tree,
    open: async () => p.host,
    ...(transport ? { transport } : {}),
  });
  const flash = (img: Uint8Array, at: number) =>
    p.clock.run(runFlash(adapter, { segments: [{ address: at, data: img }] }, { clock: p.clock }));
  return { ...p, adapter, flash };
}

const CASES = [
  ["zero", "samd21-zero-bossac", 0x2000, 10_000],
  ["uf2-samd51", "samd51-uf2-bossac", 0x4000, 30_000],
  ["due", "sam3x-bossac", 0x80000, 300_000],
  ["duet-sam4e", "sam4-bossac", 0x400000, 40_000],
] as const;

describe("SAM-BA through the flasher core", () => {
  it.each(CASES)(
    "%s (%s): writes, verifies, starts the application",
    async (kind, id, at, size) => {
      const r = rig(kind, findTarget(id));
      const img = randomBytes(size, size);
      const res = await r.flash(img, at);
      expect(res.verified).toBe(true);
      expect(Buffer.from(r.board.application(size)).equals(Buffer.from(img))).toBe(true);
      await r.clock.run(new Promise((ok) => r.clock.schedule(50, () => ok(undefined))));
      expect(r.board.mode).toBe("app");
      if (kind === "due" || kind === "duet-sam4e") expect(r.board.bootFromFlash).toBe(true);
      // SAM3X: 300 KB cross into the second EEFC plane
    },
  );

  it("the Due's ROM over its UART: S and R as XMODEM-CRC", async () => {
    const r = rig("due-programming-port", findTarget("sam3x-bossac"), { iface: "uart" }, "uart");
    const img = randomBytes(3000, 4);
    await r.flash(img, 0x80000);
    expect(Buffer.from(r.board.application(3000)).equals(Buffer.from(img))).toBe(true);
    expect(
      r.board.events.some((e) => e.type === "xmodem" && e.dir === "rx" && e.result === "ok"),
    ).toBe(true);
    expect(
      r.board.events.some((e) => e.type === "xmodem" && e.dir === "tx" && e.result === "ok"),
    ).toBe(true);
  });

  it("Z disagrees (a monitor whose Y drops the last word): digest mismatch, no reset — the board stays in the monitor", async () => {
    const base = arduinoZero();
    const personality = {
      ...base,
      extensions: {
        ...base.extensions,
        Y: (
          chip: Parameters<NonNullable<typeof base.extensions>["Y"] & object>[0],
          a: number,
          n: number,
        ) => base.extensions!.Y!(chip, a, n > 4 ? n - 4 : n),
      },
    };
    const r = rig("zero", findTarget("samd21-zero-bossac"), { personality });
    const e = await r.flash(randomBytes(5000, 5), 0x2000).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FlashError);
    expect((e as FlashError).cause).toBeInstanceOf(DigestMismatchError);
    expect(r.board.events.filter((x) => x.type === "boot")).toHaveLength(1);
  });

  it("EEFC read-back finds a bad byte: verify mismatch at its address, GPNVM1 stays clear", async () => {
    const base = sam3xRom({ base: 0x80000, size: 0x80000 });
    const personality = {
      ...base,
      readQuirk: (
        bus: Parameters<typeof base.readQuirk>[0],
        a: number,
        n: number,
        i: "usb" | "uart",
      ) => {
        const d = base.readQuirk(bus, a, n, i);
        if (n > 100) d[100]! ^= 0x40;
        return d;
      },
    };
    const r = rig("due", findTarget("sam3x-bossac"), { personality });
    const e = await r.flash(randomBytes(2048, 6), 0x80000).catch((x: unknown) => x);
    expect((e as FlashError).cause).toBeInstanceOf(VerifyMismatchError);
    expect(r.board.bootFromFlash).toBe(false);
    expect(r.board.mode).toBe("monitor");
  });

  it("a monitor that hangs mid-way (a bus fault): a protocol error, not a hang of canflash", async () => {
    const target = { ...findTarget("samd21-zero-bossac"), appStart: 0x2000 };
    const r = rig("zero", target);
    r.board.monitor!.receive(new TextEncoder().encode("w60000000,4#"));
    const e = await r.flash(randomBytes(1000, 7), 0x2000).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FlashError);
  });

  it("a write into the UF2 bootloader's BOOTPROT area is named: locked, at its address", async () => {
    const target = { ...findTarget("samd51-uf2-bossac"), appStart: 0 };
    const r = rig("uf2-samd51", target);
    const e = await r.flash(randomBytes(1000, 8), 0).catch((x: unknown) => x);
    const cause = (e as FlashError).cause as SamBaFlashError;
    expect(cause).toBeInstanceOf(SamBaFlashError);
    expect(cause).toMatchObject({ reason: "locked", address: 0, operation: "erase" });
    expect(
      Buffer.from(r.board.flash().slice(0, 0x4000)).equals(Buffer.from(r.board.bootloader)),
    ).toBe(true);
  });

  it("another chip than the row's: refused at connect, nothing written", async () => {
    const r = rig("zero", findTarget("sam3x-bossac"));
    const e = await r.flash(randomBytes(1000, 9), 0x80000).catch((x: unknown) => x);
    const cause = (e as FlashError).cause as SamBaWrongChipError;
    expect(cause).toBeInstanceOf(SamBaWrongChipError);
    expect(cause).toMatchObject({
      foundMcu: "samd21g18a",
      suggestedTargets: ["samd21-zero-bossac", "samd21-m0-stk500v2"].filter(
        (t) => findTarget(t).protocol === "sam-ba",
      ),
    });
    expect((e as FlashError).deviceState).toBe("untouched");
    const letters = r.board.events
      .flatMap((x) => (x.type === "command" ? [x.letter] : []))
      .join("");
    expect(letters).toMatch(/^[NVwo]+$/);
  });

  it("no monitor on the port (silence): no answer, named", async () => {
    const r = rig("zero", findTarget("sam3x-bossac"));
    r.board.stop();
    const e = await r.clock.run(
      runFlash(
        r.adapter,
        { segments: [{ address: 0x80000, data: new Uint8Array(10) }] },
        { clock: r.clock },
      ).catch((x: unknown) => x),
    );
    expect((e as FlashError).cause.message).toMatch(/no SAM-BA monitor answered/);
    expect(SamBaProtocolError).toBeDefined();
  });
});
