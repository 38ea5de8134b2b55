// A Moonraker stand-in on loopback: /server/info reports whether Klippy is
// connected, /printer/objects/query?print_stats the print state, and the
// machine API stops and starts the "klipper" service — the endpoints
// canflash uses, with the shapes Moonraker returns.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";

export interface FakeMoonraker {
  url: string;
  /** Klippy runs (and is connected to Moonraker). */
  running: boolean;
  printState: string;
  /** "METHOD path" of every request, in order. */
  requests: string[];
  /** Answer the stop request with an error (e.g. a failing service). */
  failStop: boolean;
  /** Klippy's state after a start: "ready" or e.g. "error". */
  stateAfterStart: string;
  close(): Promise<void>;
}

export async function fakeMoonraker(
  o: { running?: boolean; printState?: string } = {},
): Promise<FakeMoonraker> {
  const fake = {
    url: "",
    running: o.running ?? true,
    printState: o.printState ?? "standby",
    requests: [] as string[],
    failStop: false,
    stateAfterStart: "ready",
    state: "ready",
    close: (): Promise<void> => Promise.resolve(),
  };
  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.statusCode = status;
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify(body));
  };
  const server = createServer((req: IncomingMessage, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    fake.requests.push(`${req.method} ${url.pathname}${url.search}`);
    if (req.method === "GET" && url.pathname === "/server/info")
      return send(res, 200, {
        result: {
          klippy_connected: fake.running,
          klippy_state: fake.running ? fake.state : "disconnected",
        },
      });
    if (req.method === "GET" && url.pathname === "/printer/objects/query") {
      if (!fake.running) return send(res, 503, { error: { message: "Klippy Disconnected" } });
      return send(res, 200, {
        result: { eventtime: 1, status: { print_stats: { state: fake.printState } } },
      });
    }
    const m = /^\/machine\/services\/(stop|start|restart)$/.exec(url.pathname);
    if (req.method === "POST" && m && url.searchParams.get("service") === "klipper") {
      if (m[1] === "stop") {
        if (fake.failStop) return send(res, 500, { error: { message: "Failed to stop klipper" } });
        fake.running = false;
      } else {
        fake.running = true;
        fake.state = fake.stateAfterStart;
      }
      return send(res, 200, { result: "ok" });
    }
    return send(res, 404, { error: { message: "Not Found" } });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  fake.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  fake.close = () => new Promise<void>((r) => server.close(() => r()));
  return fake;
}
