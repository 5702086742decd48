/** The relay's defaults alone, without the relay: for flag definitions and help texts. */
export * as LightRelayDefaults from "./LightRelayDefaults.ts"
