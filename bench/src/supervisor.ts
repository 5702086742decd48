/**
 * The instance supervisor, in one run:
 * 1. Throughput: a component writes BENCH_FLOOD_MB (100) MB of 100-byte lines on its PTY (ASCII, or with
 *    BENCH_FLOOD_TEXT=zh 24 Chinese characters a line, as MaiBot's logs), recorded to its
 *    history and drained to terminal WebSocket clients (the server in its own process), with 1 client and with
 *    10, against the baseline: bare node-pty spawning the same program and only reading it, in the same run.
 *    Targets: ≥ 0.8 of the baseline with 1 client, ≥ 0.5 with 10. For context, the same program with stdout on
 *    /dev/null under a bare `child_process` (no PTY at all) and under util-linux `script` (a PTY copied in C).
 *    The clients are minimal WebSocket readers (frame headers parsed, payloads counted, nothing decoded), so
 *    that the load generator's own cost stays small next to the server's on this shared machine. Rounds
 *    (BENCH_FLOOD_ROUNDS, 5) alternate the paths; medians, and each round's ratio. Also the seconds the server's
 *    threads and the baseline's spent runnable but waiting for a CPU.
 * 2. Memory (measured first, on the fresh server): one attached client that never reads while the same flood
 *    flows: the server's RSS growth (target ≤ 64 MB), and the same flood with no client as the control.
 * 3. Start-to-first-output of a component under the supervisor against a raw `child_process.spawn` and a raw
 *    node-pty spawn (BENCH_STARTS runs each, alternating; medians).
 * 4. BENCH_INSTANCES (100) instances, each a shell with two background children that ignore Ctrl+C, started
 *    at once and stopped at once; then every process of theirs is looked for.
 *
 * Run: `pnpm bench supervisor`.
 */
import { Effect, Layer, Stream } from "effect"
import { spawn, spawnSync } from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Net from "node:net"
import type * as NodePty from "node-pty"
import * as Database from "../../packages/core/src/platform/Database.ts"
import * as InstanceRegistry from "../../packages/core/src/launcher/InstanceRegistry.ts"
import * as InstanceSupervisor from "../../packages/core/src/launcher/InstanceSupervisor.ts"
import { MaikitConfig } from "../../packages/core/src/platform/MaikitConfig.ts"
import { format, here, median, printTable, startServer } from "./harness.ts"

// node-pty is a dependency of @maikit/core, not of the bench package.
const Pty = createRequire(new URL("../../packages/core/package.json", import.meta.url))("node-pty") as typeof NodePty

const floodMb = Number(process.env["BENCH_FLOOD_MB"] ?? 100)
const startRuns = Number(process.env["BENCH_STARTS"] ?? 15)
/** More rounds than the HTTP runs: a flood's time on this kind of machine varies by a third from one to the next. */
const floodRounds = Number(process.env["BENCH_FLOOD_ROUNDS"] ?? 5)
const instanceCount = Number(process.env["BENCH_INSTANCES"] ?? 100)
const fixtures = Path.join(here, "../../packages/core/test/fixtures")
const flood = Path.join(fixtures, "flood.mjs")
const floodText = process.env["BENCH_FLOOD_TEXT"] === "zh" ? "zh" : "ascii"
const floodArgs = [flood, String(floodMb), ...(floodText === "zh" ? ["zh"] : [])]
const floodBytes = floodMb * 1_000_000 + "FLOOD-END\n".length
const marker = "FLOOD-END"

/** CPU seconds (user + system) a process has used so far, from `/proc` (clock ticks of 1/100 s). */
const cpuSecondsOf = (pid: number | "self") => {
  const fields = Fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? []
  return (Number(fields[11]) + Number(fields[12])) / 100
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
/**
 * Seconds a process's threads have spent runnable but waiting for a CPU, from the scheduler's statistics (`0` where
 * the kernel keeps none): on two cores, where a flood's time goes that is no process's CPU.
 */
const cpuWaitSecondsOf = (pid: number) => {
  let waited = 0
  try {
    for (const thread of Fs.readdirSync(`/proc/${pid}/task`)) {
      waited += Number(Fs.readFileSync(`/proc/${pid}/task/${thread}/schedstat`, "utf8").split(" ")[1] ?? 0) / 1e9
    }
  } catch {
    return 0
  }
  return waited
}
const rssMbOf = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(Fs.readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024

/** The same program with stdout on /dev/null: seconds until it exits (off a terminal it exits when written). */
const bareChildProcess = () =>
  new Promise<number>((resolve) => {
    const devNull = Fs.openSync("/dev/null", "w")
    const started = performance.now()
    const child = spawn(process.execPath, floodArgs, { stdio: ["ignore", devNull, "inherit"] })
    child.once("exit", () => {
      Fs.closeSync(devNull)
      resolve((performance.now() - started) / 1000)
    })
  })

/**
 * util-linux `script` copying a PTY in C: what the kernel's PTY allows on this machine. Timed to the last
 * byte on its stdout, not to its exit: on a terminal the flood lingers after writing (see the fixture).
 */
const hasScript = spawnSync("script", ["--version"]).status === 0
const kernelPty = () =>
  new Promise<number>((resolve) => {
    const started = performance.now()
    const command = [process.execPath, ...floodArgs].map((word) => `'${word}'`).join(" ")
    const child = spawn("script", ["-qc", command, "/dev/null"], { stdio: ["ignore", "pipe", "inherit"] })
    let tail = ""
    child.stdout.on("data", (chunk: Buffer) => {
      tail = (tail + chunk.toString("latin1")).slice(-64)
      if (tail.includes(marker)) {
        resolve((performance.now() - started) / 1000)
        tail = ""
      }
    })
  })

/** A PTY that is only read: seconds until the last byte arrived, and this process's CPU wait meanwhile. */
const barePty = () =>
  new Promise<{ readonly seconds: number; readonly cpuWait: number }>((resolve) => {
    const started = performance.now()
    const waited = cpuWaitSecondsOf(process.pid)
    const pty = Pty.spawn(process.execPath, floodArgs, { cols: 80, rows: 25, cwd: Os.tmpdir(), encoding: null })
    let tail = ""
    pty.onData((chunk: string | Buffer) => {
      tail = (tail + chunk.toString()).slice(-64)
      if (tail.includes(marker)) {
        resolve({ seconds: (performance.now() - started) / 1000, cpuWait: cpuWaitSecondsOf(process.pid) - waited })
      }
    })
  })

interface Client {
  readonly socket: Net.Socket
  /** Payload bytes of the frames received since the last reset. */
  bytes: number
  done: boolean
  closeCode: number | undefined
  reset: () => void
}

/**
 * A WebSocket client that only reads: it parses the server's (unmasked) frame headers, counts payload bytes and
 * looks for the flood's end marker across frame and chunk boundaries; it decodes nothing. It reads into one
 * buffer it reuses (`onread`): a client that got a new buffer for every read made its own garbage collector
 * the larger part of its CPU with ten clients. Resolves once the server's first frame (the connection status)
 * arrived; `paused` clients stop reading right then.
 */
const openClient = (url: string, paused = false) =>
  new Promise<Client>((resolve, reject) => {
    const target = new URL(url)
    let upgraded = false
    let response = ""
    let tail = ""
    let partial = Buffer.alloc(0)
    let payloadLeft = 0
    let opcode = 0
    const socket = Net.connect({
      host: target.hostname,
      port: Number(target.port),
      onread: {
        buffer: Buffer.allocUnsafe(64 * 1024),
        callback: (size, buffer) => {
          received(Buffer.from(buffer.buffer, buffer.byteOffset, size))
          return true
        }
      }
    })
    let frames = 0
    const client: Client = {
      socket,
      bytes: 0,
      done: false,
      closeCode: undefined,
      reset: () => {
        client.bytes = 0
        client.done = false
        tail = ""
      }
    }
    const payload = (chunk: Buffer) => {
      client.bytes += chunk.length
      if (opcode === 8 && client.closeCode === undefined && chunk.length >= 2) client.closeCode = chunk.readUInt16BE(0)
      // The marker ends the output, so it is near the end of its frame's payload (before `\\r\\n"}`).
      tail = (tail + chunk.subarray(Math.max(0, chunk.length - 64)).toString("latin1")).slice(-128)
      if (tail.includes(marker)) client.done = true
    }
    const read = (data: Buffer) => {
      let at = 0
      while (at < data.length) {
        if (payloadLeft > 0) {
          const take = Math.min(payloadLeft, data.length - at)
          payload(data.subarray(at, at + take))
          payloadLeft -= take
          at += take
          continue
        }
        // A header is 2, 4 or 10 bytes (no mask from a server) and may be split between chunks.
        const fresh = data.subarray(at, at + 10 - partial.length)
        const header = partial.length === 0 ? fresh : Buffer.concat([partial, fresh])
        const short = header.length < 2 ? -1 : (header[1] ?? 0) & 0x7f
        const size = short === 126 ? 4 : short === 127 ? 10 : 2
        if (short === -1 || header.length < size) {
          partial = Buffer.from(header)
          at = data.length
          continue
        }
        at += size - partial.length
        partial = Buffer.alloc(0)
        opcode = (header[0] ?? 0) & 0x0f
        payloadLeft = short === 126 ? header.readUInt16BE(2) : short === 127 ? Number(header.readBigUInt64BE(2)) : short
        if (++frames === 1) {
          if (paused) client.socket.pause()
          resolve(client)
        }
      }
    }
    /** The server's answer to the upgrade request, then its frames. */
    const received = (data: Buffer) => {
      if (upgraded) return read(data)
      response += data.toString("latin1")
      const end = response.indexOf("\r\n\r\n")
      if (end === -1) return
      if (!response.startsWith("HTTP/1.1 101")) return reject(new Error(`no upgrade: ${response.split("\r\n")[0]}`))
      upgraded = true
      read(Buffer.from(response.slice(end + 4), "latin1"))
    }
    socket.once("connect", () =>
      socket.write([
        `GET ${target.pathname} HTTP/1.1`,
        `Host: ${target.host}`,
        "Connection: Upgrade",
        "Upgrade: websocket",
        `Sec-WebSocket-Key: ${Crypto.randomBytes(16).toString("base64")}`,
        "Sec-WebSocket-Version: 13",
        "",
        ""
      ].join("\r\n")))
    socket.on("close", () => (client.closeCode ??= 1006))
    socket.on("error", (error) => (upgraded ? undefined : reject(error)))
  })

const waitFor = async (condition: () => boolean, timeoutMs: number) => {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) return false
    await sleep(5)
  }
  return true
}

const server = await startServer("supervisor", Path.join(here, "servers/supervisor-server.ts"), {
  BENCH_FLOOD_MB: String(floodMb),
  BENCH_FLOOD_TEXT: floodText
})
const http = `http://127.0.0.1:${server.port}`
const listed = (await (await fetch(`${http}/api/v1/instances`)).json()) as { instances: Array<{ id: string }> }
const id = listed.instances[0]?.id ?? ""
const terminalUrl = `ws://127.0.0.1:${server.port}/api/v1/ws/${id}_main`
const mainState = async () => {
  const status = (await (await fetch(`${http}/api/v1/instance/${id}/status`)).json()) as {
    components: Array<{ state: string }>
  }
  return status.components[0]?.state ?? "unknown"
}

/** One flood drained to `count` clients: seconds from the start request until every client has it all. */
const supervised = async (count: number) => {
  const clients = await Promise.all(Array.from({ length: count }, () => openClient(terminalUrl)))
  // What they were replayed on connecting (the end of the previous round) is not part of this one.
  await sleep(300)
  for (const client of clients) client.reset()
  const started = performance.now()
  const serverCpu = cpuSecondsOf(server.process.pid ?? 0)
  const serverWait = cpuWaitSecondsOf(server.process.pid ?? 0)
  const clientCpu = cpuSecondsOf("self")
  await fetch(`${http}/api/v1/instance/${id}/start`)
  await waitFor(() => clients.every((client) => client.done || client.closeCode !== undefined), 300_000)
  const seconds = (performance.now() - started) / 1000
  const cpu = {
    server: cpuSecondsOf(server.process.pid ?? 0) - serverCpu,
    serverWait: cpuWaitSecondsOf(server.process.pid ?? 0) - serverWait,
    clients: cpuSecondsOf("self") - clientCpu
  }
  const result = { seconds, cpu, dropped: clients.filter((client) => !client.done).length, minBytes: Math.min(...clients.map((c) => c.bytes)) }
  for (const client of clients) client.socket.destroy()
  while ((await mainState()) !== "stopped") await sleep(50)
  return result
}

/** Peak RSS growth of the server while the flood runs, with `paused` clients that never read. */
const memory = async (stalled: number) => {
  const clients = await Promise.all(Array.from({ length: stalled }, () => openClient(terminalUrl, true)))
  await sleep(500)
  const before = rssMbOf(server.process.pid ?? 0)
  let peak = before
  const started = performance.now()
  await fetch(`${http}/api/v1/instance/${id}/start`)
  const sampler = setInterval(() => (peak = Math.max(peak, rssMbOf(server.process.pid ?? 0))), 20)
  await sleep(300)
  while ((await mainState()) !== "stopped") await sleep(50)
  const floodSeconds = (performance.now() - started) / 1000
  clearInterval(sampler)
  // A stalled client is dropped once its socket has stayed full for the drain timeout (5 s); it can only see
  // that once it reads again.
  await sleep(6_000)
  for (const client of clients) client.socket.resume()
  await waitFor(() => clients.every((client) => client.closeCode !== undefined), 5_000)
  const closes = clients.map((client) => client.closeCode)
  for (const client of clients) client.socket.destroy()
  return { before, peak, closes, floodSeconds }
}
// Measured first, while the server's heap has not grown for anything else yet.
const control = await memory(0)
const stalledRun = await memory(1)

const fanouts = [1, 10] as const
const baseline: Array<number> = []
const baselineWait: Array<number> = []
const devNull: Array<number> = []
const kernel: Array<number> = []
const candidates = new Map<number, Array<number>>(fanouts.map((count) => [count, []]))
const cpuSeconds = new Map<number, Array<{ readonly server: number; readonly serverWait: number; readonly clients: number }>>(fanouts.map((count) => [count, []]))
let dropped = 0
const minBytes = new Map<number, number>(fanouts.map((count) => [count, Number.POSITIVE_INFINITY]))
for (let round = 0; round < floodRounds; round++) {
  const measure = [
    async () => {
      const bare = await barePty()
      baseline.push(bare.seconds)
      baselineWait.push(bare.cpuWait)
    },
    ...fanouts.map((count) => async () => {
      const result = await supervised(count)
      candidates.get(count)?.push(result.seconds)
      cpuSeconds.get(count)?.push(result.cpu)
      dropped += result.dropped
      minBytes.set(count, Math.min(minBytes.get(count) ?? Number.POSITIVE_INFINITY, result.minBytes))
    })
  ]
  for (const step of round % 2 === 0 ? measure : measure.toReversed()) await step()
  devNull.push(await bareChildProcess())
  if (hasScript) kernel.push(await kernelPty())
}
const mbps = (seconds: number) => floodBytes / 1_000_000 / seconds
const baselineMbps = mbps(median(baseline))
const row = (path: string, seconds: ReadonlyArray<number>, target = "") => [
  path,
  format(median(seconds), 2),
  format(mbps(median(seconds)), 0),
  format(mbps(median(seconds)) / baselineMbps, 2),
  target
]
printTable(
  `Throughput: ${floodMb} MB of ${floodText === "zh" ? "Chinese " : ""}lines through a PTY, ${floodRounds} alternating rounds, medians`,
  ["path", "seconds", "MB/s", "ratio vs bare node-pty", "target"],
  [
    row("bare node-pty, read only (baseline)", baseline),
    ...fanouts.map((count) =>
      row(`MaiKit: PTY + history + ${count} WebSocket client${count === 1 ? "" : "s"}`, candidates.get(count) ?? [], count === 1 ? "≥ 0.8" : "≥ 0.5")
    ),
    row("for context: child_process → /dev/null (no PTY)", devNull),
    ...(hasScript ? [row("for context: `script` → /dev/null (the kernel's PTY, copied in C)", kernel)] : [])
  ]
)
for (const count of fanouts) {
  const perRound = (candidates.get(count) ?? []).map((seconds, round) => format((baseline[round] ?? 0) / seconds, 2))
  console.log(`ratio in each round with ${count} client${count === 1 ? "" : "s"} (bare's time that round / MaiKit's): ${perRound.join(", ")}`)
}
for (const count of fanouts) {
  const used = cpuSeconds.get(count) ?? []
  console.log(`CPU seconds per flood with ${count} client${count === 1 ? "" : "s"} (median): server ${
    format(median(used.map((cpu) => cpu.server)), 2)
  }, the clients (this process) ${format(median(used.map((cpu) => cpu.clients)), 2)}; least a client received in a round: ${
    format((minBytes.get(count) ?? 0) / 1_000_000, 1)
  } MB of frames (the whole flood is about ${format(floodBytes * 1.03 / 1_000_000, 0)} MB: a 100-byte line is 103 in JSON; less is output skipped for a client slower than the flood)`)
}
console.log(`clients dropped: ${dropped}`)
console.log(`seconds runnable but waiting for a CPU per flood (median, all threads): bare node-pty's process ${
  format(median(baselineWait), 2)
}; the server with 1 client ${format(median((cpuSeconds.get(1) ?? []).map((cpu) => cpu.serverWait)), 2)}, with 10 ${
  format(median((cpuSeconds.get(10) ?? []).map((cpu) => cpu.serverWait)), 2)
}`)

printTable(
  `Memory: server RSS while ${floodMb} MB flow`,
  ["case", "flood (s)", "RSS before (MB)", "peak (MB)", "growth (MB)", "stalled client"],
  [
    ["no client (control)", format(control.floodSeconds, 1), format(control.before, 0), format(control.peak, 0), format(control.peak - control.before, 0), "-"],
    [
      "1 client that never reads",
      format(stalledRun.floodSeconds, 1),
      format(stalledRun.before, 0),
      format(stalledRun.peak, 0),
      format(stalledRun.peak - stalledRun.before, 0),
      stalledRun.closes[0] === undefined ? "still attached" : `dropped (close ${stalledRun.closes[0]})`
    ]
  ]
)
await server.stop()

const dataDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "maikit-bench-supervisor-"))
process.on("exit", () => Fs.rmSync(dataDir, { recursive: true, force: true }))
const supervisorLayer = InstanceSupervisor.InstanceSupervisor.layer({ startSeconds: 0, stopGraceMs: 1_000 }).pipe(
  Layer.provideMerge(InstanceRegistry.InstanceRegistry.layer),
  Layer.provide(Database.layerFile(Path.join(dataDir, "maikit.db"))),
  Layer.provideMerge(MaikitConfig.layerFrom({ dataDir }))
)
const interactive = Path.join(fixtures, "interactive.mjs")
const quote = (words: ReadonlyArray<string>) => words.map((word) => JSON.stringify(word)).join(" ")
const single = (name: string, command: string): InstanceRegistry.NewInstance => ({
  name,
  version: "bench",
  path: dataDir,
  host: "127.0.0.1",
  port: 8000,
  token: "",
  ownsPath: false,
  components: [{ name: "main", kind: "main", path: dataDir, port: null, command, env: {}, restart_policy: "no" }]
})

/** Milliseconds from spawn to the first byte the program prints, for a raw `child_process`. */
const rawSpawn = () =>
  new Promise<number>((resolve) => {
    const started = performance.now()
    const child = spawn(process.execPath, [interactive], { stdio: ["pipe", "pipe", "ignore"] })
    child.stdout.once("data", () => {
      resolve(performance.now() - started)
      child.kill("SIGKILL")
    })
  })

const rawPty = () =>
  new Promise<number>((resolve) => {
    const started = performance.now()
    const terminal = Pty.spawn(process.execPath, [interactive], { cols: 80, rows: 25, cwd: dataDir })
    const listener = terminal.onData(() => {
      listener.dispose()
      resolve(performance.now() - started)
      terminal.kill("SIGKILL")
    })
  })

const { starts, fleet } = await Effect.runPromise(Effect.gen(function*() {
  const supervisor = yield* InstanceSupervisor.InstanceSupervisor
  const registry = yield* InstanceRegistry.InstanceRegistry
  const { id: startId } = yield* registry.add(single("start", quote([process.execPath, interactive])))
  const supervisedStart = Effect.scoped(Effect.gen(function*() {
    const terminal = yield* supervisor.attach(startId, "main")
    const started = performance.now()
    yield* supervisor.start(startId)
    yield* Stream.runHead(Stream.filter(terminal.events, (event) => event._tag === "Output"))
    const elapsed = performance.now() - started
    yield* supervisor.stop(startId)
    return elapsed
  }))
  const raw: Array<number> = []
  const rawPtys: Array<number> = []
  const managed: Array<number> = []
  for (let run = 0; run < startRuns; run++) {
    raw.push(yield* Effect.promise(rawSpawn))
    rawPtys.push(yield* Effect.promise(rawPty))
    managed.push(yield* supervisedStart)
  }

  const tag = String(900_000 + Math.floor(Math.random() * 99_999))
  const ids = yield* Effect.forEach(
    Array.from({ length: instanceCount }, (_, index) => index),
    (index) => Effect.map(registry.add(single(`fleet-${index}`, `sh -c 'echo up; sleep ${tag} & sleep ${tag} & wait'`)), (i) => i.id)
  )
  const members = () =>
    Fs.readdirSync("/proc").filter((entry) => {
      if (!/^\d+$/.test(entry)) return false
      try {
        return Fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(tag)
      } catch {
        return false
      }
    }).length
  const startedAt = performance.now()
  yield* Effect.forEach(ids, (instance) => supervisor.start(instance), { concurrency: "unbounded", discard: true })
  const startMs = performance.now() - startedAt
  yield* Effect.sleep(500)
  const runningCount = members()
  const stoppedAt = performance.now()
  yield* Effect.forEach(ids, (instance) => supervisor.stop(instance), { concurrency: "unbounded", discard: true })
  const stopMs = performance.now() - stoppedAt
  return {
    starts: { raw: median(raw), rawPty: median(rawPtys), managed: median(managed) },
    fleet: { startMs, stopMs, runningCount, orphans: members() }
  }
}).pipe(Effect.provide(supervisorLayer)))

printTable(
  `Start to first output, ${startRuns} runs, medians`,
  ["path", "ms", "overhead vs child_process (ms)"],
  [
    ["child_process.spawn", format(starts.raw, 1), "0"],
    ["node-pty spawn", format(starts.rawPty, 1), format(starts.rawPty - starts.raw, 1)],
    ["InstanceSupervisor.start (PTY, group, history)", format(starts.managed, 1), format(starts.managed - starts.raw, 1)]
  ]
)
printTable(
  `${instanceCount} instances (3 processes each, children ignore Ctrl+C) at once`,
  ["start all (ms)", "processes running", "stop all (ms)", "processes left (orphans)"],
  [[format(fleet.startMs, 0), String(fleet.runningCount), format(fleet.stopMs, 0), String(fleet.orphans)]]
)
