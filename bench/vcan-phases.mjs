// The time around the flash session on the real kernel CAN stack (issue 17
// items 2, 4, 5): vcan0 in User-Mode Linux, `canflash sim` in one process,
// the real CLI (`node dist/cli/main.mjs`) flashing 48 KiB in another with
// --trace-file — once to a node already in Katapult, once to a Klipper node
// it must first ask into Katapult. From the spawn and exit times, the
// CLI's stdout lines (stamped as they arrive) and the trace's timestamps:
// wall time and share per phase, wall minus the session (CONNECT sent to
// COMPLETE answered), the CPU of the flash per 48 KiB (process.cpuUsage()
// around it, the CLI's --json result; the whole process's from
// /usr/bin/time beside it), and the host's turnaround per SEND_BLOCK and per REQUEST_BLOCK
// (the node's reply's last frame received to the next command's first frame
// sent), median and 90th percentile.
//
// `npm run bench` calls benchVcanPhases(), which boots UML through
// scripts/vcan-lane.mjs with VCAN_CMD running this file with --inside, and
// says why not when UML is not there. `npm run bench:vcan` runs only this.

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const projectDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const CLI = join(projectDir, "dist/cli/main.mjs");
/** vcan0; VCAN_PHASES_IFACE=sim runs it on the demo bus, in-process boards, for a quick look outside UML. */
const IFACE = process.env.VCAN_PHASES_IFACE ?? "vcan0";
const KATAPULT = "8266c4636429";
const KLIPPER = "625720a262c6";
const SIZE = 48 * 1024;
const RUNS = Number(process.env.VCAN_PHASES_RUNS ?? 3);

/** Issue 17's targets on vcan in UML. */
export const TARGETS = {
  /** Wall minus the session, ms: a node already in Katapult. */
  outsideKatapultMs: 800,
  /** Wall minus the session, ms: a Klipper node asked into Katapult first. */
  outsideKlipperMs: 1500,
  /** Median host turnaround per SEND_BLOCK and per REQUEST_BLOCK, ms. */
  turnaroundMs: 0.3,
  /** CPU (user + sys) of the flash (process.cpuUsage() around it) per 48 KiB, s. */
  cpuS: 0.3,
};

const RESULT_TAG = "VCAN_PHASES_RESULT";

/** Epoch milliseconds with sub-ms precision: the clock --trace-file stamps frames with. */
const epochMs = () => performance.timeOrigin + performance.now();

// ---------------------------------------------------------------------------
// Trace parsing

/** "(1732400000.123456) vcan0 TX 202#0188…" → { t (epoch ms), dir, id, data }. */
export function parseTrace(text) {
  const out = [];
  for (const line of text.split("\n")) {
    const m = /^\((\d+\.\d+)\) \S+ (TX|RX) ([0-9A-F]+)#([0-9A-F]*)$/.exec(line.trim());
    if (!m) continue;
    const data = Uint8Array.from(m[4].match(/../g) ?? [], (h) => parseInt(h, 16));
    out.push({ t: Number(m[1]) * 1000, dir: m[2], id: parseInt(m[3], 16), data });
  }
  return out;
}

/**
 * Katapult frames (01 88 code n payload crc crc 99 03) in one direction's
 * byte stream, each with the time of the CAN frame carrying its first and
 * its last byte.
 */
export function katapultFrames(canFrames) {
  const bytes = [];
  const times = [];
  for (const f of canFrames)
    for (const b of f.data) {
      bytes.push(b);
      times.push(f.t);
    }
  const out = [];
  let i = 0;
  while (i + 8 <= bytes.length) {
    if (bytes[i] !== 0x01 || bytes[i + 1] !== 0x88) {
      i++;
      continue;
    }
    const len = 8 + 4 * bytes[i + 3];
    if (i + len > bytes.length) break;
    if (bytes[i + len - 2] !== 0x99 || bytes[i + len - 1] !== 0x03) {
      i++;
      continue;
    }
    const payload = bytes.slice(i + 4, i + len - 4);
    const echo = payload.length >= 4 ? payload[0] : undefined;
    out.push({ code: bytes[i + 2], echo, first: times[i], last: times[i + len - 1] });
    i += len;
  }
  return out;
}

const Cmd = {
  CONNECT: 0x11,
  SEND_BLOCK: 0x12,
  SEND_EOF: 0x13,
  REQUEST_BLOCK: 0x14,
  COMPLETE: 0x15,
};
const ACK = 0xa0;
const Admin = { QUERY: 0x00, REQUEST_BOOTLOADER: 0x02, SET_KATAPULT_NODEID: 0x11, CLEAR: 0x12 };

const quantile = (xs, q) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

/**
 * Host turnaround: each ACK of `cmd` (its last frame received) to the next
 * command the host sends (its first frame), when that command is `cmd` again.
 */
function turnarounds(commands, replies, cmd) {
  const out = [];
  let c = 0;
  for (const r of replies) {
    if (r.code !== ACK || r.echo !== cmd) continue;
    while (c < commands.length && commands[c].first < r.last) c++;
    if (c >= commands.length) break;
    if (commands[c].code === cmd) out.push(commands[c].first - r.last);
  }
  return out;
}

/** Phases of one run from its spawn/exit times, stdout line times and trace. */
export function phasesOf(run) {
  const frames = parseTrace(run.trace);
  if (frames.length === 0) throw new Error("the trace is empty");
  const admin = frames.filter((f) => f.dir === "TX" && f.id === 0x3f0);
  // The gate's assignment (a resend in the session assigns the id again).
  const assign = admin.find((f) => f.data[0] === Admin.SET_KATAPULT_NODEID);
  if (!assign) throw new Error("no SET_KATAPULT_NODEID in the trace");
  const nodeId = assign.data[7];
  const toDevice = 0x100 + 2 * nodeId;
  const clears = admin.filter((f) => f.data[0] === Admin.CLEAR && f.t <= assign.t);
  const gateClear = clears.at(-1);
  const requested = admin.some((f) => f.data[0] === Admin.REQUEST_BOOTLOADER);
  const commands = katapultFrames(frames.filter((f) => f.dir === "TX" && f.id === toDevice));
  const replies = katapultFrames(frames.filter((f) => f.dir === "RX" && f.id === toDevice + 1));
  const first = (code) => commands.find((c) => c.code === code);
  const connect = first(Cmd.CONNECT);
  const firstSend = first(Cmd.SEND_BLOCK);
  const firstRequest = first(Cmd.REQUEST_BLOCK);
  const complete = first(Cmd.COMPLETE);
  if (!connect || !firstSend || !firstRequest || !complete)
    throw new Error("the trace lacks CONNECT, SEND_BLOCK, REQUEST_BLOCK or COMPLETE");
  const completeAck = replies.find(
    (r) => r.code === ACK && r.echo === Cmd.COMPLETE && r.last >= complete.first,
  );
  const sessionEnd = completeAck ? completeAck.last : complete.last;
  const t = {
    spawn: run.spawnAt,
    firstLine: run.lines[0]?.t ?? frames[0].t,
    firstFrame: frames[0].t,
    gate: gateClear.t,
    assigned: assign.t,
    connect: connect.first,
    write: firstSend.first,
    verify: firstRequest.first,
    complete: complete.first,
    completed: sessionEnd,
    exit: run.exitAt,
  };
  const span = (a, b) => Math.max(0, t[b] - t[a]);
  const phases = [
    ["process start (node, bundle, argv) to the first line", span("spawn", "firstLine")],
    ["image, Klipper check, interface open", span("firstLine", "firstFrame")],
    ["query/identify (before the request round)", span("firstFrame", "gate")],
    [
      requested ? "bootloader request and its poll" : "request round: query, node id",
      span("gate", "assigned"),
    ],
    ["CONNECT (and checks) to the first block", span("assigned", "write")],
    ["write (SEND_BLOCK, SEND_EOF)", span("write", "verify")],
    ["verify (REQUEST_BLOCK)", span("verify", "complete")],
    ["COMPLETE answered", span("complete", "completed")],
    ["exit (close, flush) after COMPLETE", span("completed", "exit")],
  ];
  const wall = t.exit - t.spawn;
  const session = t.completed - t.connect;
  return {
    requested,
    wall,
    session,
    outside: wall - session,
    phases,
    sendBlock: turnarounds(commands, replies, Cmd.SEND_BLOCK),
    requestBlock: turnarounds(commands, replies, Cmd.REQUEST_BLOCK),
    flashCpuS: run.flashCpuS,
    cpuS: run.cpuS,
    userS: run.userS,
    sysS: run.sysS,
    frames: frames.length,
    txFrames: frames.filter((f) => f.dir === "TX").length,
    rxFrames: frames.filter((f) => f.dir === "RX").length,
  };
}

// ---------------------------------------------------------------------------
// Inside UML: the measurement

function spawnLines(cmd, args, onLine, options = {}) {
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], ...options });
  let out = "";
  let err = "";
  let partial = "";
  child.stdout.on("data", (d) => {
    const now = epochMs();
    out += d;
    partial += d;
    const parts = partial.split("\n");
    partial = parts.pop();
    for (const l of parts) onLine?.(l, now);
  });
  child.stderr.on("data", (d) => (err += d));
  const done = new Promise((r) =>
    child.on("close", (code) => r({ code, stdout: out, stderr: err, exitAt: epochMs() })),
  );
  return { child, done, output: () => out + err };
}

async function startSim() {
  if (IFACE === "sim") return { stop: async () => undefined };
  const s = spawnLines(process.execPath, [
    CLI,
    "sim",
    "-i",
    IFACE,
    "--katapult",
    KATAPULT,
    "--klipper",
    KLIPPER,
  ]);
  const deadline = Date.now() + 60_000;
  while (!s.output().includes("sim: ready")) {
    if (Date.now() > deadline || s.child.exitCode !== null)
      throw new Error(`canflash sim did not start:\n${s.output()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    async stop() {
      s.child.kill("SIGTERM");
      await s.done;
    },
  };
}

/** One flash; `traced: false` runs it without --trace-file (its per-frame stamps and writes cost CPU too). */
async function flashOnce(uuid, image, dir, n, traced = true) {
  const sim = await startSim();
  try {
    const trace = join(dir, `trace-${uuid}-${n}.log`);
    const lines = [];
    const spawnAt = epochMs();
    const p = spawnLines(
      "/usr/bin/time",
      [
        "-f",
        "CPU %U %S",
        process.execPath,
        CLI,
        "-i",
        IFACE,
        "-u",
        uuid,
        ...(traced ? ["--trace-file", trace] : []),
        "--json",
        image,
      ],
      (l, t) => lines.push({ l, t }),
    );
    const r = await p.done;
    if (r.code !== 0) throw new Error(`canflash exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
    const cpu = /CPU ([\d.]+) ([\d.]+)\s*$/.exec(r.stderr);
    const result = r.stdout
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l))
      .find((e) => e.type === "result");
    const flashCpuMs = result?.boards?.[0]?.cpuMs;
    return {
      spawnAt,
      flashCpuS: typeof flashCpuMs === "number" ? flashCpuMs / 1000 : NaN,
      exitAt: r.exitAt,
      lines,
      trace: traced ? readFileSync(trace, "utf8") : "",
      cpuS: cpu ? Number(cpu[1]) + Number(cpu[2]) : NaN,
      userS: cpu ? Number(cpu[1]) : NaN,
      sysS: cpu ? Number(cpu[2]) : NaN,
    };
  } finally {
    await sim.stop();
  }
}

const f1 = (x) => (Number.isFinite(x) ? x.toFixed(0) : "-");
const f3 = (x) => (Number.isFinite(x) ? x.toFixed(3) : "-");

function printCase(title, r, outsideTarget) {
  console.log(`\n${title}: wall ${f1(r.wall)} ms, ${r.frames} frames traced`);
  console.log("  phase                                                      ms   share");
  for (const [name, ms] of r.phases)
    console.log(
      `  ${name.padEnd(55)} ${f1(ms).padStart(6)}  ${((100 * ms) / r.wall).toFixed(1).padStart(5)} %`,
    );
  const okOutside = r.outside <= outsideTarget;
  console.log(
    `  session (CONNECT sent .. COMPLETE answered) ${f1(r.session)} ms; wall - session ${f1(r.outside)} ms (target <= ${outsideTarget}): ${okOutside ? "ok" : "MISSED"}`,
  );
  const sb = quantile(r.sendBlock, 0.5);
  const rb = quantile(r.requestBlock, 0.5);
  const okTurn = sb <= TARGETS.turnaroundMs && rb <= TARGETS.turnaroundMs;
  console.log(
    `  host turnaround, ms: SEND_BLOCK median ${f3(sb)} p90 ${f3(quantile(r.sendBlock, 0.9))} (n=${r.sendBlock.length}); REQUEST_BLOCK median ${f3(rb)} p90 ${f3(quantile(r.requestBlock, 0.9))} (n=${r.requestBlock.length}); target median <= ${TARGETS.turnaroundMs}: ${okTurn ? "ok" : "MISSED"}`,
  );
  const okCpu = r.untracedCpuS <= TARGETS.cpuS;
  console.log(
    `  CPU of the flash (process.cpuUsage() around it, a run without --trace-file): ${r.untracedCpuS.toFixed(2)} s per 48 KiB = ${((r.untracedCpuS * 1000) / 48).toFixed(1)} ms per KiB (target <= ${TARGETS.cpuS} s): ${okCpu ? "ok" : "MISSED"}; traced: ${r.flashCpuS.toFixed(2)} s`,
  );
  console.log(
    `  CPU of the whole CLI process, start to exit (user ${r.userS.toFixed(2)} + sys ${r.sysS.toFixed(2)}): ${r.cpuS.toFixed(2)} s`,
  );
  return okOutside && okTurn && okCpu;
}

/**
 * What the frames alone cost here: can-utils' cangen sending as many frames
 * as the flash traced (both directions) to a listening candump, CPU of the
 * two — the kernel's and the process switches' share of the CLI's CPU,
 * which no user-space change removes.
 */
async function frameFloor(frames, txFrames, rxFrames) {
  // its own process group: SIGINT must reach candump itself (GNU time ignores it while it waits)
  const listener = spawnLines("/usr/bin/time", ["-f", "CPU %U %S", "candump", IFACE], undefined, {
    detached: true,
  });
  await new Promise((r) => setTimeout(r, 300)); // candump has no ready line; its socket opens within this
  const sender = await spawnLines("/usr/bin/time", [
    "-f",
    "CPU %U %S",
    "cangen",
    IFACE,
    "-n",
    String(frames),
    "-g",
    "0",
    "-L",
    "8",
    "-I",
    "7FF",
    "-D",
    "i",
  ]).done;
  process.kill(-listener.child.pid, "SIGINT");
  const heard = await listener.done;
  const cpu = (t) => {
    const m = /CPU ([\d.]+) ([\d.]+)\s*$/.exec(t);
    return m ? Number(m[1]) + Number(m[2]) : NaN;
  };
  if (sender.code !== 0)
    return `  floor for the frames: cangen failed (exit ${sender.code}): ${sender.stderr.trim()}`;
  const s = cpu(sender.stderr);
  const l = cpu(heard.stderr);
  // The flash's own share: its sent frames at cangen's cost per frame, its received ones at candump's.
  const share = (s * txFrames + l * rxFrames) / frames;
  return (
    `  floor for the frames: ${frames} frames sent by cangen to a listening candump cost ${(s + l).toFixed(2)} s CPU here (cangen ${s.toFixed(2)}, candump ${l.toFixed(2)});\n` +
    `  the flash's ${txFrames} sent and ${rxFrames} received frames at those programs' cost: ${share.toFixed(2)} s, the least a flash can take here (target <= ${TARGETS.cpuS} s)`
  );
}

/** The cost of one clock read in this process: UML's vDSO has no fast path, so each is a system call. */
function clockFloor() {
  const n = 20000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) performance.now();
  const us = ((performance.now() - t0) * 1000) / n;
  return `  a clock read (performance.now) costs ${us.toFixed(2)} µs here (on a Linux host with a vDSO clock it is ~0.1 µs)`;
}

async function inside() {
  const dir = mkdtempSync(join(tmpdir(), "canflash-vcan-phases-"));
  try {
    const { demoImage } = await import("../dist/flasher/simulate.js");
    const image = join(dir, "klipper.bin");
    // A Klipper build for the sim's chip (its data dictionary included, as klipper.bin has).
    writeFileSync(image, demoImage({ size: SIZE }));
    // Warm the page cache for node and the bundle.
    await spawnLines(process.execPath, [CLI, "--version"]).done;
    // The floor of a process here, in the same run (UML's cost per system call scales with the host's load).
    const floors = [];
    for (let n = 0; n < 3; n++) {
      const at = epochMs();
      const r = await spawnLines("/usr/bin/time", ["-f", "CPU %U %S", process.execPath, "-e", "0"])
        .done;
      const cpu = /CPU ([\d.]+) ([\d.]+)\s*$/.exec(r.stderr);
      floors.push({ ms: r.exitAt - at, cpuS: cpu ? Number(cpu[1]) + Number(cpu[2]) : NaN });
    }
    floors.sort((a, b) => a.ms - b.ms);
    const floor = floors[1];
    console.log(
      IFACE === "sim"
        ? `\nThe time around the session on the demo bus (-i sim: the boards in the CLI's process; a look, not the measurement): 48 KiB`
        : `\nThe time around the session on ${IFACE} in User-Mode Linux: 48 KiB, canflash sim in another process (median run of ${RUNS} by wall time)`,
    );
    console.log(
      `  floor: node -e 0 here takes ${f1(floor.ms)} ms wall and ${floor.cpuS.toFixed(2)} s CPU (median of 3)`,
    );
    let ok = true;
    let framesFloor;
    for (const [title, uuid, target] of [
      ["Node already in Katapult", KATAPULT, TARGETS.outsideKatapultMs],
      ["Klipper node asked into Katapult first", KLIPPER, TARGETS.outsideKlipperMs],
    ]) {
      const runs = [];
      for (let n = 0; n < RUNS; n++) runs.push(phasesOf(await flashOnce(uuid, image, dir, n)));
      runs.sort((a, b) => a.wall - b.wall);
      const r = runs[Math.floor(runs.length / 2)];
      r.untracedCpuS = (await flashOnce(uuid, image, dir, RUNS, false)).flashCpuS;
      ok = printCase(title, r, target) && ok;
      console.log(
        `  all runs: wall ${runs.map((x) => f1(x.wall)).join(", ")} ms; wall - session ${runs.map((x) => f1(x.outside)).join(", ")} ms; CPU of the flash ${runs.map((x) => x.flashCpuS.toFixed(2)).join(", ")} s, of the process ${runs.map((x) => x.cpuS.toFixed(2)).join(", ")} s`,
      );
      if (IFACE !== "sim" && !framesFloor)
        framesFloor = await frameFloor(r.frames, r.txFrames, r.rxFrames);
    }
    if (framesFloor) console.log(framesFloor);
    console.log(clockFloor());
    console.log(`${RESULT_TAG} ${JSON.stringify({ ok })}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// Outside: boot UML through the lane

/** Runs the measurement in UML; true when its targets are met or it cannot run here (it says why). */
export async function benchVcanPhases() {
  const uml = ["/usr/bin/linux.uml", "/usr/bin/linux"].find((p) => existsSync(p));
  if (!uml) {
    console.log(
      "\nvcan phases: not measured — User-Mode Linux is not installed (apt-get install -y user-mode-linux can-utils iproute2 kmod); see ../shared/docs/testing-socketcan.md",
    );
    return true;
  }
  // UML's every system call costs host context switches: a loaded host slows it many times over.
  const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  console.log(
    `\nvcan phases: booting User-Mode Linux (host load average ${load}, ${availableParallelism()} cores)`,
  );
  const lane = spawn(process.execPath, [join(projectDir, "scripts/vcan-lane.mjs")], {
    env: {
      ...process.env,
      // The host's environment does not reach inside UML: the command carries what it needs.
      VCAN_CMD: `VCAN_PHASES_RUNS=${RUNS} '${process.execPath}' bench/vcan-phases.mjs --inside`,
      UML_TIMEOUT_S: process.env.UML_TIMEOUT_S ?? "600",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  lane.stdout.on("data", (d) => (out += d));
  lane.stderr.on("data", (d) => (out += d));
  const code = await new Promise((r) => lane.on("close", r));
  const shown = out
    .split("\n")
    .filter((l) => l && !l.startsWith(RESULT_TAG) && !l.startsWith("vcan lane:"));
  console.log(shown.join("\n"));
  const m = new RegExp(`${RESULT_TAG} (\\{.*\\})`).exec(out);
  if (!m) {
    console.log(
      `\nvcan phases: not measured — the UML lane ended (exit ${code}) without a result:\n${out
        .split("\n")
        .filter((l) => /vcan lane|Error|error|cause/.test(l))
        .slice(-15)
        .join("\n")}`,
    );
    return false;
  }
  return JSON.parse(m[1]).ok;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes("--inside")) await inside();
  else if (!(await benchVcanPhases())) process.exitCode = 1;
}
