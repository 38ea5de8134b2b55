// Logging for library code: pino, silent unless the application installs a
// root logger. Each module asks for a named logger once at load time; the
// returned object always writes through the current root, so a CLI that
// configures logging after imports still gets every module's output. Until
// a root is installed nothing is logged and pino is not even loaded (only
// its types are imported here): a start that logs nothing pays nothing.

import type { Logger, LevelWithSilent } from "pino";

let root: Logger | undefined;
const children = new Map<string, Logger>();

/** Installs the logger that every module logs through (the CLI does this). */
export function setRootLogger(logger: Logger): void {
  root = logger;
  children.clear();
}

function child(module: string): Logger | undefined {
  if (!root) return undefined;
  let c = children.get(module);
  if (!c) {
    c = root.child({ module });
    children.set(module, c);
  }
  return c;
}

export interface ModuleLogger {
  trace(obj: object | string, msg?: string): void;
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  /** True when `level` would be written (use to skip building costly trace payloads). */
  enabled(level: LevelWithSilent): boolean;
}

function forward(module: string, level: "trace" | "debug" | "info" | "warn" | "error") {
  return (obj: object | string, msg?: string): void => {
    const c = child(module);
    if (!c) return;
    if (typeof obj === "string") c[level](obj);
    else c[level](obj, msg);
  };
}

/** A logger for one module, e.g. moduleLogger("can.socketcan"). */
export function moduleLogger(module: string): ModuleLogger {
  return {
    trace: forward(module, "trace"),
    debug: forward(module, "debug"),
    info: forward(module, "info"),
    warn: forward(module, "warn"),
    error: forward(module, "error"),
    enabled: (level) => child(module)?.isLevelEnabled(level) ?? false,
  };
}
