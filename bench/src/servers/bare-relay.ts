/**
 * The baseline: bare `node:http` doing the relay's work by hand — `POST /api/event` read (64 KiB limit),
 * `JSON.parse`, validated and kept as the latest status; on a change of code, the status is published to
 * `BROKER_URL` (QoS 1, retained) when set and written to every `GET /api/events` client in one loop.
 */
import Mqtt from "mqtt"
import * as Http from "node:http"

const limit = 64 * 1024
const codes = new Set(["idle", "busy", "reasoning", "using_tool", "tool_done", "permission", "error", "init"])
const broker = process.env["BROKER_URL"]

const send = (response: Http.ServerResponse, status: number, body: string) => {
  response.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
  response.end(body)
}

interface Event {
  readonly code: string
  readonly timestamp: string
  readonly session_id: string
  readonly label?: string
}

const isEvent = (value: unknown): value is Event => {
  if (typeof value !== "object" || value === null) return false
  const record = value as Record<string, unknown>
  return typeof record["code"] === "string" && codes.has(record["code"]) &&
    (record["timestamp"] === undefined || (typeof record["timestamp"] === "string" && !Number.isNaN(Date.parse(record["timestamp"])))) &&
    (record["session_id"] === undefined || typeof record["session_id"] === "string") &&
    (record["label"] === undefined || typeof record["label"] === "string")
}

const ok = JSON.stringify({ code: 0, message: "ok" })
const clients = new Set<Http.ServerResponse>()
let latest: Event | undefined
let seq = 0

const mqtt = broker === undefined ? undefined : await Mqtt.connectAsync(broker, { clientId: `bench-bare-${process.pid}` })

const server = Http.createServer((request, response) => {
  if (request.method === "POST" && request.url === "/api/event") {
    const chunks: Array<Buffer> = []
    let size = 0
    request.on("data", (chunk: Buffer) => {
      size += chunk.length
      if (size <= limit) chunks.push(chunk)
    })
    request.on("end", () => {
      if (size > limit) return send(response, 413, JSON.stringify({ code: -1, message: "too large" }))
      let body: unknown
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"))
      } catch {
        return send(response, 400, JSON.stringify({ code: -1, message: "malformed JSON body" }))
      }
      if (!isEvent(body)) return send(response, 400, JSON.stringify({ code: -1, message: "invalid event" }))
      const event: Event = {
        code: body.code,
        timestamp: body.timestamp ?? new Date().toISOString(),
        session_id: body.session_id ?? "default",
        ...(body.label === undefined ? {} : { label: body.label })
      }
      const changed = latest?.code !== event.code
      latest = event
      seq++
      if (changed) mqtt?.publish("opencode/status", JSON.stringify({ code: event.code, timestamp: event.timestamp }), { qos: 1, retain: true })
      const frame = `id: ${seq}\nevent: status\ndata: ${JSON.stringify({ code: event.code, timestamp: event.timestamp, seq, session: event })}\n\n`
      for (const client of clients) client.write(frame)
      send(response, 200, ok)
    })
    return
  }
  if (request.method === "GET" && request.url === "/api/events") {
    response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" })
    response.write(`event: connected\ndata: ${JSON.stringify(latest ?? { code: "idle" })}\n\n`)
    clients.add(response)
    response.once("close", () => clients.delete(response))
    return
  }
  send(response, 404, JSON.stringify({ code: -1, message: "not found" }))
})

server.listen(0, "127.0.0.1", () => {
  const address = server.address()
  process.stdout.write(`READY ${typeof address === "object" && address !== null ? address.port : 0}\n`)
})
