// HalfKay: canflash against Debian's teensy_loader_cli 2.2 on the same
// device model (the at90usb1286 HalfKay model served on a Unix socket;
// teensy_loader_cli reaches it through the project's stand-in libusb-0.1)
// and the same HEX image: wall time of each whole session, from the start
// of the process to its exit, and the ratio canflash / teensy_loader_cli.
// Both must leave the same flash. Needs teensy-loader-cli and libusb-dev.
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { halfKayPart } from "../dist/bootloaders/halfkay/codec.js";
import { HalfKayModel } from "../dist/sim/usb/halfkay.js";
import { serveUsbModel } from "../dist/sim/usb/serve.js";
import { realClock } from "../dist/util/clock.js";
import { randomBytes } from "../dist/util/random.js";

const run = promisify(execFile);
const CLI = new URL("../dist/cli/main.mjs", import.meta.url).pathname;
const STAND_IN = new URL("../test/peers/usb/libusb0-stand-in.c", import.meta.url).pathname;
/**
 * canflash may take at most this share of teensy_loader_cli's time. The floor of both is
 * the model's erase and page timings (about 3.6 s for 100 KiB); canflash adds node's
 * start-up with the image load and checks (0.3-0.9 s on a busy 2-core machine, printed
 * beside the ratio as `canflash --version`'s time) and waits until the Teensy has left the
 * bus after the boot report (teensy_loader_cli exits at once).
 */
export const HALFKAY_TARGET_RATIO = 1.3;
const SIZE = 100 * 1024;

function intelHex(data) {
  const rec = (type, addr, bytes) => {
    const r = [bytes.length, (addr >> 8) & 0xff, addr & 0xff, type, ...bytes];
    const sum = (0x100 - (r.reduce((a, b) => a + b, 0) & 0xff)) & 0xff;
    return `:${[...r, sum].map((b) => b.toString(16).padStart(2, "0").toUpperCase()).join("")}\n`;
  };
  let out = "";
  for (let i = 0; i < data.length; i += 16) {
    if (i % 0x10000 === 0) out += rec(4, 0, [0, i >> 16]);
    out += rec(0, i & 0xffff, Array.from(data.subarray(i, i + 16)));
  }
  return out + rec(1, 0, []);
}

async function timed(cmd, args, env) {
  const t0 = performance.now();
  const code = await new Promise((resolve) => {
    const c = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: "ignore" });
    c.on("close", resolve);
  });
  if (code !== 0) throw new Error(`${cmd} exited ${code}`);
  return performance.now() - t0;
}

export async function benchHalfKay() {
  const dir = mkdtempSync(join(tmpdir(), "canflash-bench-halfkay-"));
  try {
    const so = join(dir, "libusb0.so");
    await run("gcc", ["-shared", "-fPIC", "-O2", "-o", so, STAND_IN]);
    const hex = join(dir, "fw.hex");
    writeFileSync(hex, intelHex(randomBytes(SIZE, 21)));
    const part = halfKayPart("at90usb1286");
    const session = async (cmd, args, extraEnv) => {
      const model = new HalfKayModel({ part, clock: realClock });
      const served = serveUsbModel(model, join(dir, `${cmd.length}.sock`));
      await served.ready();
      try {
        const ms = await timed(cmd, args, { CANFLASH_USB_SOCKETS: served.path, ...extraEnv });
        return { ms, flash: model.flash };
      } finally {
        await served.close();
      }
    };
    const theirs = await session("teensy_loader_cli", ["--mcu=at90usb1286", "-w", "-v", hex], {
      LD_PRELOAD: so,
    });
    const ours = await session(process.execPath, [CLI, "-d", "usb:16c0:0478", hex], {});
    const same = Buffer.from(ours.flash).equals(Buffer.from(theirs.flash));
    const startMs = await timed(process.execPath, [CLI, "--version"], {});
    const ratio = ours.ms / theirs.ms;
    console.log(
      `HalfKay at90usb1286, ${SIZE / 1024} KiB HEX: canflash ${(ours.ms / 1000).toFixed(2)} s, teensy_loader_cli ${(theirs.ms / 1000).toFixed(2)} s (canflash --version alone: ${(startMs / 1000).toFixed(2)} s), ratio ${ratio.toFixed(2)} (target <= ${HALFKAY_TARGET_RATIO})${same ? "" : "; FLASH DIFFERS"}`,
    );
    return same && ratio <= HALFKAY_TARGET_RATIO;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`)
  process.exitCode = (await benchHalfKay()) ? 0 : 1;
