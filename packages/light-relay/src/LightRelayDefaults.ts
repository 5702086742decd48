/**
 * Seed 004's flag defaults (the port excepted, see `LightRelay`), in a module of their own: `maikit light`'s
 * flag definitions read them without loading the relay (`@maikit/light-relay/defaults`).
 */
export const LogLevel = ["debug", "info", "warn", "error"] as const
export type LogLevel = (typeof LogLevel)[number]

export const port = 8045

export const defaults = {
  addr: `:${port}`,
  db: "./data/config.db",
  tlsCert: "./data/tls/cert.pem",
  tlsKey: "./data/tls/key.pem",
  logFile: "./logs",
  logLevel: "info",
  logFileName: "monitor.log"
} as const

/** The relay's base URL on this machine, where hooks and `maikit status` post unless told otherwise. */
export const url = `http://127.0.0.1:${port}`
