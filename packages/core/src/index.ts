/**
 * Everything in one entry point, for convenience. Hosts that use one domain import its own entry point
 * (`@maikit/core/platform`, `/launcher`, `/control-plane`, `/relay`) and load only that domain.
 */
export * from "./control-plane/index.ts"
export * from "./launcher/index.ts"
export * from "./platform/index.ts"
export * from "./relay/index.ts"
