/** The web console's serving (`/console/`), its sign-in (cookie rules in core's `AccessToken`) and its small API, for `MaikitServer`'s `console` option. */
export * as Console from "./Console.ts"
export * as ConsoleApi from "./ConsoleApi.ts"
export * as ConsoleAssets from "./ConsoleAssets.ts"
