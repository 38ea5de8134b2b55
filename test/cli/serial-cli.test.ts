// canflash -d <tty> as users run it, against a simulated board on a pty.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SimSerialDevice } from "../../src/sim/serial-device.js";
import { preciseClock } from "../../src/util/clock.js";
import { randomBytes } from "../../src/util/random.js";
import { openPty, type Pty } from "../fakes/pty.js";
import { canflash } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "canflash-serial-cli-"));
const file = join(dir, "klipper.bin");
const image = randomBytes(16_384, 41);
image.set([0, 0x80, 0, 0x20, 0x01, 0x21, 0, 0x08]);
writeFileSync(file, image);
let pty: Pty | undefined;
let dev: SimSerialDevice | undefined;
afterEach(async () => {
  dev?.stop();
  await pty?.close();
  dev = undefined;
  pty = undefined;
});

async function board(boot: "katapult" | "klipper"): Promise<SimSerialDevice> {
  pty = await openPty();
  const p = pty;
  dev = new SimSerialDevice(
    { write: (b) => p.write(b), onData: (cb) => p.onData(cb) },
    { uuid: "8266c4636429", kind: "uart", boot, clock: preciseClock },
  );
  dev.start();
  return dev;
}

describe("canflash -d (spawned binary, simulated UART board on a pty)", () => {
  it("flashes a Katapult board", async () => {
    const d = await board("katapult");
    const r = await canflash(["-d", pty!.path, "-b", "250000", file]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /Katapult 1\.1\.0 \(v0\.0\.1-110-gsim\) on stm32g0b1xx[\s\S]*Programming Complete/,
    );
    expect(d.writtenApplication()).toEqual(image);
  });

  it("-r sends Klipper's request string; the board answers -s as Katapult afterwards", async () => {
    const d = await board("klipper");
    const r = await canflash(["-d", pty!.path, "-r"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Bootloader Request Complete");
    const deadline = Date.now() + 3000;
    while (d.mode !== "katapult" && Date.now() < deadline)
      await new Promise((x) => setTimeout(x, 10));
    expect(d.events.some((e) => e.type === "serial-request")).toBe(true);
    const s = await canflash(["-d", pty!.path, "-s"]);
    expect(s.stdout).toContain("Katapult Connected");
    expect(s.code).toBe(0);
  });

  it("-d and -u together are refused", async () => {
    const r = await canflash(["-d", "/dev/null", "-u", "8266c4636429", file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/either -d <tty> or -u <uuid>/);
  });
});

describe("canflash targets", () => {
  it("prints every row with the supported ones marked, and one in full", async () => {
    const r = await canflash(["targets"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ID\s+CHIP\s+PROTOCOL/);
    expect(r.stdout).toMatch(
      /stm32f0x2-f103-canboot\s+stm32f103\s+katapult\s+can,usb-cdc,uart\s+250000\s+0x8002000\s+\S+\s+yes/,
    );
    expect(r.stdout).toMatch(/avr-m2560-wiring\s+atmega2560\s+stk500v2/);
    const one = await canflash(["targets", "atmega2560"]);
    expect(one.stdout).toMatch(/seedCommand\s+avrdude -cwiring/);
    const json = await canflash(["targets", "--json"]);
    const events = json.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { type: string });
    expect(events.filter((e) => e.type === "target").length).toBeGreaterThanOrEqual(24);
    expect(events.at(-1)).toMatchObject({ type: "result", ok: true });
    expect((await canflash(["targets", "z80"])).code).toBe(2);
  });

  it("nothing answers on a tty: the causes are the tty's (baud, not in Katapult), not CAN's", async () => {
    pty = await openPty(); // nobody on the other end
    const r = await canflash(["-d", pty.path, "-b", "12345", file], { timeoutMs: 60_000 });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/another baud rate than -b/);
    expect(r.stderr).not.toMatch(/node id|CAN H\/L|bitrate/);
  }, 60_000);
});
