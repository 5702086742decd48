/**
 * The baseline: bare `node:http` doing the same work by hand — the three families' health answers (the
 * launcher's with the current time, the control plane's with a timestamp, the relay's constant), the control
 * plane's `/info`, and a POST that
 * reads the body (with the same 1 MiB limit), parses it, validates the four fields and echoes it.
 */
import * as Http from "node:http"

const limit = 1024 * 1024

const send = (response: Http.ServerResponse, status: number, body: unknown) => {
  const json = JSON.stringify(body)
  response.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(json) })
  response.end(json)
}

const isValid = (value: unknown): boolean => {
  if (typeof value !== "object" || value === null) return false
  const record = value as Record<string, unknown>
  return typeof record["name"] === "string" && typeof record["path"] === "string" &&
    typeof record["run_cmd"] === "string" && Number.isInteger(record["port"]) &&
    (record["port"] as number) >= 1 && (record["port"] as number) <= 65535
}

const server = Http.createServer((request, response) => {
  if (request.method === "GET" && request.url === "/api/v1/system/health") {
    send(response, 200, { status: "success", time: new Date().toISOString().replace("Z", "+00:00") })
    return
  }
  if (request.method === "GET" && request.url === "/health") {
    send(response, 200, {
      status: "healthy",
      timestamp: Date.now() / 1000,
      version: "1.0.0",
      services: { database: "healthy", api: "healthy" },
      database: { backend: "sqlite", latency_ms: 0, error: null },
      api_key_usage: { pending: 0, flush_interval_ms: 1000, flush_max_pending: 256 }
    })
    return
  }
  if (request.method === "GET" && request.url === "/info") {
    send(response, 200, {
      name: "MaiMBot API",
      description: "MaiMBot 多租户控制平面（租户、Agent、API 密钥、活跃状态、插件配置）",
      version: "1.0.0",
      architecture: { isolation_levels: ["tenant", "agent", "platform"], auth_mode: "internal_service", database: "sqlite" },
      supported_features: ["多租户隔离", "Agent 配置管理", "API 密钥认证（SHA-256 存储）", "Agent 活跃状态 TTL", "插件配置"],
      server: "MaiKit 0.1.0"
    })
    return
  }
  if (request.method === "GET" && request.url === "/api/health") {
    send(response, 200, { code: 0, message: "ok" })
    return
  }
  if (request.method === "POST" && request.url === "/api/v1/bench/instances") {
    const chunks: Array<Buffer> = []
    let size = 0
    request.on("data", (chunk: Buffer) => {
      size += chunk.length
      if (size <= limit) chunks.push(chunk)
    })
    request.on("end", () => {
      if (size > limit) return send(response, 413, { detail: "Request body too large" })
      let body: unknown
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"))
      } catch {
        return send(response, 422, { detail: [{ type: "json_invalid", loc: ["body"], msg: "JSON decode error" }] })
      }
      if (!isValid(body)) return send(response, 422, { detail: [{ type: "value_error", loc: ["body"], msg: "invalid" }] })
      const { name, path, port, run_cmd } = body as Record<string, unknown>
      send(response, 200, { name, path, port, run_cmd })
    })
    return
  }
  send(response, 404, { detail: "Not Found" })
})

server.listen(0, "127.0.0.1", () => {
  const address = server.address()
  process.stdout.write(`READY ${typeof address === "object" && address !== null ? address.port : 0}\n`)
})
