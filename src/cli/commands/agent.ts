// canflash agent: parse → call → render. The library (moonraker/) connects
// to Moonraker, identifies as an agent and serves front ends and macros
// until Ctrl-C / SIGTERM; here its events become log lines.

import { expandPath } from "../../flasher/inputs.js";
import { loadAgentConfig } from "../../moonraker/config.js";
import {
  DEFAULT_AGENT_NAME,
  DEFAULT_MOONRAKER_SOCKET,
  runAgent,
  type AgentEvent,
} from "../../moonraker/agent.js";
import { ExitCode, type ExitCodeValue } from "../exit-codes.js";
import type { CommandContext } from "./context.js";

export interface AgentCommandOptions {
  socket?: string;
  name?: string;
  agentConfig?: string;
  /** -i given: every CAN board is on this interface. */
  iface?: string;
  version: string;
  /** Reconnect backoff (hidden options; tests shorten it). */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
}

function text(e: AgentEvent): string | undefined {
  switch (e.type) {
    case "connecting":
      return undefined;
    case "identified":
      return `Connected to Moonraker as agent "${e.name}"${e.connectionId !== undefined ? ` (connection ${e.connectionId})` : ""}`;
    case "disconnected":
      return "Moonraker went away; reconnecting";
    case "retry":
      return `Moonraker not reachable (${e.reason}); next try in ${(e.inMs / 1000).toFixed(1)} s`;
    case "call":
      return `${e.fromGcode ? "G-code" : "Front end"} called ${e.method}`;
    case "sent": {
      const d = e.data;
      if (e.event === "progress") return undefined;
      const what =
        e.event === "board"
          ? `${String(d.board)}: ${String(d.phase)} ${String(d.state)}`
          : e.event === "board_done"
            ? `${String(d.board)}: ${String(d.status)}`
            : e.event === "klipper"
              ? `Klipper ${String(d.action)}`
              : e.event === "job_finished"
                ? `finished: ${String(d.state)}`
                : e.event;
      return `${typeof d.job === "string" ? `[${d.job}] ` : ""}${what}`;
    }
  }
}

export async function agentCommand(
  o: AgentCommandOptions,
  ctx: CommandContext,
): Promise<ExitCodeValue> {
  const home = ctx.io.host?.home;
  const config = await loadAgentConfig(o.agentConfig, { cwd: ctx.io.cwd, home });
  if (o.iface !== undefined) config.interface = o.iface;
  const socketPath = expandPath(o.socket ?? DEFAULT_MOONRAKER_SOCKET, ctx.io.cwd, home);
  ctx.out.info(
    `canflash agent: Moonraker at ${socketPath}; flashing ${config.allowFlash ? "allowed" : `off (set allow_flash: true in ${config.path ?? "the agent config"})`}`,
  );
  await runAgent({
    socketPath,
    name: o.name ?? DEFAULT_AGENT_NAME,
    version: o.version,
    config,
    cwd: ctx.io.cwd,
    home,
    signal: ctx.signal,
    ...(o.reconnectMinMs !== undefined ? { reconnectMinMs: o.reconnectMinMs } : {}),
    ...(o.reconnectMaxMs !== undefined ? { reconnectMaxMs: o.reconnectMaxMs } : {}),
    onEvent: (e) => {
      const t = text(e);
      if (t !== undefined)
        ctx.out.info(t, undefined, {
          agent: e.type,
          ...(e.type === "sent" ? { event: e.event, data: e.data } : {}),
        });
    },
  });
  return ExitCode.OK;
}
