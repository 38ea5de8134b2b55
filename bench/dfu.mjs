// DFU: canflash against Debian's dfu-util 0.11 on the same STM32F4 ROM DfuSe
// model (the project's, served on a Unix socket; dfu-util reaches it
// through the stand-in libusb, canflash through its socket backend) and
// the same image: wall time of each whole session — find, erase, write,
// (canflash: verify by UPLOAD and waiting for the board to come back),
// leave — and the ratio canflash / dfu-util. Both must leave the same
// flash. Needs dfu-util, gcc and libusb-1.0-0-dev (see .ci/run).
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { klipperImage } from "../dist/sim/klipper-image.js";
import { DfuseRomModel } from "../dist/sim/usb/dfuse-rom.js";
import { serveUsbModel } from "../dist/sim/usb/serve.js";

const exec = promisify(execFile);
const CLI = new URL("../dist/cli/main.js", import.meta.url).pathname;
const STAND_IN = new URL("../test/peers/usb/libusb-stand-in.c", import.meta.url).pathname;
/** canflash may take at most dfu-util's time (the issue: canflash/dfu-util <= 1.0). */
export const DFU_TARGET_RATIO = 1.0;
const SIZE = 256 * 1024;

function spawnTimed(cmd, args, env) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out, seconds: (performance.now() - t0) / 1000 }));
  });
}

async function session(dir, name, run) {
  const m = new DfuseRomModel();
  const path = join(dir, `${name}.sock`);
  const s = serveUsbModel(m, path);
  await s.ready();
  try {
    const r = await run({ CANFLASH_USB_SOCKETS: path, CANFLASH_LOCK_DIR: dir });
    return { ...r, dump: Buffer.from(m.dump(0x08000000, 0x100000)) };
  } finally {
    await s.close();
  }
}

export async function benchDfu() {
  const has = await exec("dfu-util", ["--version"]).then(
    () => true,
    () => false,
  );
  if (!has) {
    console.log(
      "\nDFU vs dfu-util: skipped (dfu-util missing: apt-get install dfu-util, see .ci/run)",
    );
    return true;
  }
  const dir = mkdtempSync(join(tmpdir(), "bench-dfu-"));
  try {
    const lib = join(dir, "libusb-stand-in.so");
    await exec("gcc", [
      "-shared",
      "-fPIC",
      "-O2",
      "-I/usr/include/libusb-1.0",
      "-o",
      lib,
      STAND_IN,
    ]);
    const image = klipperImage({
      mcu: "stm32f407xx",
      appStart: 0x08000000,
      size: SIZE,
      transport: "usb",
    });
    const file = join(dir, "klipper.bin");
    writeFileSync(file, image);
    console.log(
      "\nDFU: canflash vs dfu-util 0.11 on the same STM32F4 ROM DfuSe model (erase + write + leave; canflash also verifies)",
    );
    const ours = await session(dir, "ours", (env) =>
      spawnTimed(process.execPath, [CLI, "--target", "stm32f4-rom-dfu", "--quiet", file], env),
    );
    const theirs = await session(dir, "theirs", (env) =>
      spawnTimed("dfu-util", ["-d", "0483:df11", "-a", "0", "-s", "0x08000000:leave", "-D", file], {
        ...env,
        LD_PRELOAD: lib,
      }),
    );
    if (ours.code !== 0 || theirs.code !== 0) {
      console.log(
        `  a run failed: canflash exit ${ours.code}, dfu-util exit ${theirs.code}\n${ours.out}\n${theirs.out}`,
      );
      return false;
    }
    const same = ours.dump.equals(theirs.dump);
    const ratio = ours.seconds / theirs.seconds;
    console.log(
      `  STM32F407, ${SIZE / 1024} KiB: canflash ${ours.seconds.toFixed(2)} s, dfu-util ${theirs.seconds.toFixed(2)} s, ` +
        `ratio ${ratio.toFixed(2)} (target <= ${DFU_TARGET_RATIO}); flash dumps ${same ? "identical" : "DIFFER"}`,
    );
    return same && ratio <= DFU_TARGET_RATIO;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = (await benchDfu()) ? 0 : 1;
