// The device table as callers of the flasher see it: the rows, lookup by id
// or chip, and whether this build flashes a row (it has a driver for it).

export { findTarget, targets, UnknownTargetError, type Target } from "../targets/index.js";
export { isSupported, BootloaderUnsupportedError } from "../bootloaders/index.js";
