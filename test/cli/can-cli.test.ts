// The CLI as users run it: the built binary against the demo bus, and bad
// input that must be refused with a clear message, an exit code, and no
// frame sent.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { VirtualCanChannel } from "../../src/can/virtual.js";
import { canflash, runInProcess, appImage } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "canflash-cli-"));
const firmware = join(dir, "klipper.bin");
writeFileSync(firmware, await appImage(20_000, 9));
writeFileSync(join(dir, "empty.bin"), new Uint8Array(0));
writeFileSync(join(dir, "readme.txt"), "Klipper firmware for my printer\n");
writeFileSync(join(dir, "bad.hex"), ":0400000001020304F1\n:00000001FF\n");

describe("canflash on the demo bus (spawned binary)", () => {
  it("-q lists the demo boards with flashtool's lines", async () => {
    const r = await canflash(["-i", "sim", "-q"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Detected UUID: 8266c4636429, Application: Katapult");
    expect(r.stdout).toContain("Detected UUID: ef00c3c43f24, Application: Katapult");
    expect(r.stdout).toContain("Detected UUID: 625720a262c6, Application: Klipper");
    expect(r.stdout.trimEnd().endsWith("CANBus UUID Query Complete")).toBe(true);
  });

  it("-u flashes a Katapult board and a Klipper board, ending with Programming Complete", async () => {
    for (const uuid of ["8266c4636429", "625720a262c6"]) {
      const r = await canflash(["-i", "sim", "-u", uuid, firmware]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/Wrote and verified 20000 bytes/);
      expect(r.stdout.trimEnd().endsWith("Programming Complete")).toBe(true);
    }
  });

  it("-s prints the bootloader status; -r requests the bootloader", async () => {
    const s = await canflash(["-i", "sim", "-s", "-u", "8266c4636429"]);
    expect(s.code).toBe(0);
    expect(s.stdout).toContain(
      "Katapult Connected\nSoftware Version: v0.0.1-110-gsim\nProtocol Version: 1.1.0\nBlock Size: 64 bytes\nApplication Start: 0x8002000\nMCU type: stm32g0b1xx\nStatus Request Complete",
    );
    const r = await canflash(["-i", "sim", "-r", "-u", "625720a262c6"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /625720a262c6 runs Klipper: requested its bootloader[\s\S]*Bootloader Request Complete/,
    );
  });

  it("subcommands do the same, and --help shows examples", async () => {
    expect((await canflash(["query", "-i", "sim"])).stdout).toContain("Application: Klipper");
    const h = await canflash(["--help"]);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/Examples:[\s\S]*canflash -i sim -q/);
    expect((await canflash(["flash", "--help"])).stdout).toMatch(/canflash flash -u aabbccddeeff/);
  });

  it("a UUID nobody answers: exit 3 with the likely causes", async () => {
    const r = await canflash(["-i", "sim", "-u", "aabbccddeeff", firmware]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(
      /error: enter failed: node aabbccddeeff did not answer on sim within \d+ ms \(nodes that answered:/,
    );
    expect(r.stderr).toMatch(/the board runs at another bitrate than sim/);
    expect(r.stderr).toMatch(/list the nodes: canflash -i sim -q/);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace without -v
  });
});

describe("firmware formats", () => {
  it("flashes Intel HEX at its own addresses; refuses one built for another offset (exit 6) before writing", async () => {
    const { execFileSync } = await import("node:child_process");
    const raw = join(dir, "app.raw");
    writeFileSync(raw, await appImage(3000, 12));
    const hex = join(dir, "app.hex");
    execFileSync("objcopy", [
      "-I",
      "binary",
      "-O",
      "ihex",
      "--change-addresses",
      "0x08002000",
      raw,
      hex,
    ]);
    const ok = await canflash(["-i", "sim", "-u", "8266c4636429", hex]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/Wrote and verified 3000 bytes/);
    const low = join(dir, "low.hex");
    execFileSync("objcopy", [
      "-I",
      "binary",
      "-O",
      "ihex",
      "--change-addresses",
      "0x08000000",
      raw,
      low,
    ]);
    const bad = await canflash(["-i", "sim", "-u", "8266c4636429", low]);
    expect(bad.code).toBe(6);
    expect(bad.stderr).toMatch(
      /below the application area at 0x8002000 \(built for a different bootloader offset\?\)/,
    );
    expect(bad.stderr).toMatch(/Nothing was written to the board/);
  });
});

describe("bad input: clear message, distinct exit code, nothing on the bus", () => {
  const cases: Array<[string, string[], number, RegExp]> = [
    ["bad UUID", ["-u", "12345", firmware], 2, /"12345" is not a CAN UUID: expected 12 hex digits/],
    [
      "missing file",
      ["-u", "8266c4636429", join(dir, "nope.bin")],
      2,
      /firmware file not found: .*nope\.bin/,
    ],
    [
      "empty file",
      ["-u", "8266c4636429", join(dir, "empty.bin")],
      2,
      /empty\.bin is empty: nothing to flash/,
    ],
    ["unknown flag", ["--frobnicate"], 2, /unknown option '--frobnicate'/],
    ["file without UUID", [firmware], 2, /which node should get/],
    ["nothing to do", [], 2, /nothing to do/],
    [
      "two UUIDs for status",
      ["-s", "-u", "8266c4636429", "-u", "625720a262c6"],
      2,
      /status takes one UUID/,
    ],
  ];
  for (const [name, args, code, message] of cases) {
    it(name, async () => {
      const ch = VirtualCanChannel.create(`cli-bad-${name.replace(/\s/g, "-")}`);
      const listener = ch.open();
      const r = await runInProcess(["-i", `virtual:${ch.name}`, ...args]);
      expect(r.code).toBe(code);
      expect(r.stderr).toMatch(message);
      expect(await listener.recv(20)).toBeUndefined();
      await listener.close();
      ch.remove();
    });
  }

  it("a missing interface: exit 5 naming it", async () => {
    const r = await canflash(["-i", "nosuchcan0", "-q"]);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/no network interface named nosuchcan0/);
  });
});

afterAll(() => undefined);
