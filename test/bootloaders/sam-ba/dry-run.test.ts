// A dry run changes nothing on a SAM-BA board: where the monitor already
// answers, canflash greets it, reads the chip id and plans — only reads go
// out (no S, W, O, H, X, Y, G: no applet, no flash or GPNVM command); where
// the board runs Klipper, it stops before the 1200-baud touch.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DryRunStopError } from "../../../src/flash-api/errors.js";
import { flashBoards } from "../../../src/flasher/flash-boards.js";
import { prepareRequests } from "../../../src/flasher/requests.js";
import { klipperImage } from "../../../src/sim/klipper-image.js";
import { SamBaBoard, type SamBaBoardKind } from "../../../src/sim/sam-ba/board.js";
import { findTarget } from "../../../src/targets/index.js";
import { preciseClock } from "../../../src/util/clock.js";
import { openPty } from "../../fakes/pty.js";
import { FakeUsbSysfs } from "../../fakes/usb-sysfs.js";

const dir = mkdtempSync(join(tmpdir(), "samba-dry-"));
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const ROWS: Array<[SamBaBoardKind, string, string, number]> = [
  ["zero", "samd21-zero-bossac", "samd21g18a", 0x2000],
  ["uf2-samd51", "samd51-uf2-bossac", "samd51j19a", 0x4000],
  ["due", "sam3x-bossac", "sam3x8e", 0x80000],
  ["duet-sam4e", "sam4-bossac", "sam4e8e", 0x400000],
];

describe("dry run: SAM-BA", () => {
  it.each(ROWS)(
    "%s: plans against the monitor with reads only",
    async (kind, id, mcu, appStart) => {
      const p = await openPty();
      cleanups.push(() => p.close());
      const b = new SamBaBoard(
        { write: (x) => p.write(x), onData: (cb) => p.onData(cb), onBaud: (cb) => p.onBaud(cb) },
        { kind, clock: preciseClock },
      );
      cleanups.push(() => b.stop());
      const before = Buffer.from(b.flash());
      const file = join(dir, `${kind}.bin`);
      writeFileSync(file, klipperImage({ mcu, appStart, size: 6000, transport: "usb" }));
      const requests = await prepareRequests(
        [{ label: p.path, device: p.path, iface: "can0", file, target: findTarget(id) }],
        { cwd: dir },
      );
      const [out] = await flashBoards(requests, {
        dryRun: true,
        klipper: { stopKlipper: false, cwd: dir },
      });
      expect(out!.status).toBe("dry-run");
      expect(out!.status === "dry-run" && out!.result?.plan.imageBytes).toBe(6000);
      const letters = b.events.flatMap((e) => (e.type === "command" ? [e.letter] : [])).join("");
      expect(letters).toMatch(/^N+V+[wo]+$/);
      expect(b.events.some((e) => e.type === "applet")).toBe(false);
      expect(Buffer.from(b.flash()).equals(before)).toBe(true);
      expect(b.mode).toBe("monitor");
    },
  );

  it("a board running Klipper over USB: stops where the touch would be, nothing sent to it", async () => {
    const usb = new FakeUsbSysfs();
    cleanups.push(() => usb.cleanup());
    const p = await openPty();
    cleanups.push(() => p.close());
    const byId = usb.plug({
      usbPath: "1-1.1",
      vid: "1d50",
      pid: "614e",
      manufacturer: "Klipper",
      product: "samd21g18a",
      serial: "1",
      tty: { name: "ttyACM0", target: p.path },
    })!;
    const b = new SamBaBoard(
      { write: (x) => p.write(x), onData: (cb) => p.onData(cb), onBaud: (cb) => p.onBaud(cb) },
      {
        kind: "zero",
        clock: preciseClock,
        boot: "app",
        application: klipperImage({
          mcu: "samd21g18a",
          appStart: 0x2000,
          size: 6000,
          transport: "usb",
          seed: 3,
        }),
      },
    );
    cleanups.push(() => b.stop());
    const file = join(dir, "k.bin");
    writeFileSync(
      file,
      klipperImage({ mcu: "samd21g18a", appStart: 0x2000, size: 6000, transport: "usb" }),
    );
    const requests = await prepareRequests(
      [
        {
          label: byId,
          device: byId,
          iface: "can0",
          file,
          target: findTarget("samd21-zero-bossac"),
        },
      ],
      { cwd: dir },
    );
    const [out] = await flashBoards(requests, {
      dryRun: true,
      usbTree: usb.tree,
      klipper: { stopKlipper: false, cwd: dir },
    });
    expect(out!.status).toBe("dry-run");
    expect(out!.status === "dry-run" && out!.stop).toBeInstanceOf(DryRunStopError);
    expect(out!.status === "dry-run" && out!.stop?.wouldDo).toMatch(/1200-baud touch/);
    expect(
      b.events.filter((e) => e.type === "touch" || (e.type === "boot" && e.why !== "power on")),
    ).toEqual([]);
    expect(b.mode).toBe("app");
  });
});
