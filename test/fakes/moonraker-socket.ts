// A Moonraker stand-in on a real Unix socket, speaking its JSON-RPC with
// the 0x03 framing and the message shapes of Moonraker's docs and source:
// server.connection.identify (one agent per name; a second gets Moonraker's
// error), connection.register_remote_method, connection.send_event
// (broadcast as notify_agent_event to every other connection),
// server.extensions.request (relayed to the agent with an id; a null
// result becomes error 424 carrying the agent's error, a dropped agent
// 500), server.info / printer.info / printer.objects.list|query,
// machine.services.stop|start with a Klippy state machine (ready,
// printing, shutdown, error, startup, disconnected), and
// printer.firmware_restart. Klipper's G-code can call an agent's remote
// method (a message without an id). restart() drops every connection and
// comes back on the same path, as a Moonraker restart does.

import { createServer as createHttpServer } from "node:http";
import { createServer, type Server, type Socket } from "node:net";
import { rmSync } from "node:fs";

const ETX = 0x03;

type Json = Record<string, unknown>;

interface Client {
  uid: number;
  socket: Socket;
  buf: Buffer;
  data: { name: string; version: string; type: string; url: string } | undefined;
  methods: string[];
  pending: Map<number, { resolve: (v: unknown) => void; reject: (e: RpcFail) => void }>;
}

class RpcFail extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}

export type KlippyPhase = "ready" | "startup" | "error" | "shutdown" | "disconnected";

export interface FakeMoonrakerOptions {
  socketPath: string;
  hostVersion?: string;
  configFile?: string;
  /** printer objects "mcu", "mcu EBBCan" → mcu_version, mcu_constants.MCU. */
  mcus?: Record<string, { version: string; chip: string }>;
  warnings?: Json[];
  config?: Record<string, Record<string, string>>;
  /** canbus_stats <name> objects (Klipper's canbus_stats module). */
  canbusStats?: Record<string, Json>;
  /** ms Klippy takes from a service start to "ready" (through "startup"). */
  startupMs?: number;
  /** ms the stop takes until Moonraker sees Klippy gone. */
  stopMs?: number;
}

export class FakeMoonrakerSocket {
  private server: Server | undefined;
  private readonly clients = new Map<number, Client>();
  private nextUid = 1000;
  private nextId = 1;
  readonly agents = new Map<string, Client>();
  /** Every message received, with the connection's uid. */
  readonly received: Array<{ uid: number; msg: Json }> = [];
  /** machine.services.* and firmware_restart calls, in order. */
  readonly serviceCalls: string[] = [];
  klippy: KlippyPhase = "ready";
  printState = "standby";
  /** After a start, Klippy lands here first ("error": an MCU was not back yet). */
  stateAfterStart: KlippyPhase = "ready";
  serviceRunning = true;
  /** machine.peripherals.serial's devices. */
  serialDevices: Json[] = [];
  /** machine.peripherals.canbus: unassigned nodes per interface. */
  canUuids: Record<string, Array<{ uuid: string; application: string }>> = {};
  /** Interfaces machine.peripherals.canbus was asked about. */
  readonly canbusQueries: string[] = [];

  constructor(readonly o: FakeMoonrakerOptions) {}

  async listen(): Promise<void> {
    rmSync(this.o.socketPath, { force: true });
    this.server = createServer((s) => this.accept(s));
    await new Promise<void>((resolve) => this.server!.listen(this.o.socketPath, resolve));
  }

  /** Stops listening and drops every connection (Moonraker stopped). */
  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    for (const c of this.clients.values()) c.socket.destroy();
    this.clients.clear();
    this.agents.clear();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    rmSync(this.o.socketPath, { force: true });
  }

  /** Moonraker restarts: gone for `downMs`, then listening again. */
  async restart(downMs: number): Promise<void> {
    await this.stop();
    await new Promise((r) => setTimeout(r, downMs));
    await this.listen();
  }

  /** Moonraker's HTTP API on loopback, the same methods (/a/b/c is a.b.c); resolves with its base URL and a close function. */
  async listenHttp(): Promise<{ url: string; close: () => Promise<void> }> {
    const http = createHttpServer((req, res) => {
      let body = "";
      req.on("data", (d: Buffer) => (body += d.toString()));
      req.on("end", () => {
        const method = (req.url ?? "/").split("?")[0]!.slice(1).split("/").join(".");
        const params = body ? (JSON.parse(body) as Json) : {};
        const anon = {
          uid: 0,
          socket: undefined as unknown as Socket,
          buf: Buffer.alloc(0),
          data: undefined,
          methods: [],
          pending: new Map(),
        } as Client;
        this.received.push({ uid: 0, msg: { http: `${req.method} ${req.url}`, params } });
        this.dispatch(anon, method, params).then(
          (result) => {
            res.writeHead(200, { "Content-Type": "application/json" });
            res.end(JSON.stringify({ result }));
          },
          (e: RpcFail) => {
            res.writeHead(e.code > 0 && e.code < 600 ? e.code : 400, {
              "Content-Type": "application/json",
            });
            res.end(JSON.stringify({ error: { code: e.code, message: e.message } }));
          },
        );
      });
    });
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    const port = (http.address() as { port: number }).port;
    return {
      url: `http://127.0.0.1:${port}`,
      close: () => new Promise<void>((resolve) => http.close(() => resolve())),
    };
  }

  /** Klipper's G-code runs {action_call_remote_method(name, **params)}: no id, no answer. */
  gcodeCallsRemoteMethod(name: string, params?: Json): boolean {
    for (const c of this.clients.values())
      if (c.methods.includes(name)) {
        this.write(c, { jsonrpc: "2.0", method: name, ...(params ? { params } : {}) });
        return true;
      }
    return false;
  }

  private accept(socket: Socket): void {
    const c: Client = {
      uid: this.nextUid++,
      socket,
      buf: Buffer.alloc(0),
      data: undefined,
      methods: [],
      pending: new Map(),
    };
    this.clients.set(c.uid, c);
    socket.on("data", (chunk: Buffer) => {
      c.buf = Buffer.concat([c.buf, chunk]);
      for (let i = c.buf.indexOf(ETX); i !== -1; i = c.buf.indexOf(ETX)) {
        const text = c.buf.subarray(0, i).toString("utf8");
        c.buf = c.buf.subarray(i + 1);
        void this.onMessage(c, text);
      }
    });
    socket.on("error", () => undefined);
    socket.on("close", () => this.drop(c));
  }

  private drop(c: Client): void {
    this.clients.delete(c.uid);
    for (const p of c.pending.values()) p.reject(new RpcFail(500, "Client Socket Disconnected"));
    c.pending.clear();
    if (c.data?.type === "agent" && this.agents.get(c.data.name) === c) {
      this.agents.delete(c.data.name);
      this.broadcast("notify_agent_event", [{ agent: c.data.name, event: "disconnected" }], c);
    }
  }

  private write(c: Client, msg: Json): void {
    if (!c.socket.destroyed)
      c.socket.write(Buffer.concat([Buffer.from(JSON.stringify(msg)), Buffer.of(ETX)]));
  }

  private broadcast(method: string, params: unknown[], except?: Client): void {
    for (const c of this.clients.values())
      if (c !== except) this.write(c, { jsonrpc: "2.0", method, params });
  }

  private async onMessage(c: Client, text: string): Promise<void> {
    let msg: Json;
    try {
      msg = JSON.parse(text) as Json;
    } catch {
      this.write(c, { jsonrpc: "2.0", error: { code: -32700, message: "Parse error" }, id: null });
      return;
    }
    this.received.push({ uid: c.uid, msg });
    const id = msg.id as number | undefined;
    if (msg.jsonrpc !== "2.0") {
      this.write(c, {
        jsonrpc: "2.0",
        error: { code: -32600, message: "Invalid Request" },
        id: id ?? null,
      });
      return;
    }
    if (msg.method === undefined) {
      // A response to a request we relayed to an agent.
      const p = id !== undefined ? c.pending.get(id) : undefined;
      if (!p) return;
      c.pending.delete(id!);
      if (msg.result === undefined || msg.result === null)
        p.reject(new RpcFail(424, `Agent ${c.data?.name} RPC error`, msg.error));
      else p.resolve(msg.result);
      return;
    }
    const params = (msg.params ?? {}) as Json;
    try {
      const result = await this.dispatch(c, msg.method as string, params);
      if (id !== undefined) this.write(c, { jsonrpc: "2.0", result, id });
    } catch (e) {
      const f = e instanceof RpcFail ? e : new RpcFail(500, (e as Error).message);
      this.write(c, {
        jsonrpc: "2.0",
        error: {
          code: f.code,
          message: f.message,
          ...(f.data !== undefined ? { data: f.data } : {}),
        },
        id: id ?? null,
      });
    }
  }

  private str(params: Json, key: string): string {
    const v = params[key];
    if (typeof v !== "string") throw new RpcFail(400, `No data for argument: ${key}`);
    return v;
  }

  private needKlippy(): void {
    if (this.klippy === "disconnected") throw new RpcFail(503, "Klippy Disconnected");
    if (this.klippy !== "ready")
      throw new RpcFail(503, `Klippy host not ready, state: ${this.klippy}`);
  }

  private async dispatch(c: Client, method: string, params: Json): Promise<unknown> {
    switch (method) {
      case "server.connection.identify": {
        if (c.data)
          throw new RpcFail(400, `Connection already identified: ${JSON.stringify(c.data)}`);
        const data = {
          name: this.str(params, "client_name"),
          version: this.str(params, "version"),
          type: this.str(params, "type").toLowerCase(),
          url: this.str(params, "url"),
        };
        if (!["web", "mobile", "desktop", "display", "bot", "agent", "other"].includes(data.type))
          throw new RpcFail(400, `Invalid Client Type: ${data.type}`);
        if (data.type === "agent") {
          if (this.agents.has(data.name))
            throw new RpcFail(400, `Agent '${data.name}' already registered and connected'`);
          c.data = data;
          this.agents.set(data.name, c);
          this.broadcast("notify_agent_event", [{ agent: data.name, event: "connected", data }], c);
        } else c.data = data;
        return { connection_id: c.uid };
      }
      case "connection.register_remote_method":
        c.methods.push(this.str(params, "method_name"));
        return "ok";
      case "connection.send_event": {
        if (c.data?.type !== "agent")
          throw new RpcFail(400, "Only connections of the 'agent' type can send events");
        const event = this.str(params, "event");
        if (event === "connected" || event === "disconnected")
          throw new RpcFail(400, `Event '${event}' is reserved`);
        const evt: Json = { agent: c.data.name, event };
        if (params.data !== undefined && params.data !== null) evt.data = params.data;
        this.broadcast("notify_agent_event", [evt], c);
        return "ok";
      }
      case "server.extensions.list":
        return { agents: [...this.agents.values()].map((a) => a.data) };
      case "server.extensions.request": {
        const agent = this.str(params, "agent");
        const m = this.str(params, "method");
        const args = params.arguments ?? null;
        if (args !== null && typeof args !== "object")
          throw new RpcFail(400, "The 'arguments' field must contain an object or a list");
        const a = this.agents.get(agent);
        if (!a) throw new RpcFail(400, `Agent ${agent} not connected`);
        const id = this.nextId++;
        const empty =
          args === null ||
          (Array.isArray(args) ? args.length === 0 : Object.keys(args).length === 0);
        return new Promise((resolve, reject) => {
          a.pending.set(id, { resolve, reject });
          this.write(a, { jsonrpc: "2.0", method: m, id, ...(empty ? {} : { params: args }) });
        });
      }
      case "server.info":
        return {
          klippy_connected: this.klippy !== "disconnected",
          klippy_state: this.klippy,
          components: ["extensions", "machine", "klippy_apis"],
          failed_components: [],
          warnings: [],
          websocket_count: 0,
          moonraker_version: "v0.9.3-fake",
        };
      case "printer.info":
        if (this.klippy === "disconnected") throw new RpcFail(503, "Klippy Disconnected");
        return {
          state: this.klippy,
          state_message: "fake",
          software_version: this.o.hostVersion ?? "v0.13.0-100-gaaaaaaaa",
          config_file: this.o.configFile ?? "",
        };
      case "printer.objects.list":
        this.needKlippy();
        return {
          objects: [
            "webhooks",
            "configfile",
            "print_stats",
            "idle_timeout",
            ...Object.keys(this.o.mcus ?? {}),
            ...Object.keys(this.o.canbusStats ?? {}).map((n) => `canbus_stats ${n}`),
          ],
        };
      case "printer.objects.query": {
        this.needKlippy();
        const objects = (params.objects ?? {}) as Record<string, string[] | null>;
        const status: Record<string, Json> = {};
        for (const name of Object.keys(objects)) {
          const all = this.object(name);
          if (!all) continue;
          const want = objects[name];
          status[name] = want
            ? Object.fromEntries(want.filter((k) => k in all).map((k) => [k, all[k]]))
            : all;
        }
        return { eventtime: 1234.5, status };
      }
      case "machine.services.stop":
      case "machine.services.start":
      case "machine.services.restart": {
        const service = this.str(params, "service");
        this.serviceCalls.push(`${method.split(".").pop()} ${service}`);
        if (service !== "klipper") throw new RpcFail(400, `Service '${service}' not allowed`);
        if (method.endsWith("stop")) {
          await new Promise((r) => setTimeout(r, this.o.stopMs ?? 20));
          this.serviceRunning = false;
          this.klippy = "disconnected";
          this.printState = "standby";
        } else {
          this.serviceRunning = true;
          this.klippy = "disconnected";
          setTimeout(() => {
            if (!this.serviceRunning) return;
            this.klippy = "startup";
            setTimeout(() => {
              if (this.serviceRunning) this.klippy = this.stateAfterStart;
            }, this.o.startupMs ?? 50);
          }, 10);
        }
        return "ok";
      }
      case "machine.peripherals.serial":
        return { serial_devices: this.serialDevices };
      case "machine.peripherals.canbus": {
        const iface = typeof params.interface === "string" ? params.interface : "can0";
        this.canbusQueries.push(iface);
        return { can_uuids: this.canUuids[iface] ?? [] };
      }
      case "printer.firmware_restart":
        this.serviceCalls.push("firmware_restart");
        if (this.klippy === "disconnected") throw new RpcFail(503, "Klippy Disconnected");
        this.klippy = "startup";
        setTimeout(() => (this.klippy = "ready"), this.o.startupMs ?? 50);
        return "ok";
      default:
        throw new RpcFail(-32601, "Method not found");
    }
  }

  private object(name: string): Json | undefined {
    if (name === "print_stats") return { state: this.printState, filename: "" };
    if (name === "idle_timeout")
      return { state: this.printState === "printing" ? "Printing" : "Idle", printing_time: 0 };
    if (name === "configfile")
      return { warnings: this.o.warnings ?? [], config: this.o.config ?? {}, settings: {} };
    if (name.startsWith("canbus_stats ")) return this.o.canbusStats?.[name.slice(13)];
    const m = this.o.mcus?.[name];
    if (m)
      return {
        mcu_version: m.version,
        mcu_build_versions: "gcc: (fake) 12",
        mcu_constants: { MCU: m.chip },
      };
    return undefined;
  }
}

/** A front end (or any client) on the same socket: identifies, calls, collects notifications. */
export class FakeClient {
  private buf = Buffer.alloc(0);
  private nextId = 1;
  private readonly pending = new Map<number, (msg: Json) => void>();
  readonly notifications: Array<{ method: string; params: unknown }> = [];
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.buf = Buffer.concat([this.buf, chunk]);
      for (let i = this.buf.indexOf(ETX); i !== -1; i = this.buf.indexOf(ETX)) {
        const msg = JSON.parse(this.buf.subarray(0, i).toString("utf8")) as Json;
        this.buf = this.buf.subarray(i + 1);
        if (msg.method)
          this.notifications.push({ method: msg.method as string, params: msg.params });
        else this.pending.get(msg.id as number)?.(msg);
        for (const w of this.waiters.splice(0)) w();
      }
    });
  }

  static async connect(path: string, name = "mainsail"): Promise<FakeClient> {
    const { connect } = await import("node:net");
    const socket = connect(path);
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", () => resolve());
      socket.once("error", reject);
    });
    const c = new FakeClient(socket);
    await c.request("server.connection.identify", {
      client_name: name,
      version: "2.0",
      type: "web",
      url: "https://example.org",
    });
    return c;
  }

  /** The whole response object (result or error). */
  request(method: string, params?: Json): Promise<Json> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.socket.write(
        Buffer.concat([
          Buffer.from(
            JSON.stringify({ jsonrpc: "2.0", method, ...(params ? { params } : {}), id }),
          ),
          Buffer.of(ETX),
        ]),
      );
    });
  }

  /** Agent events received (notify_agent_event's object). */
  agentEvents(): Array<{ agent: string; event: string; data?: Json }> {
    return this.notifications
      .filter((n) => n.method === "notify_agent_event")
      .map((n) => (n.params as Array<{ agent: string; event: string; data?: Json }>)[0]!);
  }

  /** Waits until an agent event matches, or fails after `ms`. */
  async waitForEvent(
    match: (e: { agent: string; event: string; data?: Json }) => boolean,
    ms = 20_000,
  ): Promise<{ agent: string; event: string; data?: Json }> {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = this.agentEvents().find(match);
      if (hit) return hit;
      if (Date.now() > deadline)
        throw new Error(
          `no matching agent event in ${ms} ms; got ${JSON.stringify(this.agentEvents().map((e) => e.event))}`,
        );
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.socket.destroy();
  }
}
