// The CLI as one bundled entry file, dist/cli/main.mjs (plus lazily loaded chunks): a start
// reads a handful of files instead of hundreds. esbuild bundles the ESM
// sources tsc has already checked; dynamic imports stay dynamic (code
// splitting), so `--help` loads only the entry and commander's chunk, and
// the native addons stay external (loaded by util/native.ts when a link
// needs them). The device tables go in already checked (checked-tables.mjs,
// with tsc's dist/targets/load.js), so a start runs no schema. The library
// (dist/**) is still tsc's output, for importers.
import { build } from "esbuild";
import { chmodSync, readFileSync, rmSync } from "node:fs";
import { checkedTablesModule } from "./checked-tables.mjs";

const out = new URL("../dist/cli/", import.meta.url).pathname;
const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
rmSync(`${out}chunks`, { recursive: true, force: true });
const load = await import(new URL("../dist/targets/load.js", import.meta.url).href);
/** @type {import("esbuild").Plugin} */
const checkedTables = {
  name: "checked-tables",
  setup(b) {
    b.onLoad({ filter: /[\\/]src[\\/]targets[\\/]builtin\.ts$/ }, () => ({
      contents: checkedTablesModule(load),
      loader: "js",
    }));
  },
};
await build({
  entryPoints: { main: new URL("../src/cli/main.ts", import.meta.url).pathname },
  outdir: out,
  entryNames: "[name]",
  chunkNames: "chunks/[name]-[hash]",
  // .mjs: ESM by its name, so node does not read package.json to learn the module type
  // (one file less at every start; tsc's unbundled dist/cli/main.js stays for the library).
  outExtension: { ".js": ".mjs" },
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20.10",
  external: ["socketcan", "serialport", "@serialport/*", "usb", "node-hid"],
  // CommonJS dependencies (commander, pino) call require() for node builtins.
  banner: {
    js: 'import { createRequire as __canflashRequire } from "node:module"; const require = __canflashRequire(import.meta.url);',
  },
  define: { __CANFLASH_VERSION__: JSON.stringify(version) },
  sourcemap: "linked",
  legalComments: "none",
  logLevel: "warning",
  plugins: [checkedTables],
});
chmodSync(`${out}main.mjs`, 0o755);
// The bin was dist/cli/main.js before: a link made then (npx keeps its install of a local
// checkout, links and all, across upgrades) still finds an executable, tsc's unbundled CLI.
chmodSync(`${out}main.js`, 0o755);
