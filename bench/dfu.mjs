// DFU: canflash against Debian's dfu-util 0.11 on the same STM32F4 ROM DfuSe
// model (the project's, served on a Unix socket; dfu-util reaches it
// through the stand-in libusb, canflash through its socket backend) and
// the same image: wall time of each whole session — find, erase, write,
// (canflash: verify by UPLOAD and waiting for the board to come back),
// leave — and the ratio canflash / dfu-util. Both must leave the same
// flash. Needs dfu-util, gcc and libusb-1.0-0-dev (see .ci/run).
//
// canflash does more than `dfu-util -D`: it reads the image back (UPLOAD)
// and waits for the board to come back as its application. So the bench
// also prints where each one's time goes (canflash's phases from its
// --json events; dfu-util's erase and write from the model's request log)
// and the same result done with dfu-util: download without leaving, then
// `-U` read-back (compared here) with :leave; and the least canflash could
// take with no time of its own (its device work, a bare node start, the
// read-back, the model's re-enumeration after :leave).
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { klipperImage } from "../dist/sim/klipper-image.js";
import { APP_ENUMERATION_MS } from "../dist/sim/usb/dfu-base.js";
import { DfuseRomModel } from "../dist/sim/usb/dfuse-rom.js";
import { serveUsbModel } from "../dist/sim/usb/serve.js";
import { userEnv, userEnvNote } from "./user-env.mjs";

const exec = promisify(execFile);
const CLI = new URL("../dist/cli/main.mjs", import.meta.url).pathname;
const STAND_IN = new URL("../test/peers/usb/libusb-stand-in.c", import.meta.url).pathname;
/** canflash may take at most dfu-util's time (the issue: canflash/dfu-util <= 1.0). */
export const DFU_TARGET_RATIO = 1.0;
const SIZE = 256 * 1024;

function spawnTimed(cmd, args, env) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, {
      env: userEnv(env),
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
  const c0 = m.clock.now();
  const path = join(dir, `${name}.sock`);
  const s = serveUsbModel(m, path);
  await s.ready();
  try {
    const r = await run({ CANFLASH_USB_SOCKETS: path, CANFLASH_LOCK_DIR: dir });
    // erase + write as the device saw it: first class request to the end of the last 2 KiB DNLOAD's polls
    const log = m.classLog;
    const firstData = log.findIndex((x) => x.bRequest === 1 && x.length > 5);
    let lastData = firstData;
    for (let i = firstData; i < log.length; i++)
      if (log[i].bRequest === 1 && log[i].length > 5) lastData = i;
    let endWrite = lastData;
    while (endWrite + 1 < log.length && log[endWrite + 1].bRequest === 3) endWrite++; // its GETSTATUS polls
    const device = {
      startMs: log[0].at - c0,
      eraseMs: log[firstData].at - log[0].at,
      writeMs: log[endWrite].at - log[firstData].at,
    };
    return { ...r, device, dump: Buffer.from(m.dump(0x08000000, 0x100000)) };
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
      "\nDFU: canflash vs dfu-util 0.11 on the same STM32F4 ROM DfuSe model (erase + write + leave; canflash also verifies)" +
        userEnvNote(),
    );
    const ours = await session(dir, "ours", (env) =>
      spawnTimed(process.execPath, [CLI, "--target", "stm32f4-rom-dfu", "--json", file], env),
    );
    const theirs = await session(dir, "theirs", (env) =>
      spawnTimed("dfu-util", ["-d", "0483:df11", "-a", "0", "-s", "0x08000000:leave", "-D", file], {
        ...env,
        LD_PRELOAD: lib,
      }),
    );
    // the same result with dfu-util: download (no leave), read back with -U and compare, leave
    const readBack = join(dir, "read-back.bin");
    const dfuEnv = (env) => ({ ...env, LD_PRELOAD: lib });
    const same = await session(dir, "same", async (env) => {
      const d = await spawnTimed(
        "dfu-util",
        ["-d", "0483:df11", "-a", "0", "-s", "0x08000000", "-D", file],
        dfuEnv(env),
      );
      if (d.code !== 0) return d;
      const u = await spawnTimed(
        "dfu-util",
        ["-d", "0483:df11", "-a", "0", "-s", `0x08000000:${SIZE}:leave`, "-U", readBack],
        dfuEnv(env),
      );
      const t0 = performance.now();
      const equal = Buffer.compare(readFileSync(readBack), image) === 0;
      const cmp = (performance.now() - t0) / 1000;
      return {
        code: u.code || (equal ? 0 : 1),
        out: d.out + u.out,
        seconds: d.seconds + u.seconds + cmp,
      };
    });
    if (ours.code !== 0 || theirs.code !== 0 || same.code !== 0) {
      console.log(
        `  a run failed: canflash exit ${ours.code}, dfu-util exit ${theirs.code}, dfu-util -D/-U exit ${same.code}\n${ours.out}\n${theirs.out}\n${same.out}`,
      );
      return false;
    }
    const identical = ours.dump.equals(theirs.dump) && ours.dump.equals(same.dump);
    const ratio = ours.seconds / theirs.seconds;
    const s2 = (x) => `${(x / 1000).toFixed(2)} s`;
    const phases = new Map();
    for (const line of ours.out.split("\n")) {
      if (!line.startsWith("{")) continue;
      const e = JSON.parse(line);
      if (e.type === "phase" && e.status === "end") phases.set(e.phase, e.ms);
    }
    const ph = (n) => s2(phases.get(n) ?? NaN);
    console.log(
      `  STM32F407, ${SIZE / 1024} KiB: canflash ${ours.seconds.toFixed(2)} s, dfu-util ${theirs.seconds.toFixed(2)} s, ` +
        `ratio ${ratio.toFixed(2)} (target <= ${DFU_TARGET_RATIO}); flash dumps ${identical ? "identical" : "DIFFER"}`,
    );
    console.log(
      `    canflash: first request after ${s2(ours.device.startMs)}, erase ${ph("erase")}, write ${ph("write")}, ` +
        `verify ${ph("verify")}, leave + board back ${ph("finish")}`,
    );
    const dev = (r) => r.device.eraseMs + r.device.writeMs;
    console.log(
      `    erase + write at the device: canflash ${s2(dev(ours))}, dfu-util ${s2(dev(theirs))}, ratio ${(dev(ours) / dev(theirs)).toFixed(2)}` +
        ` (dfu-util's first request after ${s2(theirs.device.startMs)})`,
    );
    console.log(
      `    the same result with dfu-util (-D, then -U read-back compared, :leave): ${same.seconds.toFixed(2)} s, ` +
        `canflash/that ${(ours.seconds / same.seconds).toFixed(2)}`,
    );
    // What canflash could take at best: its own device work, a bare node start, the read-back it
    // does and the board's re-enumeration after :leave it waits for, with no time of its own.
    const nodeStarts = [];
    for (let i = 0; i < 5; i++)
      nodeStarts.push((await spawnTimed(process.execPath, ["-e", "0"], {})).seconds);
    const nodeStart = nodeStarts.sort((a, b) => a - b)[2] * 1000;
    const floorMs = dev(ours) + nodeStart + (phases.get("verify") ?? 0) + APP_ENUMERATION_MS;
    console.log(
      `    least canflash could take: its erase + write ${s2(dev(ours))} + node -e 0 ${s2(nodeStart)} + read-back ${ph("verify")} ` +
        `+ the board's re-enumeration ${s2(APP_ENUMERATION_MS)} = ${s2(floorMs)}, ratio ${(floorMs / 1000 / theirs.seconds).toFixed(3)} with no time of its own`,
    );
    return identical && ratio <= DFU_TARGET_RATIO;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = (await benchDfu()) ? 0 : 1;
