// The environment a user's machine runs canflash in: this one's minus what
// only this sandbox sets. NODE_EXTRA_CA_CERTS is set here for the sandbox's
// npm proxy; with it every node start parses the system's whole certificate
// bundle (node -e 0 takes ~50 ms instead of ~20 ms here). canflash opens no
// TLS connection and a Raspberry Pi running Klipper has no such setting, so
// the benches that time whole processes run both sides without it and say so.
export const SANDBOX_ONLY_ENV = ["NODE_EXTRA_CA_CERTS"];

/** process.env plus `extra`, without the sandbox-only variables. */
export function userEnv(extra = {}) {
  const env = { ...process.env, ...extra };
  for (const k of SANDBOX_ONLY_ENV) delete env[k];
  return env;
}

/** A note for the bench's heading naming what was dropped ("" when nothing was set). */
export function userEnvNote() {
  const dropped = SANDBOX_ONLY_ENV.filter((k) => process.env[k] !== undefined);
  return dropped.length
    ? ` (without this sandbox's ${dropped.join(", ")}; see bench/user-env.mjs)`
    : "";
}
