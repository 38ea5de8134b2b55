// Errors of the Moonraker side: the socket, Moonraker's JSON-RPC errors,
// the agent's refusals. Each carries its facts as fields.

import { CanflashError } from "../util/errors.js";

declare module "../util/errors.js" {
  interface ErrorCodes {
    MOONRAKER_UNREACHABLE: true;
    MOONRAKER_DISCONNECTED: true;
    MOONRAKER_RPC: true;
    AGENT_NAME_TAKEN: true;
    AGENT_FLASH_DISABLED: true;
    AGENT_BUSY: true;
    AGENT_BAD_ARGUMENTS: true;
    AGENT_CONFIG: true;
    KLIPPY_NOT_READY: true;
  }
}

/** Moonraker's socket could not be opened. */
export class MoonrakerUnreachableError extends CanflashError {
  constructor(
    readonly socketPath: string,
    readonly reason: string,
  ) {
    super("MOONRAKER_UNREACHABLE", `cannot connect to Moonraker at ${socketPath}: ${reason}`);
  }
}

/** The connection closed while a request waited for its answer. */
export class MoonrakerDisconnectedError extends CanflashError {
  constructor(readonly method: string) {
    super("MOONRAKER_DISCONNECTED", `Moonraker went away before answering ${method}`);
  }
}

/** Moonraker answered a request with a JSON-RPC error. */
export class MoonrakerRpcError extends CanflashError {
  constructor(
    readonly method: string,
    readonly rpcCode: number,
    readonly rpcMessage: string,
  ) {
    super("MOONRAKER_RPC", `Moonraker refused ${method}: ${rpcMessage} (code ${rpcCode})`);
  }
}

/** Another agent is connected under this name (Moonraker allows one per name). */
export class AgentNameTakenError extends CanflashError {
  constructor(
    readonly agentName: string,
    readonly rpcMessage: string,
  ) {
    super("AGENT_NAME_TAKEN", `another agent is connected to Moonraker as "${agentName}"`);
  }
}

/** A flash was asked for, but the agent's config does not allow flashing. */
export class AgentFlashDisabledError extends CanflashError {
  constructor(readonly configPath: string | undefined) {
    super(
      "AGENT_FLASH_DISABLED",
      `flashing is off in the agent's config${configPath ? ` (${configPath})` : " (none found)"}`,
    );
  }
}

/** A flash was asked for while another job runs. */
export class AgentBusyError extends CanflashError {
  constructor(readonly job: string) {
    super("AGENT_BUSY", `job ${job} is still running`);
  }
}

/** A front end's or macro's arguments were not what the method takes. */
export class AgentBadArgumentsError extends CanflashError {
  constructor(
    readonly method: string,
    readonly problem: string,
  ) {
    super("AGENT_BAD_ARGUMENTS", `${method}: ${problem}`);
  }
}

/** The agent's config file is not valid. */
export class AgentConfigError extends CanflashError {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super("AGENT_CONFIG", `${path}: ${problem}`);
  }
}

/** Klippy did not reach "ready" after it was started again. */
export class KlippyNotReadyError extends CanflashError {
  constructor(
    readonly state: string | undefined,
    readonly timeoutMs: number,
  ) {
    super(
      "KLIPPY_NOT_READY",
      `Klipper was started again but is ${state ?? "not connected"} after ${timeoutMs} ms`,
    );
  }
}
