/**
 * `pnpm bench`: runs every benchmark in its own process, one after another, so none disturbs another.
 * Pass names to run a subset: `pnpm bench http-server`.
 */
import { spawnSync } from "node:child_process"
import * as Path from "node:path"
import { here } from "./harness.ts"

const benchmarks = [
  "http-server",
  "sqlite-driver",
  "control-plane",
  "status-relay",
  "supervisor",
  "deployer",
  "bot-database",
  "bot-config",
  "cli-startup",
  "console"
]
const selected = process.argv.slice(2).length > 0 ? process.argv.slice(2) : benchmarks

let failed = 0
for (const name of selected) {
  if (!benchmarks.includes(name)) {
    console.error(`unknown benchmark "${name}"; known: ${benchmarks.join(", ")}`)
    failed++
    continue
  }
  console.log(`\n# ${name}`)
  const result = spawnSync(process.execPath, ["--conditions=source", Path.join(here, `${name}.ts`)], {
    stdio: "inherit"
  })
  if (result.status !== 0) failed++
}
process.exitCode = failed === 0 ? 0 : 1
