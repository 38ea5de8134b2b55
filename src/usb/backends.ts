// USB backends by name, each created on first use (the native addon is
// imported only when a device is listed). Which one: the name given (a
// library option), else CANFLASH_USB_BACKEND, else "socket" when
// CANFLASH_USB_SOCKETS lists socket paths, else "native". "in-process"
// serves the models registered with registerInProcessUsbModels (tests, a
// simulated demo).

import type { UsbBackend } from "./device.js";
import { UsbBackendMissingError } from "./errors.js";
import { InProcessUsbBackend } from "./in-process.js";
import type { UsbDeviceModel } from "./model.js";
import { NativeUsbBackend } from "./native.js";
import { SocketUsbBackend, socketPaths } from "./socket.js";

export const USB_BACKENDS = ["native", "socket", "in-process"] as const;
export type UsbBackendName = (typeof USB_BACKENDS)[number];
/** Picks the backend by name (overrides the choice from CANFLASH_USB_SOCKETS). */
export const USB_BACKEND_ENV = "CANFLASH_USB_BACKEND";

let inProcessModels: () => readonly UsbDeviceModel[] = () => [];

/** The models the "in-process" backend serves (a function: a model list may change). */
export function registerInProcessUsbModels(models: () => readonly UsbDeviceModel[]): () => void {
  const before = inProcessModels;
  inProcessModels = models;
  return () => {
    inProcessModels = before;
  };
}

/** Which backend `name` / the environment choose. Throws UsbBackendMissingError for an unknown name. */
export function usbBackendName(
  name: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): UsbBackendName {
  const chosen =
    name ?? env[USB_BACKEND_ENV] ?? (socketPaths(env).length > 0 ? "socket" : "native");
  if (!(USB_BACKENDS as readonly string[]).includes(chosen))
    throw new UsbBackendMissingError(
      chosen,
      undefined,
      `unknown USB backend "${chosen}" (one of ${USB_BACKENDS.join(", ")})`,
    );
  return chosen as UsbBackendName;
}

/** The backend for `name` (see usbBackendName). */
export function usbBackend(name?: string, env: NodeJS.ProcessEnv = process.env): UsbBackend {
  switch (usbBackendName(name, env)) {
    case "socket":
      return SocketUsbBackend.fromEnv(env);
    case "in-process":
      return new InProcessUsbBackend(() => inProcessModels());
    case "native":
      return new NativeUsbBackend();
  }
}
