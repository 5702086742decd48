/** The server that composes families, without any family: hosts import it with the one family they serve. */
export * as ApiFamily from "./ApiFamily.ts"
export * as MaikitServer from "./MaikitServer.ts"
