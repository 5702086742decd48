export * as AllInOne from "./AllInOne.ts"
export * as Cli from "./Cli.ts"
