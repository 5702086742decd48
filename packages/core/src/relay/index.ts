/**
 * The status relay: AI coding-tool events on a bus, fanned out to MQTT and BLE lights, with their stored
 * configs and the agent hooks that post events. The BLE driver loads only when a BLE link is used.
 */
export * as AgentHooks from "./AgentHooks.ts"
export * as BleLink from "./BleLink.ts"
export * as BleTransport from "./BleTransport.ts"
export * as MqttLink from "./MqttLink.ts"
export * as RelayConfig from "./RelayConfig.ts"
export * as RelayConfigStore from "./RelayConfigStore.ts"
export * as StatusBus from "./StatusBus.ts"
export * as StatusEvent from "./StatusEvent.ts"

// Exported by name too, for the declaration files of dependent packages (see platform/index.ts).
export { HookPayloadInvalid } from "./AgentHooksError.ts"
export { BleError, BleUnsupported } from "./BleLinkError.ts"
export { DeviceConfigDisabled, MqttLinkUnavailable, MqttPublishError } from "./MqttLinkError.ts"
export {
  RelayConfigConflict,
  RelayConfigInvalid,
  RelayConfigNotFound,
  RelayConfigStoreError
} from "./RelayConfigStoreError.ts"
