// examples/ansible/ run by Debian's ansible-core against three local hosts
// (connection local), each with its own manifest on a demo bus that keeps
// its boards' flash (-i sim:<dir>): the first run flashes hosts a and b
// (changed) and fails host c (a board that does not answer); the second run
// of a and b changes nothing. The role's changed/failed come from
// `canflash ensure --json`'s result and exit code.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { demoImage } from "../../src/flasher/simulate.js";
import { BIN } from "../cli/helpers.js";

const hasAnsible = spawnSync("ansible-playbook", ["--version"]).status === 0;
const PLAYBOOK = resolve(__dirname, "../../examples/ansible/site.yml");

/** "a : ok=2 changed=1 …" → { a: { ok: 2, changed: 1, … } } */
function recap(out: string): Record<string, Record<string, number>> {
  const hosts: Record<string, Record<string, number>> = {};
  const tail = out.slice(out.indexOf("PLAY RECAP"));
  for (const m of tail.matchAll(/^(\S+)\s+:\s+(.*)$/gm))
    hosts[m[1]!] = Object.fromEntries(
      [...m[2]!.matchAll(/(\w+)=(\d+)/g)].map((x) => [x[1]!, Number(x[2])]),
    );
  return hosts;
}

// CI installs ansible-core (.ci/run); without it there is no engine to test against.
describe.skipIf(!hasAnsible)("examples/ansible with canflash ensure", () => {
  it("changed on the first run, unchanged on the second, a failing host fails", () => {
    const dir = mkdtempSync(join(tmpdir(), "canflash-ansible-"));
    writeFileSync(join(dir, "klipper.bin"), demoImage({ size: 8192 }));
    const manifest = (host: string, uuids: string[]) => {
      const path = join(dir, `boards-${host}.yaml`);
      writeFileSync(
        path,
        [
          `interface: sim:${join(dir, `state-${host}`)}`,
          `firmware: ${join(dir, "klipper.bin")}`,
          "boards:",
          ...uuids.map((u) => `  - { uuid: ${u} }`),
          "",
        ].join("\n"),
      );
      return path;
    };
    const inventory = join(dir, "inventory.ini");
    writeFileSync(
      inventory,
      [
        "[printers]",
        `a canflash_manifest=${manifest("a", ["8266c4636429", "ef00c3c43f24"])}`,
        `b canflash_manifest=${manifest("b", ["ef00c3c43f24"])}`,
        `c canflash_manifest=${manifest("c", ["0badc0ffee01"])}`,
        "[printers:vars]",
        "ansible_connection=local",
        "ansible_python_interpreter=/usr/bin/python3",
        "",
      ].join("\n"),
    );
    const vars = join(dir, "vars.json");
    writeFileSync(
      vars,
      JSON.stringify({ canflash_cmd: [process.execPath, BIN], canflash_args: [] }),
    );
    mkdirSync(join(dir, "tmp"));
    const env = {
      ...process.env,
      ANSIBLE_NOCOLOR: "1",
      ANSIBLE_LOCAL_TEMP: join(dir, "tmp"),
      ANSIBLE_REMOTE_TEMP: join(dir, "tmp"),
      ANSIBLE_RETRY_FILES_ENABLED: "0",
    };
    const play = (limit?: string) =>
      spawnSync(
        "ansible-playbook",
        ["-i", inventory, PLAYBOOK, "-e", `@${vars}`, ...(limit ? ["--limit", limit] : [])],
        { cwd: dir, env, encoding: "utf8", timeout: 120_000 },
      );
    const first = play();
    expect(first.status, first.stdout + first.stderr).toBe(2); // a host failed
    expect(recap(first.stdout)).toMatchObject({
      a: { changed: 1, failed: 0 },
      b: { changed: 1, failed: 0 },
      c: { changed: 0, failed: 1 },
    });
    expect(first.stdout).toMatch(/"msg": "flashed: 8266c4636429, ef00c3c43f24"/);
    expect(first.stdout).toMatch(/"msg": "flashed: ef00c3c43f24"/);
    const second = play("a,b");
    expect(second.status, second.stdout + second.stderr).toBe(0);
    expect(recap(second.stdout)).toMatchObject({
      a: { changed: 0, failed: 0 },
      b: { changed: 0, failed: 0 },
    });
  }, 180_000);
});
