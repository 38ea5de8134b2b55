// The built-in tables (targets.json, mcus.json), checked through load.ts on
// first use. The bundled CLI does not run this module: scripts/bundle.mjs
// puts the tables there already checked at build time (a table that fails
// its checks fails the build), so a start parses no schema and loads no zod.

import { loadMcuFlashes, loadTable, type McuFlash, type Table } from "./load.js";

export const builtinTable = (): Table => loadTable();

export const builtinMcuFlashes = (): ReadonlyMap<string, McuFlash> => loadMcuFlashes();
