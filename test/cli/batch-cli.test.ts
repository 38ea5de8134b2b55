// Batch flashing from the command line: several -u, manifests, --json,
// --keep-going, --dry-run, exit codes — against simulated boards.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { VirtualCanChannel } from "../../src/can/virtual.js";
import { JsonEvent } from "../../src/cli/json-events.js";
import { SimCanDevice, type SimCanDeviceOptions } from "../../src/sim/device.js";
import { randomBytes } from "../../src/util/random.js";
import { canflash, runInProcess, appImage } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "canflash-batch-"));
const firmware = join(dir, "klipper.bin");
const image = randomBytes(8192, 51);
image.set([0, 0x80, 0, 0x20, 0x01, 0x21, 0, 0x08]);
writeFileSync(firmware, image);

let channel: VirtualCanChannel | undefined;
let devices: SimCanDevice[] = [];
let n = 0;
afterEach(async () => {
  await Promise.all(devices.map((d) => d.close()));
  channel?.remove();
  devices = [];
});

/** A named virtual bus (joined by `-i virtual:<name>`) with simulated boards. */
function bus(boards: SimCanDeviceOptions[]): string {
  channel = VirtualCanChannel.create(`batch-${n++}`, { bitrate: 1_000_000 });
  devices = boards.map((b) => {
    const d = new SimCanDevice(channel!.open({ txQueueLength: 3 }), b);
    d.start();
    return d;
  });
  return `virtual:${channel.name}`;
}

describe("batch flashing", () => {
  it("-u A -u B -u C flashes all three with one image and draws the final table", async () => {
    const r = await canflash([
      "-i",
      "sim",
      "-u",
      "8266c4636429",
      "-u",
      "ef00c3c43f24",
      "-u",
      "625720a262c6",
      firmware,
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/BOARD\s+UUID\/DEVICE\s+RESULT\s+BYTES\s+TIME/);
    for (const u of ["8266c4636429", "ef00c3c43f24", "625720a262c6"])
      expect(r.stdout).toMatch(new RegExp(`${u}\\s+${u}\\s+ok\\s+8\\.0 KiB`));
  });

  it("--json: every stdout line is a schema-valid event, start first, result last, nothing else", async () => {
    const r = await canflash([
      "-i",
      "sim",
      "-u",
      "8266c4636429",
      "-u",
      "625720a262c6",
      "--json",
      firmware,
    ]);
    expect(r.code).toBe(0);
    const events = r.stdout
      .trimEnd()
      .split("\n")
      .map((l) => JsonEvent.parse(JSON.parse(l)));
    expect(events[0]!.type).toBe("start");
    const last = events.at(-1)!;
    expect(last).toMatchObject({ type: "result", ok: true, exitCode: 0 });
    const boards = (last as { boards: Array<{ ms: number; cpuMs?: number }> }).boards;
    expect(boards).toHaveLength(2);
    // the CPU each flash took (the process's, shared by the two): measured, and bounded by the run
    for (const b of boards) {
      expect(b.cpuMs).toBeGreaterThan(0);
      expect(b.cpuMs!).toBeLessThan(b.ms * 4);
    }
    const phases = events
      .filter((e) => e.type === "phase" && e.board === "625720a262c6" && e.status === "end")
      .map((e) => (e as { phase: string }).phase);
    expect(phases).toEqual(["enter", "connect", "write", "verify", "finish"]);
    expect(
      events.some((e) => e.type === "progress" && e.bytes === e.totalBytes && e.phase === "verify"),
    ).toBe(true);
  });

  it("--json on failure: the result carries the error and the exit code; human text goes to stderr", async () => {
    const r = await canflash([
      "-i",
      "sim",
      "-u",
      "aabbccddeeff",
      "--json",
      "--query-ms",
      "100",
      firmware,
    ]);
    expect(r.code).toBe(3);
    const events = r.stdout
      .trimEnd()
      .split("\n")
      .map((l) => JsonEvent.parse(JSON.parse(l)));
    expect(events.at(-1)).toMatchObject({ type: "result", ok: false, exitCode: 3 });
    expect(r.stderr).toMatch(/did not answer/);
  });

  it("without --keep-going a failure stops new boards (skipped); with it the rest is flashed; exit code is the worst", async () => {
    for (const keepGoing of [false, true]) {
      const iface = bus([{ uuid: "8266c4636429", boot: "katapult" }]);
      const r = await runInProcess([
        "-i",
        iface,
        "-u",
        "0000000000aa",
        "-u",
        "8266c4636429",
        "--jobs",
        "1",
        ...(keepGoing ? ["--keep-going"] : []),
        firmware,
      ]);
      expect(r.code).toBe(3);
      expect(r.stdout).toMatch(
        new RegExp(`8266c4636429\\s+8266c4636429\\s+${keepGoing ? "ok" : "skipped"}`),
      );
      expect(r.stdout).toMatch(
        /0000000000aa\s+0000000000aa\s+FAILED \(NO_NODE, see below\)[\s\S]*\n {2}0000000000aa: enter failed: node 0000000000aa did not answer/,
      );
      expect(devices[0]!.events.some((e) => e.type === "write")).toBe(keepGoing);
      await Promise.all(devices.map((d) => d.close()));
      devices = [];
      channel!.remove();
    }
  }, 30_000);

  it("--dry-run plans Katapult boards, leaves Klipper boards running, and writes nothing", async () => {
    const iface = bus([
      { uuid: "8266c4636429", boot: "katapult" },
      { uuid: "625720a262c6", boot: "klipper" },
    ]);
    const r = await runInProcess([
      "-i",
      iface,
      "-u",
      "8266c4636429",
      "-u",
      "625720a262c6",
      "--dry-run",
      firmware,
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /8266c4636429\s+8266c4636429\s+dry-run \(see below\)[\s\S]*\n {2}8266c4636429: would write 128 blocks at 0x8002000\.\.0x8004000 to Katapult/,
    );
    expect(r.stdout).toMatch(
      /625720a262c6\s+625720a262c6\s+dry-run \(see below\)[\s\S]*\n {2}625720a262c6: 625720a262c6 runs its application: a real run would request its bootloader/,
    );
    expect(
      devices
        .flatMap((d) => d.events)
        .filter(
          (e) => e.type === "write" || e.type === "request-bootloader" || e.type === "complete",
        ),
    ).toEqual([]);
    expect(devices[1]!.state.mode).toBe("klipper");
  });
});

describe("manifests", () => {
  it("resolves firmware paths against the manifest's folder, and names its line when one is bad", async () => {
    const iface = bus([{ uuid: "8266c4636429", boot: "katapult" }]);
    const sub = join(dir, "farm");
    mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, "t0.bin"), image);
    const m = join(sub, "boards.yaml");
    writeFileSync(
      m,
      `interface: ${iface}\nboards:\n  - name: T0\n    uuid: 8266c4636429\n    firmware: t0.bin\n`,
    );
    const ok = await runInProcess(["--manifest", m], tmpdir()); // run from elsewhere
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    const bad = join(sub, "bad.yaml");
    writeFileSync(
      bad,
      `interface: ${iface}\nboards:\n  - name: T0\n    uuid: 8266c4636429\n    firmware: missing.bin\n`,
    );
    const r = await runInProcess(["--manifest", bad], tmpdir());
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`firmware file not found: ${join(sub, "missing.bin")}`);
    expect(r.stderr).toMatch(
      new RegExp(`from ${bad.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:3 \\(boards\\[0\\]\\)`),
    );
  });

  it("flashes the boards a YAML manifest lists, with per-board firmware and labels", async () => {
    const iface = bus([
      { uuid: "8266c4636429", boot: "katapult" },
      { uuid: "625720a262c6", boot: "klipper" },
    ]);
    const other = join(dir, "other.bin");
    const img2 = await appImage(4096, 52);
    writeFileSync(other, img2);
    const m = join(dir, "boards.yaml");
    writeFileSync(
      m,
      `interface: ${iface}\nfirmware: ${firmware}\nboards:\n  - name: EBBCan\n    uuid: 8266C4636429\n  - name: toolhead1\n    uuid: 625720a262c6\n    firmware: ${other}\n`,
    );
    const r = await runInProcess(["--manifest", m]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/EBBCan\s+8266c4636429\s+ok/);
    expect(r.stdout).toMatch(/toolhead1\s+625720a262c6\s+ok/);
    expect(devices[0]!.writtenApplication()).toEqual(image);
    expect(devices[1]!.writtenApplication().subarray(0, 4096)).toEqual(img2);
  });

  const bad: Array<[string, string, string, RegExp]> = [
    [
      "a typo'd field (YAML, with its line)",
      "m1.yaml",
      "boards:\n  - uuid: 8266c4636429\n    firmwre: x.bin\n",
      /m1\.yaml:3: boards\[0\]\.firmwre: unknown field firmwre/,
    ],
    [
      "a bad UUID (JSON)",
      "m2.json",
      '{"firmware":"x.bin","boards":[{"uuid":"8266c4636429"},{"uuid":"12345"}]}',
      /m2\.json:1: boards\[1\]\.uuid: not a CAN UUID/,
    ],
    [
      "uuid and device together",
      "m3.yaml",
      "firmware: x.bin\nboards:\n  - uuid: 8266c4636429\n    device: /dev/ttyACM0\n",
      /m3\.yaml:3: boards\[0\]: give exactly one of uuid/,
    ],
    ["no boards", "m4.yaml", "firmware: x.bin\nboards: []\n", /boards: list at least one board/],
    ["not YAML at all", "m5.yaml", "boards: [ { uuid: \n", /m5\.yaml:\d+: not valid JSON or YAML/],
    [
      "a board without firmware",
      "m6.yaml",
      "boards:\n  - uuid: 8266c4636429\n",
      /boards\[0\]\.firmware: no firmware for this board/,
    ],
  ];
  for (const [name, file, text, message] of bad) {
    it(`refuses ${name}: exit 2, the field named, nothing on the bus`, async () => {
      const iface = bus([]);
      const listener = channel!.open();
      const path = join(dir, file);
      writeFileSync(path, text.replaceAll("x.bin", firmware));
      const r = await runInProcess(["-i", iface, "--manifest", path]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(await listener.recv(20)).toBeUndefined();
      await listener.close();
    });
  }
});

describe("boards by printer.cfg name", () => {
  const cfg = (iface: string) => {
    const path = join(dir, `printer-${n++}.cfg`);
    writeFileSync(
      path,
      [
        "[mcu]",
        "serial: /dev/serial/by-id/usb-Klipper_stm32h723xx_29001A-if00",
        "[mcu host]",
        "serial: /tmp/klipper_host_mcu",
        "[mcu EBBCan]",
        "canbus_uuid: 8266c4636429",
        `canbus_interface: ${iface}`,
        "[mcu T0]",
        "canbus_uuid: 625720a262c6",
        `canbus_interface: ${iface}`,
        "",
      ].join("\n"),
    );
    return path;
  };

  it("--mcu names boards; their UUID and canbus_interface come from printer.cfg", async () => {
    const iface = bus([
      { uuid: "8266c4636429", boot: "katapult" },
      { uuid: "625720a262c6", boot: "klipper" },
    ]);
    // No -i: the interface is the boards' canbus_interface.
    const r = await runInProcess([
      "--config",
      cfg(iface),
      "--mcu",
      "EBBCan",
      "--mcu",
      "mcu t0",
      firmware,
    ]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/EBBCan\s+8266c4636429\s+ok/);
    expect(r.stdout).toMatch(/T0\s+625720a262c6\s+ok/);
    expect(devices[0]!.writtenApplication()).toEqual(image);
    expect(devices[1]!.writtenApplication()).toEqual(image);
  });

  it("a manifest can name boards by mcu, with its own config", async () => {
    const iface = bus([{ uuid: "8266c4636429", boot: "katapult" }]);
    const m = join(dir, `boards-${n++}.yaml`);
    writeFileSync(m, `config: ${cfg(iface)}\nfirmware: ${firmware}\nboards:\n  - mcu: EBBCan\n`);
    const r = await runInProcess(["--manifest", m]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Flashing '.*klipper\.bin' to 8266c4636429 on virtual:/);
    expect(devices[0]!.writtenApplication()).toEqual(image);
  });

  it("refuses an unknown name (listing the known ones) and the Linux host MCU, with nothing sent", async () => {
    const iface = bus([]);
    const listener = channel!.open();
    const path = cfg(iface);
    const unknown = await runInProcess(["--config", path, "--mcu", "T9", firmware]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/has no \[mcu T9\][\s\S]*known: mcu, host, EBBCan, T0/);
    const host = await runInProcess(["--config", path, "--mcu", "host", firmware]);
    expect(host.code).toBe(2);
    expect(host.stderr).toMatch(/\[mcu host\] is \/tmp\/klipper_host_mcu, the Linux process MCU/);
    const none = await runInProcess([
      "--config",
      join(dir, "missing.cfg"),
      "--mcu",
      "EBBCan",
      firmware,
    ]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/cannot read the printer config \(ENOENT\)/);
    expect(await listener.recv(20)).toBeUndefined();
    await listener.close();
  });
});
