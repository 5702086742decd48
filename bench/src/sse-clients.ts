/**
 * Opens `CLIENTS` SSE connections to `URL` from this one process, prints `CONNECTED` once every client got
 * its `connected` event, then counts `status` frames and their delivery latency: now minus the send time the
 * poster put in the session label (`performance.timeOrigin + performance.now()`, comparable across processes).
 * On SIGTERM it prints one JSON line: `{connected, delivered, p50, p99, max}`.
 */
import * as Http from "node:http"

const url = process.env["URL"] ?? ""
const count = Number(process.env["CLIENTS"] ?? 100)
const now = () => performance.timeOrigin + performance.now()

const latencies: Array<number> = []
let connected = 0
let delivered = 0
const requests: Array<Http.ClientRequest> = []
const label = /"label":"(\d+(?:\.\d+)?)"/

const open = () =>
  new Promise<void>((resolve, reject) => {
    const request = Http.get(url, { agent: false, headers: { accept: "text/event-stream" } }, (response) => {
      response.setEncoding("utf8")
      let buffer = ""
      let ready = false
      response.on("data", (chunk: string) => {
        buffer += chunk
        let end = buffer.indexOf("\n\n")
        while (end !== -1) {
          const frame = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          if (!ready && frame.includes("event: connected")) {
            ready = true
            connected++
            resolve()
          } else if (frame.includes("event: status")) {
            delivered++
            const sent = label.exec(frame)
            if (sent !== null) latencies.push(now() - Number(sent[1]))
          }
          end = buffer.indexOf("\n\n")
        }
      })
    })
    request.on("error", reject)
    requests.push(request)
  })

for (let i = 0; i < count; i += 100) {
  await Promise.all(Array.from({ length: Math.min(100, count - i) }, open))
}
process.stdout.write("CONNECTED\n")

process.once("SIGTERM", () => {
  const sorted = latencies.toSorted((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN
  process.stdout.write(`${JSON.stringify({ connected, delivered, p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? Number.NaN })}\n`)
  for (const request of requests) request.destroy()
  process.exit(0)
})
