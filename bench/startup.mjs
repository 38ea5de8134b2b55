// Start-up of the CLI (`canflash --help`) against `node -e 0` in the same
// run: median wall time and peak RSS over repeated starts, and the number of
// .js/.json/.node files opened before the first line is written (strace).
// Targets (issue 17): ≤ 100 ms median, ≤ 50 MB RSS, ≤ 10 files. Needs
// Debian's strace and time.
import { execFileSync, spawnSync } from "node:child_process";
import { userEnv, userEnvNote } from "./user-env.mjs";

const CLI = new URL("../dist/cli/main.mjs", import.meta.url).pathname;
export const STARTUP_TARGET_MS = 100;
export const STARTUP_TARGET_RSS_MB = 50;
export const STARTUP_TARGET_FILES = 10;
const RUNS = 15;

function measure(args) {
  const ms = [];
  const rss = [];
  for (let i = 0; i < RUNS; i++) {
    const r = spawnSync("/usr/bin/time", ["-f", "%e %M", process.execPath, ...args], {
      encoding: "utf8",
      env: userEnv(),
    });
    const [secs, kb] = r.stderr.trim().split("\n").at(-1).split(" ").map(Number);
    ms.push(secs * 1000);
    rss.push(kb / 1024);
  }
  const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  return { ms: median(ms), rss: median(rss) };
}

function filesBeforeOutput() {
  const out = spawnSync(
    "strace",
    ["-f", "-e", "trace=openat,open,write", process.execPath, CLI, "--help"],
    { encoding: "utf8", env: userEnv() },
  ).stderr;
  let n = 0;
  for (const line of out.split("\n")) {
    if (/write\(1,/.test(line)) break;
    if (/open(at)?\(/.test(line) && /\.(js|json|node|mjs|cjs)"/.test(line) && !/ENOENT/.test(line))
      n++;
  }
  return n;
}

export async function benchStartup() {
  execFileSync(process.execPath, [CLI, "--help"], { env: userEnv() }); // warm the page cache
  const floor = measure(["-e", "0"]);
  const help = measure([CLI, "--help"]);
  const files = filesBeforeOutput();
  console.log(`\nStart-up: canflash --help against node -e 0 (median of ${RUNS})${userEnvNote()}`);
  console.log(
    `  node -e 0        ${floor.ms.toFixed(0).padStart(4)} ms  ${floor.rss.toFixed(1).padStart(5)} MB`,
  );
  console.log(
    `  canflash --help  ${help.ms.toFixed(0).padStart(4)} ms  ${help.rss.toFixed(1).padStart(5)} MB  ratio ${(help.ms / floor.ms).toFixed(2)}x node`,
  );
  const ok =
    help.ms <= STARTUP_TARGET_MS &&
    help.rss <= STARTUP_TARGET_RSS_MB &&
    files <= STARTUP_TARGET_FILES;
  console.log(
    `  files opened before the first line: ${files}; targets <= ${STARTUP_TARGET_MS} ms, <= ${STARTUP_TARGET_RSS_MB} MB, <= ${STARTUP_TARGET_FILES} files: ${ok ? "ok" : "MISSED"}`,
  );
  return ok;
}
