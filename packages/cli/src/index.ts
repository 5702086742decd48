// The command tree (`Cli.ts`, `commands/`) is the binary's, not a library API: its inferred types reach into
// every service, which declaration files of this package could not name portably.
export * as AllInOne from "./AllInOne.ts"
