/**
 * The server that composes families, and the typed-client plumbing, without any family: hosts import it with
 * the one family they serve or call.
 */
export * as ApiFamily from "./ApiFamily.ts"
export * as MaikitServer from "./MaikitServer.ts"
export * as MaikitClient from "./MaikitClient.ts"
