// The Moonraker agent against a fake Moonraker on a real Unix socket (the
// documented messages, 0x03 framing), with the demo CAN bus behind it: a
// front end's server.extensions.request and a G-code macro each flash the
// four demo boards through Katapult (read back and verified); Klipper is
// stopped once and waited for "ready" again; a print refuses the flash
// before anything is sent; a second agent of the same name is refused; a
// Moonraker restart, also in the middle of a job, is survived.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MoonrakerAgent, REMOTE_METHODS, type AgentEvent } from "../../src/moonraker/agent.js";
import type { AgentConfig } from "../../src/moonraker/config.js";
import { AgentNameTakenError } from "../../src/moonraker/errors.js";
import { FakeClient, FakeMoonrakerSocket } from "../fakes/moonraker-socket.js";
import { setupPrinter, type Setup } from "./printer-setup.js";

let s: Setup;
let stop: AbortController;
let running: Promise<void> | undefined;
let events: AgentEvent[];
const clients: FakeClient[] = [];

beforeEach(async () => {
  const p = setupPrinter("canflash-agent-");
  s = { ...p, fake: new FakeMoonrakerSocket(p.fakeOptions) };
  await s.fake.listen();
  stop = new AbortController();
  events = [];
});

afterEach(async () => {
  stop.abort();
  await running?.catch(() => undefined);
  running = undefined;
  for (const c of clients.splice(0)) c.close();
  await s.fake.stop();
});

function startAgent(config: Partial<AgentConfig> = {}, name?: string): MoonrakerAgent {
  const agent = new MoonrakerAgent({
    socketPath: s.socketPath,
    ...(name ? { name } : {}),
    version: "0.1.0-test",
    config: { ...s.config, ...config },
    cwd: s.dir,
    reconnectMinMs: 50,
    reconnectMaxMs: 400,
    service: { pollMs: 20, startTimeoutMs: 5000, stopTimeoutMs: 5000 },
    signal: stop.signal,
    onEvent: (e) => events.push(e),
  });
  running = agent.run();
  return agent;
}

/** The agent is identified and its remote methods are registered. */
const registered = () => s.fake.agents.get("canflash")?.methods.length === 3;

async function until(cond: () => boolean, ms = 10_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function frontEnd(): Promise<FakeClient> {
  const c = await FakeClient.connect(s.socketPath);
  clients.push(c);
  return c;
}

const agentMessages = () => {
  const uid = [...s.fake.agents.values()][0]?.uid;
  return s.fake.received.filter((r) => r.uid === uid).map((r) => r.msg);
};

describe("canflash agent", () => {
  it("identifies as an agent and registers its G-code methods", async () => {
    startAgent();
    await until(registered, 5000, "identify");
    await until(() => events.some((e) => e.type === "identified"));
    const msgs = agentMessages();
    const identify = msgs.find((m) => m.method === "server.connection.identify")!;
    expect(identify.params).toMatchObject({
      client_name: "canflash",
      type: "agent",
      version: "0.1.0-test",
    });
    expect(typeof identify.id).toBe("number");
    expect(
      msgs
        .filter((m) => m.method === "connection.register_remote_method")
        .map((m) => (m.params as { method_name: string }).method_name),
    ).toEqual([...REMOTE_METHODS]);
    const fe = await frontEnd();
    const list = await fe.request("server.extensions.list");
    expect(list.result).toEqual({
      agents: [expect.objectContaining({ name: "canflash", type: "agent" })],
    });
  });

  it("status: each board, what it runs, what needs flashing (never a null result)", async () => {
    startAgent();
    await until(registered);
    const fe = await frontEnd();
    const r = await fe.request("server.extensions.request", {
      agent: "canflash",
      method: "status",
    });
    expect(r.error).toBeUndefined();
    const result = r.result as {
      boards: Array<{ name: string; verdict: string; needsFlash: boolean }>;
      needsFlash: string[];
    };
    expect(Object.fromEntries(result.boards.map((b) => [b.name, b.verdict]))).toEqual({
      mcu: "same",
      EBBCan: "older",
      T1: "same",
      T2: "deprecated-code",
      rpi: "older",
    });
    expect(result.needsFlash).toEqual(["EBBCan", "T2"]); // rpi is the host process: rebuilt, not flashed
    expect(result.boards.find((b) => b.name === "EBBCan")).toMatchObject({
      canbusStats: { bus_state: "active", tx_retries: 5 },
    });
  });

  it("status: boards waiting in Katapult, from machine.peripherals (the CAN query only when asked), also when Klippy is not ready", async () => {
    s.fake.serialDevices = [
      {
        device_type: "usb",
        device_path: "/dev/ttyACM1",
        path_by_id: "/dev/serial/by-id/usb-katapult_stm32h723xx_1A2B-if00",
      },
      {
        device_type: "usb",
        device_path: "/dev/ttyACM0",
        path_by_id: "/dev/serial/by-id/usb-Klipper_x-if00",
      },
    ];
    s.fake.canUuids = {
      sim: [
        { uuid: "EF00C3C43F24", application: "Katapult" },
        { uuid: "aaaaaaaaaaaa", application: "Klipper" },
      ],
    };
    startAgent();
    await until(registered);
    const fe = await frontEnd();
    const plain = await fe.request("server.extensions.request", {
      agent: "canflash",
      method: "status",
    });
    expect((plain.result as { waiting: unknown[] }).waiting).toEqual([
      { via: "serial", device: "/dev/serial/by-id/usb-katapult_stm32h723xx_1A2B-if00" },
    ]);
    expect(s.fake.canbusQueries).toEqual([]);
    s.fake.klippy = "error"; // e.g. Klippy cannot reach the board that sits in Katapult
    const r = await fe.request("server.extensions.request", {
      agent: "canflash",
      method: "status",
      arguments: { canbus: true },
    });
    expect(r.result).toMatchObject({
      klippy: { connected: true, state: "error" },
      boards: [],
      waiting: [
        { via: "serial", device: "/dev/serial/by-id/usb-katapult_stm32h723xx_1A2B-if00" },
        { via: "canbus", uuid: "ef00c3c43f24", interface: "sim", name: "T2" },
      ],
    });
    expect(s.fake.canbusQueries).toEqual(["sim"]);
  });

  it("flash from a front end: a job id at once, events per phase, four boards verified, Klipper back to ready", async () => {
    startAgent();
    await until(registered);
    const fe = await frontEnd();
    const r = await fe.request("server.extensions.request", { agent: "canflash", method: "flash" });
    expect(r.error).toBeUndefined();
    const { job, boards } = r.result as { job: string; boards: string[] };
    expect(job).toMatch(/^flash-\d+$/);
    expect(boards).toEqual(["mcu", "EBBCan", "T1", "T2"]); // rpi (host process) is not flashed
    const fin = await fe.waitForEvent((e) => e.event === "job_finished", 60_000);
    expect(fin.agent).toBe("canflash");
    expect(fin.data).toMatchObject({
      job,
      state: "done",
      klipper: { stopped: true, restarted: true },
    });
    const results = fin.data!.results as Array<{
      board: string;
      status: string;
      verified: boolean;
    }>;
    expect(results.map((x) => [x.board, x.status, x.verified])).toEqual([
      ["mcu", "ok", true],
      ["EBBCan", "ok", true],
      ["T1", "ok", true],
      ["T2", "ok", true],
    ]);
    // Klipper stopped once, started once, and ready again
    expect(s.fake.serviceCalls).toEqual(["stop klipper", "start klipper"]);
    expect(s.fake.klippy).toBe("ready");
    const names = fe.agentEvents().map((e) => e.event);
    expect(names[0]).toBe("job_started");
    expect(names).toContain("progress");
    const klipper = fe
      .agentEvents()
      .filter((e) => e.event === "klipper")
      .map((e) => e.data!.action);
    expect(klipper).toEqual(["stopping", "stopped", "starting", "ready"]);
    // every board went through write and verify
    for (const b of boards)
      for (const phase of ["write", "verify"])
        expect(
          fe
            .agentEvents()
            .some(
              (e) =>
                e.event === "board" &&
                e.data!.board === b &&
                e.data!.phase === phase &&
                e.data!.state === "done",
            ),
          `${b} ${phase}`,
        ).toBe(true);
    // every request of Moonraker got exactly one answer, none null
    const answers = agentMessages().filter((m) => m.method === undefined);
    expect(answers.every((m) => m.result !== null && m.result !== undefined)).toBe(true);
  }, 90_000);

  it("refuses to flash while printing: an error answer (Moonraker's 424), Klipper left alone", async () => {
    s.fake.printState = "printing";
    startAgent();
    await until(registered);
    const fe = await frontEnd();
    const r = await fe.request("server.extensions.request", { agent: "canflash", method: "flash" });
    const err = r.error as {
      code: number;
      message: string;
      data: { code: number; message: string; data: { code: string } };
    };
    expect(err.code).toBe(424);
    expect(err.data.data.code).toBe("KLIPPER_PRINTING");
    expect(err.data.message).toMatch(/printing/);
    expect(s.fake.serviceCalls).toEqual([]);
    expect(fe.agentEvents().filter((e) => e.event === "job_started")).toEqual([]);
  });

  it("refuses to flash when the agent's config does not allow it", async () => {
    startAgent({ allowFlash: false });
    await until(registered);
    const fe = await frontEnd();
    const r = await fe.request("server.extensions.request", { agent: "canflash", method: "flash" });
    expect((r.error as { data: { data: { code: string } } }).data.data.code).toBe(
      "AGENT_FLASH_DISABLED",
    );
    expect(s.fake.serviceCalls).toEqual([]);
  });

  it("a G-code macro's remote-method call (no id) flashes the named board and gets no answer", async () => {
    startAgent();
    await until(registered);
    const fe = await frontEnd();
    expect(s.fake.gcodeCallsRemoteMethod("canflash_flash", { mcu: "EBBCan" })).toBe(true);
    const fin = await fe.waitForEvent((e) => e.event === "job_finished", 60_000);
    expect(fin.data).toMatchObject({ state: "done" });
    expect((fin.data!.results as Array<{ board: string }>).map((x) => x.board)).toEqual(["EBBCan"]);
    const started = fe.agentEvents().find((e) => e.event === "job_started")!;
    expect(started.data).toMatchObject({ source: "gcode", boards: ["EBBCan"] });
    // Klipper takes no return value: the agent answered nothing for it
    const answers = agentMessages().filter((m) => m.method === undefined);
    expect(answers).toEqual([]);
  }, 60_000);

  it("CANFLASH_ALL's canflash_flash_all flashes the four boards, Klipper stopped once", async () => {
    startAgent();
    await until(registered);
    const fe = await frontEnd();
    expect(s.fake.gcodeCallsRemoteMethod("canflash_flash_all")).toBe(true);
    const fin = await fe.waitForEvent((e) => e.event === "job_finished", 60_000);
    expect(fin.data).toMatchObject({ state: "done", klipper: { restarted: true } });
    expect(
      (fin.data!.results as Array<{ board: string; status: string; verified: boolean }>).map(
        (x) => `${x.board}:${x.status}:${x.verified}`,
      ),
    ).toEqual(["mcu:ok:true", "EBBCan:ok:true", "T1:ok:true", "T2:ok:true"]);
    expect(s.fake.serviceCalls).toEqual(["stop klipper", "start klipper"]);
  }, 60_000);

  it("a bad G-code call is refused as an event, nothing flashed", async () => {
    startAgent();
    await until(registered);
    const fe = await frontEnd();
    s.fake.gcodeCallsRemoteMethod("canflash_flash", { mcu: "NoSuchBoard" });
    const ev = await fe.waitForEvent((e) => e.event === "request_refused");
    expect(ev.data).toMatchObject({
      method: "canflash_flash",
      error: { code: "MCU_NOT_CONFIGURED" },
    });
    expect(s.fake.serviceCalls).toEqual([]);
  });

  it("plan: the dry run, Klipper not stopped", async () => {
    startAgent();
    await until(registered);
    const fe = await frontEnd();
    const r = await fe.request("server.extensions.request", {
      agent: "canflash",
      method: "plan",
      arguments: { mcus: ["T2"] },
    });
    const boards = (
      r.result as { boards: Array<{ board: string; status: string; plan?: { blocks: number } }> }
    ).boards;
    expect(boards).toEqual([
      expect.objectContaining({
        board: "T2",
        status: "dry-run",
        plan: expect.objectContaining({ blocks: expect.any(Number) }),
      }),
    ]);
    expect(s.fake.serviceCalls).toEqual([]);
  });

  it("an unknown method is an error answer, not a null result", async () => {
    startAgent();
    await until(registered);
    const fe = await frontEnd();
    const r = await fe.request("server.extensions.request", { agent: "canflash", method: "nope" });
    expect(r.error).toMatchObject({ code: 424, data: { code: -32601 } });
  });

  it("a second agent with the same name is refused", async () => {
    startAgent();
    await until(registered);
    const second = new MoonrakerAgent({
      socketPath: s.socketPath,
      version: "0.1.0-test",
      config: s.config,
      cwd: s.dir,
      signal: stop.signal,
    });
    await expect(second.run()).rejects.toBeInstanceOf(AgentNameTakenError);
    expect(s.fake.agents.size).toBe(1);
  });

  it("reconnects when Moonraker restarts, with a doubling backoff, and registers again", async () => {
    startAgent();
    await until(registered);
    await until(() => events.some((e) => e.type === "identified"));
    await s.fake.restart(500);
    await until(
      () => events.filter((e) => e.type === "identified").length === 2,
      10_000,
      "re-identify",
    );
    const retries = events
      .filter((e) => e.type === "retry")
      .map((e) => (e as { inMs: number }).inMs);
    expect(retries.length).toBeGreaterThanOrEqual(2);
    expect(retries.slice(0, 3)).toEqual([50, 100, 200].slice(0, Math.min(3, retries.length)));
    expect(events.filter((e) => e.type === "identified")).toHaveLength(2);
    const registrations = s.fake.received.filter(
      (r) => r.msg.method === "connection.register_remote_method",
    );
    expect(registrations).toHaveLength(REMOTE_METHODS.length * 2);
  });

  it("Moonraker restarting mid-job: the job finishes, Klipper is started once Moonraker is back", async () => {
    startAgent();
    await until(registered);
    const fe = await frontEnd();
    const r = await fe.request("server.extensions.request", { agent: "canflash", method: "flash" });
    const { job } = r.result as { job: string };
    await fe.waitForEvent((e) => e.event === "board" && e.data!.phase === "write");
    const klippyWas = s.fake.klippy;
    expect(klippyWas).toBe("disconnected");
    await s.fake.restart(300);
    // Moonraker came back with Klippy still stopped (the agent stopped it)
    await until(registered, 10_000, "re-identify");
    const fe2 = await frontEnd();
    const fin = await fe2.waitForEvent((e) => e.event === "job_finished", 60_000);
    expect(fin.data).toMatchObject({ job, state: "done", klipper: { restarted: true } });
    expect(s.fake.serviceCalls).toEqual(["stop klipper", "start klipper"]);
    expect(s.fake.klippy).toBe("ready");
    const st = await fe2.request("server.extensions.request", {
      agent: "canflash",
      method: "job",
      arguments: { job },
    });
    expect(st.result).toMatchObject({ job, state: "done", step: "finished" });
  }, 90_000);

  it("cancel between boards: the board being flashed finishes, the rest are not started, Klipper restarted", async () => {
    startAgent();
    await until(registered);
    const fe = await frontEnd();
    const r = await fe.request("server.extensions.request", { agent: "canflash", method: "flash" });
    const { job } = r.result as { job: string };
    await fe.waitForEvent(
      (e) => e.event === "board" && e.data!.phase === "write" && e.data!.state === "started",
    );
    const c = await fe.request("server.extensions.request", {
      agent: "canflash",
      method: "cancel",
      arguments: { job },
    });
    expect(c.result).toEqual({ job, cancelling: true });
    const fin = await fe.waitForEvent((e) => e.event === "job_finished", 60_000);
    expect(fin.data).toMatchObject({ job, state: "cancelled", klipper: { restarted: true } });
    const results = fin.data!.results as Array<{
      board: string;
      status: string;
      error?: { message: string };
    }>;
    expect(results[0]).toMatchObject({ board: "mcu", status: "ok" });
    for (const x of results.slice(1)) {
      expect(x.status).toBe("skipped");
      expect(x.error!.message).toBe("not started: cancelled");
    }
    expect(s.fake.serviceCalls).toEqual(["stop klipper", "start klipper"]);
  }, 60_000);

  it("stopping the agent mid-job (SIGTERM) cancels between boards and starts Klipper before it exits", async () => {
    startAgent();
    await until(registered);
    const fe = await frontEnd();
    await fe.request("server.extensions.request", { agent: "canflash", method: "flash" });
    await fe.waitForEvent(
      (e) => e.event === "board" && e.data!.phase === "write" && e.data!.state === "started",
    );
    stop.abort();
    await running;
    const fin = await fe.waitForEvent((e) => e.event === "job_finished", 5000);
    expect(fin.data).toMatchObject({ state: "cancelled", klipper: { restarted: true } });
    expect((fin.data!.results as Array<{ status: string }>).map((r) => r.status)).toEqual([
      "ok",
      "skipped",
      "skipped",
      "skipped",
    ]);
    expect(s.fake.serviceCalls).toEqual(["stop klipper", "start klipper"]);
    expect(s.fake.klippy).toBe("ready");
  }, 60_000);

  it("a Klippy that comes back in error (an MCU not back yet) gets one FIRMWARE_RESTART", async () => {
    s.fake.stateAfterStart = "error";
    startAgent();
    await until(registered);
    const fe = await frontEnd();
    await fe.request("server.extensions.request", {
      agent: "canflash",
      method: "flash",
      arguments: { mcus: ["T2"] },
    });
    const fin = await fe.waitForEvent((e) => e.event === "job_finished", 60_000);
    expect(fin.data).toMatchObject({
      state: "done",
      klipper: { restarted: true, firmwareRestart: true },
    });
    expect(s.fake.serviceCalls).toEqual(["stop klipper", "start klipper", "firmware_restart"]);
    expect(s.fake.klippy).toBe("ready");
  }, 60_000);
});
