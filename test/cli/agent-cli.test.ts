// `canflash agent` end to end: the built binary in a child process, a fake
// Moonraker on a real Unix socket in this one, the demo bus behind the
// agent. A front end flashes the four demo boards through
// server.extensions.request (job id at once, events, every board verified,
// Klipper stopped once and ready again); a macro's remote-method call (no
// id) flashes one; a print refuses; a second agent of the name exits 7; a
// Moonraker restart is survived; a bad agent config exits 2 before
// connecting.
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeClient, FakeMoonrakerSocket } from "../fakes/moonraker-socket.js";
import { setupPrinter, type Setup } from "../moonraker/printer-setup.js";
import { BIN, canflash } from "./helpers.js";

interface Agent {
  child: ChildProcess;
  out: () => string;
  exited: Promise<number | null>;
}

let s: Setup;
let agentConfig: string;
const agents: Agent[] = [];
const clients: FakeClient[] = [];

beforeEach(async () => {
  const p = setupPrinter("canflash-agent-cli-");
  s = { ...p, fake: new FakeMoonrakerSocket(p.fakeOptions) };
  agentConfig = join(s.dir, "canflash.yaml");
  writeFileSync(
    agentConfig,
    "allow_flash: true\nfirmware: klipper.bin\nboards:\n  T1: klipper-rp2040.bin\n",
  );
  await s.fake.listen();
});

afterEach(async () => {
  for (const a of agents.splice(0)) {
    a.child.kill("SIGKILL");
    await a.exited;
  }
  for (const c of clients.splice(0)) c.close();
  await s.fake.stop();
});

function spawnAgent(extra: string[] = []): Agent {
  const child = spawn(
    process.execPath,
    [
      BIN,
      "agent",
      "--socket",
      s.socketPath,
      "--agent-config",
      agentConfig,
      "--reconnect-min-ms",
      "50",
      "--reconnect-max-ms",
      "400",
      ...extra,
    ],
    { cwd: s.dir, stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.on("close", (code) => resolve(code)),
  );
  const a = { child, out: () => out, exited };
  agents.push(a);
  return a;
}

/** The agent is identified and its remote methods are registered. */
const registered = () => s.fake.agents.get("canflash")?.methods.length === 3;

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function frontEnd(): Promise<FakeClient> {
  const c = await FakeClient.connect(s.socketPath);
  clients.push(c);
  return c;
}

describe("canflash agent (spawned)", () => {
  it("a front end flashes the four demo boards: job id at once, events, verified, Klipper ready again; SIGTERM ends it with 0", async () => {
    const a = spawnAgent();
    // "Connected" is printed once the remote methods are registered
    await until(() => /Connected to Moonraker/.test(a.out()), 15_000, "identify and register");
    const reg = s.fake.received.filter((r) => r.msg.method === "connection.register_remote_method");
    expect(reg.map((r) => (r.msg.params as { method_name: string }).method_name)).toEqual([
      "canflash_flash",
      "canflash_flash_all",
      "canflash_cancel",
    ]);
    const fe = await frontEnd();
    const r = await fe.request("server.extensions.request", { agent: "canflash", method: "flash" });
    const { job, boards } = r.result as { job: string; boards: string[] };
    expect(boards).toEqual(["mcu", "EBBCan", "T1", "T2"]);
    const fin = await fe.waitForEvent((e) => e.event === "job_finished", 60_000);
    expect(fin.data).toMatchObject({
      job,
      state: "done",
      klipper: { stopped: true, restarted: true },
    });
    expect(
      (fin.data!.results as Array<{ board: string; status: string; verified: boolean }>).map(
        (x) => `${x.board}:${x.status}:${x.verified}`,
      ),
    ).toEqual(["mcu:ok:true", "EBBCan:ok:true", "T1:ok:true", "T2:ok:true"]);
    expect(s.fake.serviceCalls).toEqual(["stop klipper", "start klipper"]);
    expect(s.fake.klippy).toBe("ready");
    expect(a.out()).toMatch(/Connected to Moonraker as agent "canflash"/);
    expect(a.out()).toMatch(/\[flash-1\] finished: done/);
    a.child.kill("SIGTERM");
    expect(await a.exited).toBe(0);
    await until(() => !s.fake.agents.has("canflash"), 5000, "agent gone");
  }, 90_000);

  it("a macro's remote-method call (no id) flashes EBBCan; nothing is answered to it", async () => {
    spawnAgent();
    await until(registered, 15_000, "identify");
    const fe = await frontEnd();
    const uid = s.fake.agents.get("canflash")!.uid;
    expect(s.fake.gcodeCallsRemoteMethod("canflash_flash", { mcu: "EBBCan" })).toBe(true);
    const fin = await fe.waitForEvent((e) => e.event === "job_finished", 60_000);
    expect(fin.data).toMatchObject({ state: "done", results: [{ board: "EBBCan", status: "ok" }] });
    const answers = s.fake.received.filter((m) => m.uid === uid && m.msg.method === undefined);
    expect(answers).toEqual([]);
  }, 60_000);

  it("refuses while printing (error 424 to the front end), Klipper left alone", async () => {
    s.fake.printState = "printing";
    spawnAgent();
    await until(registered, 15_000, "identify");
    const fe = await frontEnd();
    const r = await fe.request("server.extensions.request", { agent: "canflash", method: "flash" });
    expect(r.error).toMatchObject({ code: 424, data: { data: { code: "KLIPPER_PRINTING" } } });
    expect(s.fake.serviceCalls).toEqual([]);
  });

  it("a second agent with the same name exits 7 and names the fix", async () => {
    spawnAgent();
    await until(registered, 15_000, "identify");
    const second = spawnAgent();
    expect(await second.exited).toBe(7);
    expect(second.out()).toMatch(/another agent is connected to Moonraker as "canflash"/);
    expect(second.out()).toMatch(/--name canflash-2/);
    expect(s.fake.agents.size).toBe(1);
  });

  it("reconnects after a Moonraker restart and registers again", async () => {
    const a = spawnAgent();
    await until(registered, 15_000, "identify");
    await until(() => /Connected to Moonraker/.test(a.out()), 15_000, "identify and register");
    await s.fake.restart(300);
    await until(
      () => (a.out().match(/Connected to Moonraker as agent/g) ?? []).length === 2,
      15_000,
      "re-identify",
    );
    expect(a.out()).toMatch(/Moonraker went away; reconnecting/);
    expect(a.out().match(/Connected to Moonraker as agent/g)).toHaveLength(2);
    const fe = await frontEnd();
    const st = await fe.request("server.extensions.request", {
      agent: "canflash",
      method: "status",
    });
    expect(st.result).toMatchObject({ needsFlash: ["EBBCan", "T2"] });
  }, 30_000);

  it("a bad agent config exits 2 before connecting", async () => {
    writeFileSync(agentConfig, "allow_flash: yes please\n");
    const r = await canflash(["agent", "--socket", s.socketPath, "--agent-config", agentConfig]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/canflash\.yaml: allow_flash: /);
    expect(s.fake.received).toEqual([]);
  });
});
