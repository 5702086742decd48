/**
 * Every family and the server, for convenience. A host that serves one family imports `./server` and that
 * family's entry point (`@maikit/http-adapter/launcher`, `/control-plane`, `/relay`) and loads nothing else.
 */
export * from "./control-plane/index.ts"
export * from "./launcher/index.ts"
export * from "./relay/index.ts"
export * from "./server.ts"
