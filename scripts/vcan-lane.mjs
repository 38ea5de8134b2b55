#!/usr/bin/env node
// npm run test:vcan — runs test/vcan against a real kernel CAN stack.
//
// The machines this project builds on have no CAN in their kernel, so the
// suite runs inside User-Mode Linux (Debian's user-mode-linux package), which
// boots on the host's own root file system (hostfs) and ships the CAN
// modules. Inside: vcan0 (plain), vcan1 (left down), vcanq (txqueuelen 10
// behind a rate-limiting qdisc, so bursts really hit ENOBUFS), vcanstall
// (a qdisc so slow that sends must time out). The suite's exit status comes
// back through a file; no file means UML did not boot, and the lane fails.
//
// Usage: node scripts/vcan-lane.mjs [vitest args…]   (e.g. a test file filter)
// Env:   UML_TIMEOUT_S (default 900), UML_MEM (default 1G), VCAN_CMD (a shell
//        command to run inside instead of the vitest suite)

import { spawn, execFileSync } from "node:child_process";
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  writeFileSync,
  rmSync,
  statSync,
  openSync,
  readSync,
  closeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const projectDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const uml = ["/usr/bin/linux.uml", "/usr/bin/linux"].find((p) => existsSync(p));
if (!uml) {
  console.error(
    "vcan lane: User-Mode Linux is not installed (no /usr/bin/linux.uml).\n" +
      "  Install: sudo apt-get install -y user-mode-linux can-utils iproute2 kmod\n" +
      "  The lane fails rather than skips so CI cannot pass without the real-kernel tests.",
  );
  process.exit(1);
}
for (const tool of ["cansend", "candump", "ip", "tc", "insmod"]) {
  try {
    execFileSync("sh", ["-c", `PATH=/usr/sbin:/sbin:$PATH command -v ${tool}`], {
      stdio: "ignore",
    });
  } catch {
    console.error(
      `vcan lane: ${tool} is missing. Install: sudo apt-get install -y can-utils iproute2 kmod`,
    );
    process.exit(1);
  }
}

const work = mkdtempSync(join(tmpdir(), "canflash-uml-"));
const resultFile = join(work, "result");
const logFile = join(work, "test.log");
const initFile = join(work, "init.sh");
const vitestArgs = process.argv
  .slice(2)
  .map((a) => `'${a.replaceAll("'", "'\\''")}'`)
  .join(" ");
const command =
  process.env.VCAN_CMD ??
  `'${process.execPath}' node_modules/vitest/vitest.mjs run --config vitest.vcan.config.ts ${vitestArgs}`;

const q = (s) => `'${String(s).replaceAll("'", "'\\''")}'`;
writeFileSync(
  initFile,
  `#!/bin/sh
# PID 1 inside User-Mode Linux (written by scripts/vcan-lane.mjs)
export PATH=${q(`${dirname(process.execPath)}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`)}
export HOME=/root LANG=C.UTF-8 CI=${q(process.env.CI ?? "")} FORCE_COLOR=0 CANFLASH_VCAN=1
mount -t proc proc /proc
mount -t sysfs sys /sys
[ -d /dev/shm ] && mount -t tmpfs shm /dev/shm
M=/usr/lib/uml/modules/$(uname -r)/kernel
for k in net/can/can.ko net/can/can-raw.ko drivers/net/can/dev/can-dev.ko drivers/net/can/vcan.ko net/sched/sch_tbf.ko; do
  insmod $M/$k || echo "vcan lane: insmod $k failed"
done
ip link add dev vcan0 type vcan && ip link set vcan0 up
ip link add dev vcan1 type vcan
ip link add dev vcanq type vcan && ip link set vcanq txqueuelen 10 && ip link set vcanq up
tc qdisc add dev vcanq root tbf rate 200kbit burst 200 limit 160
ip link add dev vcanstall type vcan && ip link set vcanstall up
tc qdisc add dev vcanstall root tbf rate 100bit burst 100 limit 32
cd ${q(projectDir)}
( ${command} ) > ${q(logFile)} 2>&1
echo $? > ${q(resultFile)}
sync
halt -f
`,
  { mode: 0o755 },
);

const timeoutS = Number(process.env.UML_TIMEOUT_S ?? 900);
console.log(`vcan lane: booting User-Mode Linux (${uml}), timeout ${timeoutS} s`);
const t0 = Date.now();
const child = spawn(
  "timeout",
  [
    "--kill-after=10",
    String(timeoutS),
    uml,
    `mem=${process.env.UML_MEM ?? "1G"}`,
    "rootfstype=hostfs",
    "rw",
    `init=${initFile}`,
    "con=null",
    "con0=fd:0,fd:1",
  ],
  { stdio: ["ignore", "pipe", "pipe"] },
);
let console_ = "";
child.stdout.on("data", (d) => (console_ += d));
child.stderr.on("data", (d) => (console_ += d));

// Stream the suite's log while UML runs.
let offset = 0;
const pump = () => {
  if (!existsSync(logFile)) return;
  const size = statSync(logFile).size;
  if (size <= offset) return;
  const fd = openSync(logFile, "r");
  const buf = Buffer.alloc(size - offset);
  readSync(fd, buf, 0, buf.length, offset);
  closeSync(fd);
  offset = size;
  process.stdout.write(buf);
};
const timer = setInterval(pump, 200);

child.on("close", (code) => {
  clearInterval(timer);
  pump();
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  if (!existsSync(resultFile)) {
    console.error(
      `\nvcan lane: FAILED — UML reported no result after ${secs} s (exit ${code}); console tail:`,
    );
    console.error(console_.split("\n").slice(-40).join("\n"));
    rmSync(work, { recursive: true, force: true });
    process.exit(1);
  }
  const status = Number(readFileSync(resultFile, "utf8").trim());
  console.log(`\nvcan lane: suite exited ${status} inside UML (${secs} s)`);
  rmSync(work, { recursive: true, force: true });
  process.exit(status === 0 ? 0 : 1);
});
