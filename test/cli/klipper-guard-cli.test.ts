// A running Klipper and canflash: boards it holds are refused (exit 7,
// nothing sent) unless --stop-klipper, which stops it, flashes and starts
// it again — after a failure and after Ctrl-C too; never while printing.
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { VirtualCanChannel } from "../../src/can/virtual.js";
import { run } from "../../src/cli/program.js";
import type { CliIo } from "../../src/cli/io.js";
import type { DetectOptions } from "../../src/klippy-bridge/klippy.js";
import { SimCanDevice, type SimCanDeviceOptions } from "../../src/sim/device.js";
import { randomBytes } from "../../src/util/random.js";
import { fakeMoonraker, type FakeMoonraker } from "../fakes/moonraker.js";
import { runInProcess } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "canflash-guard-"));
const emptyProc = mkdtempSync(join(tmpdir(), "canflash-proc-"));
const firmware = join(dir, "klipper.bin");
const image = randomBytes(16 * 1024, 77);
image.set([0, 0x80, 0, 0x20, 0x01, 0x21, 0, 0x08]);
writeFileSync(firmware, image);

const HELD = "0000000000a1";
const FREE = "0000000000b2";
let n = 0;
let channel: VirtualCanChannel | undefined;
let devices: SimCanDevice[] = [];
let moonraker: FakeMoonraker | undefined;
afterEach(async () => {
  await Promise.all(devices.map((d) => d.close()));
  devices = [];
  channel?.remove();
  await moonraker?.close();
  moonraker = undefined;
});

function bus(boards: SimCanDeviceOptions[]): string {
  channel = VirtualCanChannel.create(`guard-${n++}`, { bitrate: 1_000_000 });
  devices = boards.map((b) => {
    const d = new SimCanDevice(channel!.open({ txQueueLength: 3 }), b);
    d.start();
    return d;
  });
  return `virtual:${channel.name}`;
}

function printerCfg(iface: string): string {
  const path = join(dir, `printer-${n++}.cfg`);
  writeFileSync(
    path,
    `[mcu]\nserial: /dev/ttyACM9\n[mcu EBB]\ncanbus_uuid: ${HELD}\ncanbus_interface: ${iface}\n`,
  );
  return path;
}

async function klipperRunning(o: { printState?: string } = {}): Promise<DetectOptions> {
  moonraker = await fakeMoonraker({ running: true, ...o });
  return { procRoot: emptyProc, systemctl: null, moonrakerUrl: moonraker.url, socketPaths: [] };
}

const posts = () => moonraker!.requests.filter((r) => r.startsWith("POST"));

describe("flashing while Klipper runs", () => {
  it("refuses a board Klipper holds: exit 7, the board named, --stop-klipper suggested, nothing sent", async () => {
    const iface = bus([{ uuid: HELD, boot: "klipper" }]);
    const listener = channel!.open();
    const klipper = await klipperRunning();
    const r = await runInProcess(
      ["-i", iface, "-u", HELD, "--config", printerCfg(iface), firmware],
      dir,
      { klipper },
    );
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(
      new RegExp(`Klipper is running and holds ${HELD} \\(they are in .*printer-\\d+\\.cfg\\)`),
    );
    expect(r.stderr).toMatch(/canflash --stop-klipper -i virtual:guard-\d+ -u 0000000000a1/);
    expect(await listener.recv(20)).toBeUndefined();
    expect(posts()).toEqual([]);
    expect(devices[0]!.state.mode).toBe("klipper");
    await listener.close();
  });

  it("a board Klipper does not hold is flashed with Klipper left running", async () => {
    const iface = bus([{ uuid: FREE, boot: "katapult" }]);
    const klipper = await klipperRunning();
    const r = await runInProcess(
      ["-i", iface, "-u", FREE, "--config", printerCfg(iface), firmware],
      dir,
      { klipper },
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Klipper is running, but holds none of these boards/);
    expect(posts()).toEqual([]);
    expect(devices[0]!.writtenApplication()).toEqual(image);
  });

  it("without a readable printer.cfg every board counts as held", async () => {
    const iface = bus([{ uuid: FREE, boot: "katapult" }]);
    const klipper = await klipperRunning();
    const r = await runInProcess(["-i", iface, "-u", FREE, firmware], join(dir), {
      klipper,
      home: dir,
    });
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/printer\.cfg could not be read.*every board counts as held/);
  });

  it("--stop-klipper: stops it, flashes, starts it again", async () => {
    const iface = bus([{ uuid: HELD, boot: "klipper" }]);
    const klipper = await klipperRunning();
    const r = await runInProcess(
      ["-i", iface, "-u", HELD, "--stop-klipper", "--config", printerCfg(iface), firmware],
      dir,
      { klipper },
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /Stopping Klipper \(it holds 0000000000a1\)[\s\S]*Klipper stopped \(via moonraker\)[\s\S]*Starting the new firmware[\s\S]*Klipper started \(via moonraker\): ready[\s\S]*Programming Complete\n$/,
    );
    expect(posts()).toEqual([
      "POST /machine/services/stop?service=klipper",
      "POST /machine/services/start?service=klipper",
    ]);
    expect(moonraker!.running).toBe(true);
    expect(devices[0]!.writtenApplication()).toEqual(image);
  });

  it("--stop-klipper restarts Klipper after a failed flash, and says when it does not come up ready", async () => {
    const iface = bus([]); // the held board is not there: the flash fails
    const klipper = await klipperRunning();
    moonraker!.stateAfterStart = "error";
    const r = await runInProcess(
      ["-i", iface, "-u", HELD, "--stop-klipper", "--config", printerCfg(iface), firmware],
      dir,
      { klipper },
    );
    expect(r.code).toBe(3);
    expect(posts()).toEqual([
      "POST /machine/services/stop?service=klipper",
      "POST /machine/services/start?service=klipper",
    ]);
    expect(r.stdout).toMatch(/Klipper started \(via moonraker\) but reports "error"/);
  });

  it("--stop-klipper restarts Klipper after Ctrl-C in the middle of the write", async () => {
    const iface = bus([{ uuid: HELD, boot: "katapult" }]);
    const klipper = await klipperRunning();
    const ac = new AbortController();
    let stdout = "";
    const io: CliIo = {
      stdout: {
        write: (t) => {
          stdout += t;
          if (/write 25%/.test(t)) ac.abort(new Error("SIGINT"));
        },
      },
      stderr: { write: () => undefined },
      env: {},
      cwd: dir,
      host: { klipper },
    };
    const code = await run(
      ["-i", iface, "-u", HELD, "--stop-klipper", "--config", printerCfg(iface), firmware],
      io,
      ac.signal,
    );
    expect(code).toBe(130);
    expect(stdout).toMatch(/write 25%[\s\S]*Klipper started \(via moonraker\): ready/);
    expect(moonraker!.running).toBe(true);
    expect(devices[0]!.state.mode).toBe("katapult"); // the partial image is never started
  });

  it("never stops Klipper in the middle of a print", async () => {
    const iface = bus([{ uuid: HELD, boot: "klipper" }]);
    const klipper = await klipperRunning({ printState: "printing" });
    const r = await runInProcess(
      ["-i", iface, "-u", HELD, "--stop-klipper", "--config", printerCfg(iface), firmware],
      dir,
      { klipper },
    );
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/Klipper is printing: canflash will not stop it/);
    expect(posts()).toEqual([]);
  });

  it("refuses a serial port a klippy process has open (seen in /proc)", async () => {
    const proc = mkdtempSync(join(tmpdir(), "canflash-proc-"));
    mkdirSync(join(proc, "4242", "fd"), { recursive: true });
    writeFileSync(
      join(proc, "4242", "cmdline"),
      [
        "/home/pi/klippy-env/bin/python",
        "/home/pi/klipper/klippy/klippy.py",
        "/home/pi/printer_data/config/printer.cfg",
      ].join("\0"),
    );
    writeFileSync(join(proc, "4242", "comm"), "python\n");
    const tty = join(dir, "ttyACM0");
    writeFileSync(tty, "");
    symlinkSync(tty, join(proc, "4242", "fd", "3"));
    const r = await runInProcess(["-d", tty, firmware], dir, {
      klipper: { procRoot: proc, systemctl: null, moonrakerUrl: null, socketPaths: [] },
      home: dir,
    });
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/Klipper is running and holds .*ttyACM0/);
  });
});

describe("-r and -s while Klipper runs", () => {
  it("-r on a held node is refused; with --stop-klipper Klipper is stopped and stays stopped", async () => {
    const iface = bus([{ uuid: HELD, boot: "klipper" }]);
    const klipper = await klipperRunning();
    const cfg = printerCfg(iface);
    const refused = await runInProcess(["-i", iface, "-r", "-u", HELD, "--config", cfg], dir, {
      klipper,
    });
    expect(refused.code).toBe(7);
    expect(devices[0]!.state.mode).toBe("klipper");
    const r = await runInProcess(
      ["-i", iface, "-r", "-u", HELD, "--stop-klipper", "--config", cfg],
      dir,
      { klipper },
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Klipper stays stopped while the board waits in its bootloader/);
    expect(posts()).toEqual(["POST /machine/services/stop?service=klipper"]);
    expect(devices[0]!.state.mode).toBe("katapult");
  });
});
