/**
 * The status relay against bare `node:http` doing the same work, in one run:
 * 1. `POST /api/event` throughput (parse, validate, keep the latest), alternating rounds, ratio of median req/s.
 * 2. Latency from `POST /api/event` to an MQTT subscriber (through mosquitto) and to an SSE client at
 *    500 events/s after a 2 s warm-up, each event timed from the moment it is written to the socket (one
 *    pipelined HTTP/1.1 connection: events stay in order and none waits for an earlier answer).
 * 3. SSE fan-out: 2,000 clients in a separate process, 20 events/s for 30 s: delivered / expected, delivery
 *    latency and the server's peak RSS.
 * The broker is `MAIKIT_TEST_MOSQUITTO_URL` when set, else a private mosquitto on a free port.
 * Settings: BENCH_SECONDS, BENCH_ROUNDS (throughput), BENCH_LATENCY_SECONDS (10), BENCH_FANOUT_SECONDS (30),
 * BENCH_FANOUT_CLIENTS (2000), BENCH_FANOUT_RATE (20), BENCH_PHASES (default throughput,latency,fanout),
 * BENCH_NODE_OPTIONS (Node flags for both servers, e.g. `--max-semi-space-size=32`).
 */
import Mqtt from "mqtt"
import { spawn, spawnSync, type ChildProcess } from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { format, here, load, median, printTable, rounds, seconds, startServer, type LoadResult, type RunningServer } from "./harness.ts"

const latencySeconds = Number(process.env["BENCH_LATENCY_SECONDS"] ?? 10)
const fanoutSeconds = Number(process.env["BENCH_FANOUT_SECONDS"] ?? 30)
const fanoutClients = Number(process.env["BENCH_FANOUT_CLIENTS"] ?? 2000)
const fanoutRate = Number(process.env["BENCH_FANOUT_RATE"] ?? 20)
const latencyRate = 500
const warmupSeconds = 2
const phases = new Set((process.env["BENCH_PHASES"] ?? "throughput,latency,fanout").split(","))

const now = () => performance.timeOrigin + performance.now()
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)))

const percentile = (values: ReadonlyArray<number>, q: number) => {
  const sorted = values.toSorted((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = Net.createServer()
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
    })
  })

/** The CI broker, or a private mosquitto for this run. */
const broker = async (): Promise<{ readonly url: string; readonly stop: () => void }> => {
  const shared = process.env["MAIKIT_TEST_MOSQUITTO_URL"]
  if (shared !== undefined && shared !== "") return { url: shared, stop: () => undefined }
  const binary = ["mosquitto", "/usr/sbin/mosquitto"].find((candidate) => spawnSync(candidate, ["-h"]).error === undefined)
  if (binary === undefined) throw new Error("mosquitto is not installed; install it or set MAIKIT_TEST_MOSQUITTO_URL")
  const port = await freePort()
  const directory = Fs.mkdtempSync(Path.join(Os.tmpdir(), "maikit-bench-mosquitto-"))
  Fs.writeFileSync(Path.join(directory, "mosquitto.conf"), `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`)
  const child = spawn(binary, ["-c", Path.join(directory, "mosquitto.conf")], { stdio: "ignore" })
  await sleep(300)
  return {
    url: `mqtt://127.0.0.1:${port}`,
    stop: () => {
      child.kill("SIGKILL")
      Fs.rmSync(directory, { recursive: true, force: true })
    }
  }
}

const agent = new Http.Agent({ keepAlive: true, maxSockets: 16 })

const post = (port: number, body: string, via: Http.Agent) =>
  new Promise<number>((resolve) => {
    const request = Http.request(
      { host: "127.0.0.1", port, path: "/api/event", method: "POST", agent: via, headers: { "content-type": "application/json" } },
      (response) => {
        response.resume()
        response.on("end", () => resolve(response.statusCode ?? 0))
      }
    )
    request.on("error", () => resolve(0))
    request.end(body)
  })

/** Posts `make(i)` at `rate` per second for `durationSeconds`, each at its scheduled time. */
const postAtRate = async (
  port: number,
  rate: number,
  durationSeconds: number,
  make: (i: number) => string,
  via: Http.Agent = agent
) => {
  const total = Math.round(rate * durationSeconds)
  const start = now()
  const pending: Array<Promise<number>> = []
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate
    if (due > now()) await sleep(due - now())
    pending.push(post(port, make(i), via))
  }
  const statuses = await Promise.all(pending)
  return { total, failed: statuses.filter((status) => status !== 200).length }
}

/**
 * Events of one session must arrive in order (the relay ignores one older than what the session reported),
 * yet waiting for each answer before sending the next would queue events in this client whenever one answer
 * is slow, and time that queue instead of the server. So each event is written at its scheduled time on one
 * keep-alive socket without waiting for earlier answers (HTTP/1.1 pipelining: in order, answered in order).
 */
const pipelinedPoster = (port: number) =>
  new Promise<{ readonly send: (body: string) => void; readonly answered: (count: number) => Promise<number> }>(
    (resolve, reject) => {
      const socket = Net.connect({ host: "127.0.0.1", port, noDelay: true })
      let ok = 0
      let answers = 0
      let tail = ""
      const waiters: Array<() => void> = []
      socket.setEncoding("utf8")
      socket.on("data", (chunk: string) => {
        const text = tail + chunk
        let counted = 0
        for (const match of text.matchAll(/HTTP\/1\.1 (\d{3})/g)) {
          answers++
          if (match[1] === "200") ok++
          counted = match.index + match[0].length
        }
        // Keep what could be the start of a status line cut by the chunk ("HTTP/1.1 20"), never a counted one.
        tail = text.slice(Math.max(counted, text.length - 11))
        for (const wake of waiters.splice(0)) wake()
      })
      socket.once("error", reject)
      socket.once("connect", () =>
        resolve({
          send: (body) =>
            socket.write(
              `POST /api/event HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\n` +
                `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
            ),
          answered: (count) =>
            new Promise<number>((done) => {
              const finish = () => {
                clearTimeout(timer)
                socket.destroy()
                done(ok)
              }
              const timer = setTimeout(finish, 10_000)
              const check = () => (answers >= count ? finish() : waiters.push(check))
              check()
            })
        })
      )
    }
  )

/** Sends `make(i)` at `rate` per second for `durationSeconds` through a pipelined socket; counts 200s. */
const pipelineAtRate = async (port: number, rate: number, durationSeconds: number, make: (i: number) => string) => {
  const poster = await pipelinedPoster(port)
  const total = Math.round(rate * durationSeconds)
  const start = now()
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate
    if (due > now()) await sleep(due - now())
    poster.send(make(i))
  }
  const ok = await poster.answered(total)
  return { total, failed: total - ok }
}

/** An SSE client in this process calling `onStatus` with each status frame's data. */
const sseClient = (port: number, onStatus: (data: string) => void) =>
  new Promise<Http.ClientRequest>((resolve) => {
    const request = Http.get({ host: "127.0.0.1", port, path: "/api/events", agent: false }, (response) => {
      response.setEncoding("utf8")
      let buffer = ""
      response.on("data", (chunk: string) => {
        buffer += chunk
        let end = buffer.indexOf("\n\n")
        while (end !== -1) {
          const frame = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          if (frame.includes("event: connected")) resolve(request)
          else if (frame.includes("event: status")) onStatus(frame.slice(frame.indexOf("data: ") + 6))
          end = buffer.indexOf("\n\n")
        }
      })
    })
  })

// -------------------------------------------------------------------------------------------------------
// 1. throughput

const throughput = async (candidate: RunningServer, baseline: RunningServer) => {
  const body = JSON.stringify({ code: "busy", timestamp: "2026-06-27T14:30:00Z" })
  const hit = (server: RunningServer, secondsToRun: number) =>
    load({ url: `http://127.0.0.1:${server.port}/api/event`, method: "POST", body, seconds: secondsToRun })
  await hit(candidate, 2)
  await hit(baseline, 2)
  const runs = new Map<RunningServer, Array<LoadResult>>([[candidate, []], [baseline, []]])
  for (let round = 0; round < rounds; round++) {
    for (const server of round % 2 === 0 ? [candidate, baseline] : [baseline, candidate]) {
      const result = await hit(server, seconds)
      if (result.non2xx > 0 || result.errors > 0) throw new Error(`${server.name}: ${result.non2xx} non-2xx, ${result.errors} errors`)
      runs.get(server)?.push(result)
    }
  }
  const rps = (server: RunningServer) => median((runs.get(server) ?? []).map((result) => result.requestsPerSecond))
  const p99 = (server: RunningServer) => median((runs.get(server) ?? []).map((result) => result.p99))
  printTable(
    `POST /api/event throughput (${rounds} alternating rounds of ${seconds} s, 50 connections, median)`,
    ["server", "req/s", "p99 ms", "RSS MB", "ratio to bare"],
    [candidate, baseline].map((server) => [
      server.name,
      format(rps(server)),
      format(p99(server)),
      format(server.rssMb()),
      format(rps(server) / rps(baseline), 2)
    ])
  )
}

// -------------------------------------------------------------------------------------------------------
// 2. latency to MQTT and SSE

const latency = async (servers: ReadonlyArray<RunningServer>, brokerUrl: string) => {
  const rows: Array<Array<string>> = []
  let epoch = Date.now()
  for (const server of servers) {
    const sent = new Map<string, number>()
    const mqttLatencies: Array<number> = []
    const sseLatencies: Array<number> = []
    const subscriber = await Mqtt.connectAsync(brokerUrl, { clientId: `bench-light-${process.pid}-${server.name}` })
    subscriber.on("message", (_topic, payload, packet) => {
      if (packet.retain) return
      const at = sent.get((JSON.parse(payload.toString()) as { timestamp: string }).timestamp)
      if (at !== undefined) mqttLatencies.push(now() - at)
    })
    await subscriber.subscribeAsync("opencode/status", { qos: 1 })
    const sse = await sseClient(server.port, (data) => {
      const at = sent.get((JSON.parse(data) as { timestamp: string }).timestamp)
      if (at !== undefined) sseLatencies.push(now() - at)
    })
    // Warm-up (JIT, connection set-up), timed out of the results: older timestamps, so the measured ones win.
    await pipelineAtRate(server.port, latencyRate, warmupSeconds, (i) =>
      JSON.stringify({ code: i % 2 === 0 ? "busy" : "reasoning", timestamp: new Date(epoch - 60_000 + i).toISOString(), session_id: "bench" }))
    await sleep(500)
    const base = epoch
    const result = await pipelineAtRate(server.port, latencyRate, latencySeconds, (i) => {
      const timestamp = new Date(base + i).toISOString()
      sent.set(timestamp, now())
      return JSON.stringify({ code: i % 2 === 0 ? "busy" : "reasoning", timestamp, session_id: "bench" })
    })
    epoch = base + result.total + 1000
    await sleep(1000)
    sse.destroy()
    await subscriber.endAsync(true)
    rows.push([
      server.name,
      `${result.total - result.failed} / ${result.total}`,
      `${mqttLatencies.length}`,
      `${format(percentile(mqttLatencies, 0.5), 2)} / ${format(percentile(mqttLatencies, 0.99), 2)}`,
      `${sseLatencies.length}`,
      `${format(percentile(sseLatencies, 0.5), 2)} / ${format(percentile(sseLatencies, 0.99), 2)}`
    ])
  }
  printTable(
    `Latency from POST /api/event at ${latencyRate} events/s for ${latencySeconds} s (every event changes the status)`,
    ["server", "posted ok", "MQTT msgs", "MQTT p50 / p99 ms", "SSE msgs", "SSE p50 / p99 ms"],
    rows
  )
}

// -------------------------------------------------------------------------------------------------------
// 3. SSE fan-out

const fanout = async (servers: ReadonlyArray<RunningServer>) => {
  const rows: Array<Array<string>> = []
  for (const server of servers) {
    const clients: ChildProcess = spawn(process.execPath, ["--conditions=source", Path.join(here, "sse-clients.ts")], {
      env: { ...process.env, URL: `http://127.0.0.1:${server.port}/api/events`, CLIENTS: String(fanoutClients) },
      stdio: ["ignore", "pipe", "inherit"]
    })
    let output = ""
    clients.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()))
    const connectedBy = Date.now() + 120_000
    while (!output.includes("CONNECTED")) {
      if (Date.now() > connectedBy) throw new Error(`${server.name}: ${fanoutClients} SSE clients did not connect`)
      await sleep(50)
    }
    const idleRss = server.rssMb()
    let peakRss = idleRss
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, server.rssMb())), 500)
    await sleep(1000)
    const result = await postAtRate(server.port, fanoutRate, fanoutSeconds, (i) =>
      JSON.stringify({ code: i % 2 === 0 ? "busy" : "using_tool", session_id: "fanout", label: String(now()) }))
    await sleep(3000)
    clearInterval(sampler)
    const exited = new Promise((resolve) => clients.once("exit", resolve))
    clients.kill("SIGTERM")
    await exited
    const summary = JSON.parse(output.slice(output.indexOf("{"))) as {
      connected: number
      delivered: number
      p50: number
      p99: number
      max: number
    }
    const expected = (result.total - result.failed) * fanoutClients
    rows.push([
      server.name,
      `${summary.connected}`,
      `${format(summary.delivered)} / ${format(expected)}${summary.delivered === expected ? "" : " MISSING"}`,
      `${format(summary.p50, 1)} / ${format(summary.p99, 1)} / ${format(summary.max, 1)}`,
      `${format(idleRss)} → ${format(peakRss)}`
    ])
  }
  printTable(
    `SSE fan-out: ${fanoutClients} clients, ${fanoutRate} events/s for ${fanoutSeconds} s`,
    ["server", "clients", "delivered / expected", "latency p50 / p99 / max ms", "server RSS MB (connected → peak)"],
    rows
  )
}

/** Fresh servers for each phase, so one phase's heap growth does not show up in the next one's RSS. */
const withServers = async (env: Record<string, string>, phase: (candidate: RunningServer, baseline: RunningServer) => Promise<void>) => {
  const nodeOptions = process.env["BENCH_NODE_OPTIONS"]
  const flags = nodeOptions === undefined ? env : { ...env, NODE_OPTIONS: nodeOptions }
  const candidate = await startServer("maikit relay", Path.join(here, "servers/relay.ts"), flags)
  const baseline = await startServer("bare node:http", Path.join(here, "servers/bare-relay.ts"), flags)
  try {
    await phase(candidate, baseline)
  } finally {
    await candidate.stop()
    await baseline.stop()
  }
}

const mosquitto = await broker()
try {
  if (phases.has("throughput")) await withServers({}, throughput)
  if (phases.has("latency")) {
    await withServers({ BROKER_URL: mosquitto.url }, (candidate, baseline) => latency([candidate, baseline], mosquitto.url))
  }
  if (phases.has("fanout")) await withServers({}, (candidate, baseline) => fanout([candidate, baseline]))
} finally {
  agent.destroy()
  mosquitto.stop()
}
