/** The web console's serving (`/console/`), its sign-in cookie and its small API, for `MaikitServer`'s `console` option. */
export * as Console from "./Console.ts"
export * as ConsoleApi from "./ConsoleApi.ts"
export * as ConsoleAssets from "./ConsoleAssets.ts"
export * as ConsoleSession from "./ConsoleSession.ts"
