/** The status-relay family (`/api`): seed 004's routes in `{code, message, data}`, and the SSE stream. */
export * as StatusEvents from "./StatusEvents.ts"
export * as StatusRelay from "./StatusRelay.ts"
export * as StatusRelayApi from "./StatusRelayApi.ts"
export * as StatusRelayClient from "./StatusRelayClient.ts"
