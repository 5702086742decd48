#!/usr/bin/env node
/**
 * `maikit`. Help and version texts come from the pages the build rendered with the full CLI (`internal/fastPath.ts`),
 * without loading it; everything else, and every run from source, loads the full CLI (`main.ts`).
 */
import * as FastPath from "./internal/fastPath.ts"

const argv = process.argv.slice(2)
if (!FastPath.answer(argv, new URL("./cli-pages.json", import.meta.url))) (await import("./main.ts")).main(argv)
