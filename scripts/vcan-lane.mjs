#!/usr/bin/env node
// npm run test:vcan — runs test/vcan against a real kernel CAN stack.
//
// The machines this project builds on have no CAN in their kernel, so the
// suite runs inside User-Mode Linux (Debian's user-mode-linux package), which
// boots on the host's own root file system (hostfs) and ships the CAN
// modules. Inside: vcan0 (plain), vcan1 (left down), vcanq (txqueuelen 10
// behind a rate-limiting qdisc, so bursts really hit ENOBUFS), vcanstall
// (a qdisc so slow that sends must time out), and the vxcan pair
// vxsoak0/vxsoak1 for the fault soak (netem, set by the test). The suite's exit status comes
// back through a file; no file means UML did not boot, and the lane fails.
//
// UML 6.1 dies at init on hosts whose CPU has AVX-512/AMX ("ptrace set fp regs
// failed, errno = 14", "Kernel panic - not syncing: Attempted to kill init!").
// ../shared/tools/umlfix/linux.uml (beside the project dir) is a wrapper that
// preloads an LD_PRELOAD fix for that; when it exists the lane always boots UML
// through it (it needs gcc and libc6-dev to build umlfix.so once).
//
// Usage: node scripts/vcan-lane.mjs [vitest args…]   (e.g. a test file filter)
// Env:   UML_TIMEOUT_S (default 900), UML_MEM (default 1G), VCAN_CMD (a shell
//        command to run inside instead of the vitest suite), UMLFIX (path of
//        the umlfix linux.uml wrapper, or its folder; default
//        ../shared/tools/umlfix/linux.uml), UML_BIN (boot exactly this binary,
//        no umlfix; for tests)

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
  realpathSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const projectDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const realUml = ["/usr/bin/linux.uml", "/usr/bin/linux"].find((p) => existsSync(p));
const defaultUmlfix = resolve(projectDir, "../shared/tools/umlfix/linux.uml");
let umlfix = process.env.UMLFIX ? resolve(projectDir, process.env.UMLFIX) : defaultUmlfix;
if (process.env.UMLFIX && existsSync(umlfix) && statSync(umlfix).isDirectory()) {
  umlfix = join(umlfix, "linux.uml");
}
const sameFile = (a, b) => {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
};
const installFix = "Install: sudo apt-get install -y gcc libc6-dev";

/** @type {string} */
let uml;
/** Why the fix is or is not preloaded, for the failure hints. */
let umlfixState; // "preloaded" | "absent" | "forced"
if (process.env.UML_BIN) {
  uml = resolve(process.env.UML_BIN);
  if (!existsSync(uml)) {
    console.error(`vcan lane: UML_BIN=${process.env.UML_BIN} does not exist.`);
    process.exit(1);
  }
  umlfixState = sameFile(uml, umlfix) ? "preloaded" : "forced";
} else if (existsSync(umlfix)) {
  uml = umlfix;
  umlfixState = "preloaded";
} else if (process.env.UMLFIX) {
  console.error(
    `vcan lane: UMLFIX=${process.env.UMLFIX} does not exist (expected the umlfix linux.uml wrapper).`,
  );
  process.exit(1);
} else {
  console.log(
    `vcan lane: no umlfix at ${umlfix} — booting ${realUml ?? "/usr/bin/linux.uml"} without the AVX-512/AMX fix`,
  );
  uml = realUml;
  umlfixState = "absent";
}
if (!realUml && umlfixState !== "forced") {
  console.error(
    "vcan lane: User-Mode Linux is not installed (no /usr/bin/linux.uml).\n" +
      "  Install: sudo apt-get install -y user-mode-linux can-utils iproute2 kmod\n" +
      "  The lane fails rather than skips so CI cannot pass without the real-kernel tests.",
  );
  process.exit(1);
}
if (umlfixState === "preloaded") {
  // The wrapper builds umlfix.so with gcc on first use; do that now, so a
  // missing compiler is a clear error and never a silent run without the fix.
  // `linux.uml --version` only prints the kernel version.
  try {
    execFileSync(uml, ["--version"], { stdio: ["ignore", "pipe", "pipe"], timeout: 120_000 });
  } catch (e) {
    const out = `${e.stdout ?? ""}${e.stderr ?? ""}`.trim();
    let gcc = true;
    try {
      execFileSync("sh", ["-c", "command -v gcc"], { stdio: "ignore" });
    } catch {
      gcc = false;
    }
    console.error(
      `vcan lane: the umlfix wrapper ${uml} failed to build or run (${e.code ?? `exit ${e.status}`})` +
        (gcc ? "" : " — gcc is not installed") +
        `.\n  It builds umlfix.so with gcc (needs the C library headers). ${installFix}` +
        (out ? `\n  ${out.split("\n").join("\n  ")}` : ""),
    );
    process.exit(1);
  }
}
const cpuFlags = (() => {
  try {
    const m = /^flags\s*:(.*)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    return m ? new Set(m[1].trim().split(/\s+/)) : undefined;
  } catch {
    return undefined;
  }
})();
const flag = (f) => (cpuFlags ? (cpuFlags.has(f) ? "yes" : "no") : "unknown");
console.log(
  `vcan lane: UML binary ${uml}, umlfix ${
    umlfixState === "preloaded"
      ? "preloaded"
      : umlfixState === "forced"
        ? "not preloaded (UML_BIN)"
        : "not preloaded (not found)"
  }; CPU avx512f: ${flag("avx512f")}, amx_tile: ${flag("amx_tile")}`,
);
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
for k in net/can/can.ko net/can/can-raw.ko drivers/net/can/dev/can-dev.ko drivers/net/can/vcan.ko net/sched/sch_tbf.ko drivers/net/can/vxcan.ko net/sched/sch_netem.ko; do
  insmod $M/$k || echo "vcan lane: insmod $k failed"
done
ip link add dev vcan0 type vcan && ip link set vcan0 up
ip link add dev vcan1 type vcan
ip link add dev vcanq type vcan && ip link set vcanq txqueuelen 10 && ip link set vcanq up
tc qdisc add dev vcanq root tbf rate 200kbit burst 200 limit 160
ip link add dev vcanstall type vcan && ip link set vcanstall up
tc qdisc add dev vcanstall root tbf rate 100bit burst 100 limit 32
# The fault soak (test/vcan/soak.test.ts): a vxcan pair, host on vxsoak0, simulated boards on
# vxsoak1. A frame crosses to the peer only through the sender's qdisc, so a netem qdisc
# (set per fault mix by the test) really drops or duplicates it for the receiver.
ip link add dev vxsoak0 type vxcan peer name vxsoak1 && ip link set vxsoak0 up && ip link set vxsoak1 up
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

// Console lines that explain a UML that died before writing its result.
const causeRe =
  /Kernel panic|ptrace|errno|not syncing|Attempted to kill init|Oops|\bBUG\b|segfault|out of memory/i;
const fixWhere = `${defaultUmlfix} (../shared/tools/umlfix beside the project) or UMLFIX=path/to/linux.uml`;
function hints(lines) {
  const fpRegs = lines.some((l) => /ptrace (set|get) fp ?regs failed/i.test(l));
  const panic = lines.some((l) => /Kernel panic|not syncing|Attempted to kill init/.test(l));
  if (!fpRegs && !(panic && umlfixState !== "preloaded")) return [];
  const out = [
    fpRegs
      ? "vcan lane: this is the AVX-512/AMX problem of UML 6.1: the host's XSAVE area is larger than UML's FP buffer, so PTRACE_SETREGSET fails with EFAULT (errno 14)."
      : "vcan lane: UML panicked without the umlfix fix; on a CPU with AVX-512/AMX that is likely UML 6.1's ptrace FP-state problem.",
  ];
  if (umlfixState === "preloaded") {
    out.push(
      `  umlfix WAS preloaded (${uml}) and did not help; see ../shared/tools/umlfix/README.md.`,
    );
  } else if (umlfixState === "forced") {
    out.push(
      `  UML_BIN=${uml} bypasses umlfix. The umlfix wrapper must be used: unset UML_BIN and provide ${fixWhere} (needs gcc, libc6-dev).`,
    );
  } else {
    out.push(
      `  umlfix was not found. The umlfix wrapper must be used: provide ${fixWhere} (needs gcc, libc6-dev).`,
    );
  }
  return out;
}
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
child.on("error", (e) => {
  console.error(`vcan lane: FAILED — could not start timeout/${uml}: ${e.message}`);
  process.exit(1);
});
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

child.on("close", (code, signal) => {
  clearInterval(timer);
  pump();
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  if (!existsSync(resultFile)) {
    const lines = console_.split("\n").map((l) => l.replace(/\r$/, ""));
    console.error(
      `\nvcan lane: FAILED — UML reported no result after ${secs} s (exit ${code ?? signal})`,
    );
    const cause = lines.filter((l) => causeRe.test(l));
    if (code === 124 || code === 137) {
      cause.push(
        `timeout: UML did not finish within ${timeoutS} s (timeout exit ${code}; raise UML_TIMEOUT_S if the suite is just slow)`,
      );
    }
    if (cause.length > 0) {
      const shown = [...new Set(cause)];
      console.error("cause:");
      for (const l of shown.slice(0, 40)) console.error(`  ${l}`);
      if (shown.length > 40) console.error(`  … ${shown.length - 40} more`);
    } else {
      console.error("cause: nothing recognisable in the console output (see its tail below)");
    }
    for (const hint of hints(lines)) console.error(hint);
    const tail = lines.slice(-40).join("\n").trimEnd();
    console.error(`console tail:\n${tail || "(no console output)"}`);
    rmSync(work, { recursive: true, force: true });
    process.exit(1);
  }
  const status = Number(readFileSync(resultFile, "utf8").trim());
  console.log(`\nvcan lane: suite exited ${status} inside UML (${secs} s)`);
  rmSync(work, { recursive: true, force: true });
  process.exit(status === 0 ? 0 : 1);
});
