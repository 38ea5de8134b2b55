// Every input is used or refused: a table of bad command lines, each run as
// a user would (the built binary), each with its exit code and message, and
// — from --trace-file on the demo bus — no frame that changes a device.
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { klipperImage } from "../../src/sim/klipper-image.js";
import { canflash } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "canflash-bad-"));
const good = join(dir, "klipper.bin");
writeFileSync(
  good,
  klipperImage({
    mcu: "stm32g0b1xx",
    transport: "can",
    appStart: 0x08002000,
    canbusFrequency: 1_000_000,
  }),
);
const other = join(dir, "other.bin");
writeFileSync(other, readFileSync(good));
const K = "8266c4636429"; // a Katapult board of the demo bus
writeFileSync(join(dir, "bad.yaml"), "boards: [ { uuid: 8266c4636429, colour: red } ]\n");
const noTty = join(dir, "ttyACM9");
const EXAMPLE_CFG = new URL("../../examples/printer.cfg", import.meta.url).pathname;

interface Case {
  args: string[];
  code: number;
  stderr: RegExp;
}

const CASES: Case[] = [
  { args: ["-q", good], code: 2, stderr: /-q flashes nothing/ },
  {
    args: ["-q", "can0"],
    code: 2,
    stderr: /looks like an interface name[\s\S]*canflash query can0/,
  },
  { args: ["-i", "sim", "-q", "-s", "-u", K], code: 2, stderr: /-q and -s are different actions/ },
  { args: ["-i", "sim", "-s", "-r", "-u", K], code: 2, stderr: /-s and -r are different actions/ },
  { args: ["-i", "sim", "-q", "-d", noTty], code: 2, stderr: /-q does not take -d/ },
  { args: ["-i", "sim", "-q", "-u", K], code: 2, stderr: /-q does not take -u/ },
  { args: ["-i", "sim", "-q", "--dry-run"], code: 2, stderr: /-q does not take --dry-run/ },
  { args: ["-i", "sim", "-s", "-u", K, good], code: 2, stderr: /-s flashes nothing/ },
  { args: ["-i", "sim", "-s", "-u", K, "--jobs", "2"], code: 2, stderr: /-s does not take --jobs/ },
  {
    args: ["-i", "sim", "-r", "-u", K, "--query-ms", "100"],
    code: 2,
    stderr: /-r does not take --query-ms/,
  },
  { args: ["-i", "sim", "-u", K, "-f", good, other], code: 2, stderr: /two firmware files/ },
  { args: ["-i", "sim", "-u", K, good, other], code: 2, stderr: /too many arguments/ },
  {
    args: ["-i", "sim", "-u", K, "--firmware", good, "-f", other],
    code: 2,
    stderr: /two firmware files/,
  },
  { args: ["-i", "sim", "-u", ""], code: 2, stderr: /"" is not a CAN UUID/ },
  { args: ["-i", "sim", "-u", "8266c463642"], code: 2, stderr: /is not a CAN UUID/ },
  { args: ["-i", "sim", "-u", K, "-u", K, good], code: 2, stderr: /is listed twice/ },
  {
    args: ["-i", "sim", "-u", K, "-b", "250000", good],
    code: 2,
    stderr: /-b is for boards on a tty/,
  },
  {
    args: ["-i", "sim", "-u", K, "--serial-mode", "8e1", good],
    code: 2,
    stderr: /--serial-mode is for boards on a tty/,
  },
  {
    args: ["-i", "sim", "-s", "-u", K, "-b", "250000"],
    code: 2,
    stderr: /-b is for boards on a tty/,
  },
  {
    args: ["-d", noTty, "--serial-mode", "9x1", good],
    code: 2,
    stderr: /"9x1" is not a serial line mode/,
  },
  {
    args: ["-d", noTty, "-b", "fast", good],
    code: 2,
    stderr: /baud rate must be a positive integer/,
  },
  {
    args: ["-i", "sim", "-u", K, "--jobs", "0", good],
    code: 2,
    stderr: /--jobs 0: must be a positive integer/,
  },
  { args: ["-i", "sim", "-q", "--query-ms", "0"], code: 2, stderr: /listens at least 50 ms/ },
  { args: ["-i", "sim", "-q", "--query-ms", "-5"], code: 2, stderr: /listens at least 50 ms/ },
  { args: ["-i", "sim", "query", "sim", "extra"], code: 2, stderr: /too many arguments/ },
  { args: ["query", "-i", "sim", "vcan9"], code: 2, stderr: /two interfaces: -i sim and vcan9/ },
  {
    args: ["-i", "sim", "-q", "--trace-file", "/nonexistent/dir/t.log"],
    code: 2,
    stderr: /cannot write the trace file/,
  },
  {
    args: ["-i", "sim", "-q", "--trace-file", tmpdir()],
    code: 2,
    stderr: /cannot write the trace file/,
  },
  { args: ["flsh"], code: 2, stderr: /unknown command 'flsh' \(did you mean flash\?\)/ },
  { args: ["qeury"], code: 2, stderr: /unknown command 'qeury' \(did you mean query\?\)/ },
  { args: ["--bogus"], code: 2, stderr: /unknown option '--bogus'/ },
  {
    args: ["-i", "sim", "-u", K, join(dir, "missing.bin")],
    code: 2,
    stderr: /firmware file not found/,
  },
  { args: ["-i", "sim", "-u", K, dir], code: 2, stderr: /is not a file/ },
  { args: ["--target", "z80", "-d", noTty, good], code: 2, stderr: /no target "z80"/ },
  {
    args: ["--target", "sam4-bossac", "-u", K, "-i", "sim", good],
    code: 2,
    stderr: /is not flashed over can|cannot flash yet/,
  },
  { args: ["--manifest", join(dir, "nope.yaml")], code: 2, stderr: /manifest not found/ },
  { args: ["--manifest", good, "-u", K], code: 2, stderr: /either with --manifest or with -u/ },
  { args: ["-d", noTty, "-u", K, good], code: 2, stderr: /either -d <tty> or -u <uuid>/ },
  { args: ["-i", "sim", good], code: 2, stderr: /which node should get/ },
  { args: [], code: 2, stderr: /nothing to do/ },
  {
    args: ["sim", "-i", "sim", "--katapult", K],
    code: 2,
    stderr: /is the built-in demo bus of one canflash process/,
  },
  { args: ["sim", "-i", "virtual:x"], code: 2, stderr: /no boards to simulate/ },
  { args: ["targets", "z80"], code: 2, stderr: /no target "z80"/ },
  {
    args: ["-d", "/dev/null", good],
    code: 2,
    stderr: /\/dev\/null is a device that is no terminal/,
  },
  { args: ["-d", tmpdir(), good], code: 2, stderr: /is a directory, not a serial port/ },
  { args: ["-d", good, good], code: 2, stderr: /is a file, not a serial port/ },
  { args: ["-i", "", "-q"], code: 2, stderr: /-i needs an interface name/ },
  {
    args: ["-i", "sim", "-u", K, "--jobs", "-1", good],
    code: 2,
    stderr: /--jobs -1: must be a positive integer/,
  },
  {
    args: ["-i", "sim", "-u", K, "--jobs", "many", good],
    code: 2,
    stderr: /--jobs many: must be a positive integer/,
  },
  { args: ["-u", K, "-f"], code: 2, stderr: /argument missing/ },
  { args: ["-d", noTty, "-b", "0", good], code: 2, stderr: /baud rate must be a positive integer/ },
  { args: ["-i", "sim", "-q", "--firmware", good], code: 2, stderr: /-q flashes nothing/ },
  { args: ["-i", "sim", "-q", "x", "y"], code: 2, stderr: /too many arguments/ },
  { args: ["-i", "sim", "-s"], code: 2, stderr: /status needs the node's UUID/ },
  {
    args: ["-i", "sim", "-r", "-u", K, "-u", "ef00c3c43f24"],
    code: 2,
    stderr: /takes one UUID, got 2/,
  },
  { args: ["status", "-i", "sim"], code: 2, stderr: /status needs the node's UUID/ },
  {
    args: ["-i", "sim", "-q", "--config", join(dir, "none.cfg")],
    code: 2,
    stderr: /printer config not found/,
  },
  {
    args: ["-i", "sim", "--config", EXAMPLE_CFG, "--mcu", "Nope", good],
    code: 2,
    stderr: /has no \[mcu Nope\][\s\S]*known: /,
  },
  { args: ["-d", noTty, "--serial-mode", "8e1", good], code: 2, stderr: /talks 8n1, not 8e1/ },
  {
    args: ["-d", noTty, "--target", "stm32f103-rom-serial", "--reset-sequence", "rts,7", good],
    code: 2,
    stderr: /bad line sequence "rts,7" at 5: "7" is a GPIO number[\s\S]*stm32flash's -i/,
  },
  {
    args: ["-i", "sim", "-u", K, "--reset-sequence", "rts,dtr", good],
    code: 2,
    stderr: /--reset-sequence is for boards on a tty/,
  },
  {
    args: ["-d", noTty, "--reset-sequence", "rts,dtr", good],
    code: 2,
    stderr: /is not entered through DTR\/RTS sequences[\s\S]*only the STM32 ROM serial rows/,
  },
  {
    args: ["-i", "sim", "-q", "--reset-sequence", "rts"],
    code: 2,
    stderr: /-q does not take --reset-sequence/,
  },
  { args: ["demo-image", "-o", "/nonexistent/dir/x.bin"], code: 2, stderr: /cannot write/ },
  {
    args: ["demo-image", "-o", join(dir, "d.bin"), "--bitrate", "fast"],
    code: 2,
    stderr: /--bitrate fast: must be a positive integer/,
  },
  {
    args: ["sim", "-i", "virtual:x", "--katapult", K, "--katapult", K],
    code: 2,
    stderr: /UUID given twice/,
  },
  {
    args: ["sim", "-i", "virtual:x", "--katapult", "nothex"],
    code: 2,
    stderr: /is not a CAN UUID/,
  },
  { args: ["targets", "--bogus"], code: 2, stderr: /unknown option '--bogus'/ },
  {
    args: ["-i", "sim", "--manifest", join(dir, "bad.yaml")],
    code: 2,
    stderr: /unknown field colour/,
  },
];

describe("bad input: exit code, message, nothing sent", () => {
  it.each(CASES.map((c) => [c.args.join(" ") || "(no arguments)", c] as const))(
    "canflash %s",
    async (_name, c) => {
      const trace = join(dir, `t-${Math.random().toString(36).slice(2)}.log`);
      const usesTrace = !c.args.includes("--trace-file") && c.args.includes("sim");
      const r = await canflash(usesTrace ? [...c.args, "--trace-file", trace] : c.args, {
        cwd: dir,
      });
      expect(r.stderr, r.stdout).toMatch(c.stderr);
      expect(r.code, r.stderr).toBe(c.code);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace without -v
      if (usesTrace && existsSync(trace)) {
        // Only queries and node-id housekeeping may go out; nothing that changes a board.
        const frames = readFileSync(trace, "utf8")
          .split("\n")
          .filter((l) => / TX /.test(l));
        const changing = frames.filter(
          (l) =>
            /3F0#02/i.test(l) || // REQUEST_BOOTLOADER
            /#01881[235]/i.test(l), // Katapult SEND_BLOCK / SEND_EOF / COMPLETE
        );
        expect(changing).toEqual([]);
      }
    },
  );

  it("the trace check sees state-changing frames when there are some (a real flash)", async () => {
    const trace = join(dir, "real.log");
    const r = await canflash(["-i", "sim", "-u", "625720a262c6", good, "--trace-file", trace]);
    expect(r.code, r.stderr).toBe(0);
    const tx = readFileSync(trace, "utf8")
      .split("\n")
      .filter((l) => / TX /.test(l));
    expect(tx.some((l) => /3F0#02/i.test(l))).toBe(true);
    expect(tx.some((l) => /#018812/i.test(l))).toBe(true);
  });

  it("covers at least 60 cases", () => {
    expect(CASES.length).toBeGreaterThanOrEqual(60);
  });
});
