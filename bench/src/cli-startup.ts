/**
 * How fast the built `maikit` binary answers: `--help` and `version` until the process exits, and `light serve`
 * until its port accepts a connection, each started cold many times, alternating with `node -e 0` (the floor: a
 * Node process that does nothing) in the same run. Targets: help and version ≤ 0.3 s, light serve ≤ 0.8 s.
 * Needs `pnpm build` first: it measures what users run, the bundled `dist/bin.mjs`.
 */
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { format, here, median, printTable } from "./harness.ts"

const bin = Path.join(here, "../../packages/cli/dist/bin.mjs")
const runs = Number(process.env["BENCH_RUNS"] ?? 15)

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = Net.createServer().listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
    })
  })

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = Net.connect(port, "127.0.0.1")
    socket.once("connect", () => {
      socket.destroy()
      resolve(true)
    })
    socket.once("error", () => resolve(false))
  })

/** Milliseconds from spawn to exit. */
const untilExit = (args: ReadonlyArray<string>) =>
  new Promise<number>((resolve, reject) => {
    const started = performance.now()
    const child = spawn(process.execPath, args, { stdio: "ignore" })
    child.once("error", reject)
    child.once("exit", (code) => code === 0 ? resolve(performance.now() - started) : reject(new Error(`${args.join(" ")} exited ${code}`)))
  })

/** Milliseconds from spawn until the server's port accepts a connection; the server is then stopped. */
const untilListening = async (args: (port: number, dir: string) => ReadonlyArray<string>) => {
  const port = await freePort()
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "maikit-cli-bench-"))
  const started = performance.now()
  const child = spawn(process.execPath, args(port, dir), { stdio: "ignore" })
  try {
    while (!(await accepts(port))) {
      if (child.exitCode !== null) throw new Error(`${args(port, dir).join(" ")} exited ${child.exitCode}`)
      await new Promise((resolve) => setTimeout(resolve, 2))
    }
    return performance.now() - started
  } finally {
    await new Promise((resolve) => {
      child.once("exit", resolve)
      child.kill("SIGTERM")
    })
    Fs.rmSync(dir, { recursive: true, force: true })
  }
}

const cases: ReadonlyArray<{ readonly name: string; readonly target: number; readonly measure: () => Promise<number> }> = [
  { name: "node -e 0 (floor)", target: Number.NaN, measure: () => untilExit(["-e", "0"]) },
  { name: "maikit --help", target: 300, measure: () => untilExit([bin, "--help"]) },
  { name: "maikit version", target: 300, measure: () => untilExit([bin, "version"]) },
  {
    name: "maikit light serve (listening)",
    target: 800,
    measure: () =>
      untilListening((port, dir) => [
        bin, "light", "serve", "--addr", `127.0.0.1:${port}`, "--db", Path.join(dir, "config.db"), "--log-file", dir, "--no-ble"
      ])
  }
]

if (!Fs.existsSync(bin)) {
  console.error(`${bin} is missing: run \`pnpm build\` first`)
  process.exit(1)
}

const samples = new Map(cases.map((entry) => [entry.name, [] as Array<number>]))
// Alternating, so a busy moment of the machine lands on every case alike.
for (let run = 0; run < runs; run++) {
  for (const entry of cases) samples.get(entry.name)?.push(await entry.measure())
}

const floor = median(samples.get(cases[0]?.name ?? "") ?? [])
printTable(
  `maikit start-up, ${runs} cold starts each (ms)`,
  ["command", "min", "median", "p90", "max", "minus node -e 0", "target", "met"],
  cases.map((entry) => {
    const values = (samples.get(entry.name) ?? []).toSorted((a, b) => a - b)
    const middle = median(values)
    const p90 = values[Math.min(values.length - 1, Math.floor(values.length * 0.9))] ?? Number.NaN
    return [
      entry.name,
      format(values[0] ?? Number.NaN),
      format(middle),
      format(p90),
      format(values.at(-1) ?? Number.NaN),
      format(middle - floor),
      Number.isNaN(entry.target) ? "-" : `≤ ${entry.target}`,
      Number.isNaN(entry.target) ? "-" : middle <= entry.target ? "yes" : "no"
    ]
  })
)
