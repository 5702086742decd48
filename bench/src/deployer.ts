/**
 * The Deployer, in one run:
 * 1. Overhead: deploying the fixture (a 1.x tree whose requirements are 20 local wheels: `git clone --depth 1`,
 *    `python -m venv`, `pip install -r requirements.txt` offline) through `Deployer.deploy`, against the same three
 *    commands in a plain shell script. BENCH_DEPLOYS (3) rounds each, alternating; medians. Target: ≤ 10 % more.
 * 2. Responsiveness: `GET /api/v1/system/health` p99 on a MaiKit server (its own process) while it deploys, one
 *    deploy after another, against the same server idle. Target: p99 ≤ 20 ms while a job runs.
 *
 * Run: `pnpm bench deployer`.
 */
import { Effect, ManagedRuntime } from "effect"
import { execFileSync, spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Deployer from "../../packages/core/src/launcher/Deployer.ts"
import {
  adapterRemote,
  deployerLayer,
  deployerOptions,
  oneTree,
  tempDir,
  wheelDir,
  type World
} from "../../packages/core/test/helpers/deployer.ts"
import { format, here, load, median, printTable, seconds, startServer } from "./harness.ts"

const rounds = Number(process.env["BENCH_DEPLOYS"] ?? 3)

const makeWorld = (): World => {
  const root = tempDir("bench-deployer")
  const wheels = wheelDir(root, 20)
  const requirements = Array.from({ length: 20 }, (_, i) => `fixture-extra-${String(i + 1).padStart(2, "0")}`).join("\n")
  const work = Path.join(root, "work")
  Fs.mkdirSync(work)
  const git = (...args: Array<string>) =>
    execFileSync("git", args, {
      cwd: work,
      env: { ...process.env, GIT_AUTHOR_NAME: "b", GIT_AUTHOR_EMAIL: "b@b", GIT_COMMITTER_NAME: "b", GIT_COMMITTER_EMAIL: "b@b" }
    })
  git("init", "-q", "-b", "main")
  for (const [name, text] of Object.entries(oneTree("1.2.1", ">=3.10", `${requirements}\nfixture-a\n`))) {
    Fs.mkdirSync(Path.dirname(Path.join(work, name)), { recursive: true })
    Fs.writeFileSync(Path.join(work, name), text)
  }
  git("add", "-A")
  git("commit", "-q", "-m", "1.2.1")
  git("tag", "1.2.1")
  const maibot = Path.join(root, "MaiBot.git")
  execFileSync("git", ["clone", "-q", "--bare", work, maibot])
  return { root, maibot, adapter: adapterRemote(root), wheels }
}

const world = makeWorld()
const options = deployerOptions(world)
const env = options.env as Record<string, string>

/** The same work as a shell script: clone, venv, pip. */
const script = (target: string) => `set -e
git -c advice.detachedHead=false clone -q --depth 1 --branch 1.2.1 "file://${world.maibot}" "${target}"
python3 -m venv "${target}/venv"
"${target}/venv/bin/python" -m pip install -q --progress-bar off -r "${target}/requirements.txt"
`

const shell = (target: string) => {
  const started = performance.now()
  const result = spawnSync("bash", ["-c", script(target)], { env, stdio: ["ignore", "ignore", "inherit"] })
  if (result.status !== 0) throw new Error("the shell deploy failed")
  return (performance.now() - started) / 1000
}

const dataDir = Path.join(world.root, "data")
const runtime = ManagedRuntime.make(deployerLayer(dataDir, options))
const deployer = await runtime.runPromise(Effect.service(Deployer.Deployer))
// Fill the version cache, as any server has long done before its first deploy.
await Effect.runPromise(deployer.versions())

let port = 19000
const maikit = async (target: string) => {
  const started = performance.now()
  const job = await Effect.runPromise(deployer.deploy({ name: "bench", version: "1.2.1", path: target, port: port++ }))
  while (true) {
    const status = await Effect.runPromise(deployer.status(job.id))
    if (status.status === "completed") break
    if (status.status === "failed") throw new Error(status.message)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return (performance.now() - started) / 1000
}

const shellTimes: Array<number> = []
const maikitTimes: Array<number> = []
for (let round = 0; round < rounds; round++) {
  shellTimes.push(shell(Path.join(world.root, `shell-${round}`)))
  maikitTimes.push(await maikit(Path.join(world.root, `maikit-${round}`)))
}
const overhead = median(maikitTimes) / median(shellTimes)
printTable("Deploy of the fixture (clone + venv + pip of 20 local wheels), seconds", ["runner", "median", "runs", "ratio"], [
  ["Deployer.deploy", format(median(maikitTimes), 2), maikitTimes.map((time) => format(time, 2)).join(" "), format(overhead, 3)],
  ["shell script", format(median(shellTimes), 2), shellTimes.map((time) => format(time, 2)).join(" "), "1.000"]
])
console.log(`\nMaiKit's overhead: ${format((overhead - 1) * 100, 1)} % (target ≤ 10 %)`)

// Responsiveness: the server in its own process, deploying one job after another while it is loaded.
const server = await startServer("deployer-server", Path.join(here, "servers", "deployer-server.ts"), { BENCH_WORLD: JSON.stringify(world) })
const base = `http://127.0.0.1:${server.port}`
const idle = await load({ url: `${base}/api/v1/system/health`, connections: 10, seconds })
const state = { deploying: true }
let deploys = 0
const loop = (async () => {
  while (state.deploying) {
    const target = Path.join(world.root, `served-${deploys}`)
    const response = await fetch(`${base}/api/v1/deploy/deploy`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ instance_name: `served-${deploys}`, version: "1.2.1", install_path: target, port: 20000 + deploys, install_services: [] })
    })
    const { instance_id } = await response.json() as { instance_id: string }
    deploys++
    while (true) {
      const status = await (await fetch(`${base}/api/v1/deploy/install-status/${instance_id}`)).json() as { status: string }
      if (status.status !== "installing" && status.status !== "preparing") break
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  }
})()
await new Promise((resolve) => setTimeout(resolve, 1000))
const busy = await load({ url: `${base}/api/v1/system/health`, connections: 10, seconds })
state.deploying = false
await loop
await server.stop()
await runtime.dispose()
printTable("GET /api/v1/system/health, 10 connections", ["server", "req/s", "p50 ms", "p99 ms", "errors"], [
  [`deploying (${deploys} deploys)`, format(busy.requestsPerSecond), format(busy.p50, 1), format(busy.p99, 1), String(busy.errors + busy.non2xx)],
  ["idle", format(idle.requestsPerSecond), format(idle.p50, 1), format(idle.p99, 1), String(idle.errors + idle.non2xx)]
])
console.log(`\np99 while deploying: ${format(busy.p99, 1)} ms (target ≤ 20 ms)`)
Fs.rmSync(world.root, { recursive: true, force: true })
process.exit(0)
