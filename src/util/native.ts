// One lazy loader for the optional native addons (socketcan, serialport, and
// the USB addons to come). An addon is imported the first time a link that
// needs it is opened, never at start-up; a missing or unbuildable one is one
// typed error naming the addon, the npm package to rebuild and what it is
// for — not a crash at import.

import { CanflashError } from "./errors.js";

declare module "./errors.js" {
  interface ErrorCodes {
    ADDON_MISSING: true;
  }
}

export interface AddonSpec {
  /** The module imported: "socketcan", "serialport". */
  readonly addon: string;
  /** The npm package whose native part must build: "@serialport/bindings-cpp". */
  readonly nativePackage: string;
  /** What it is needed for: "SocketCAN interfaces", "serial ports". */
  readonly purpose: string;
}

/** An optional native addon could not be loaded (not installed, or its native part did not build). */
export class AddonMissingError extends CanflashError {
  readonly addon: string;
  readonly nativePackage: string;
  readonly purpose: string;

  constructor(spec: AddonSpec, cause?: unknown) {
    super(
      "ADDON_MISSING",
      `the ${spec.addon} native addon (needed for ${spec.purpose}) could not be loaded` +
        (cause instanceof Error ? `: ${cause.message.split("\n")[0]}` : ""),
      { cause },
    );
    this.addon = spec.addon;
    this.nativePackage = spec.nativePackage;
    this.purpose = spec.purpose;
  }
}

const cache = new Map<string, Promise<unknown>>();

/**
 * Imports an optional addon once. `importer` is a literal `() => import("x")`
 * so bundlers see the dependency. Throws AddonMissingError.
 */
export function loadAddon<T>(spec: AddonSpec, importer: () => Promise<unknown>): Promise<T> {
  let p = cache.get(spec.addon);
  if (!p) {
    p = importer().catch((e: unknown) => {
      cache.delete(spec.addon);
      throw new AddonMissingError(spec, e);
    });
    cache.set(spec.addon, p);
  }
  return p as Promise<T>;
}

export const SOCKETCAN_ADDON: AddonSpec = {
  addon: "socketcan",
  nativePackage: "socketcan",
  purpose: "SocketCAN interfaces",
};

export const SERIALPORT_ADDON: AddonSpec = {
  addon: "serialport",
  nativePackage: "@serialport/bindings-cpp",
  purpose: "serial ports",
};
