export * as InstallLogSocket from "./InstallLogSocket.ts"
export * as LogSocket from "./LogSocket.ts"
export * as TerminalSocket from "./TerminalSocket.ts"
