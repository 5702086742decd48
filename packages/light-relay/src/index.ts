export * as EmbeddedBroker from "./EmbeddedBroker.ts"
export * as HookInstaller from "./HookInstaller.ts"
export * as LightRelay from "./LightRelay.ts"
export * as LightRelayDefaults from "./LightRelayDefaults.ts"
export * as SelfSignedTls from "./SelfSignedTls.ts"

export { AddressInvalid, EmbeddedBrokerError, HookInstallError, TlsSetupError } from "./LightRelayError.ts"
