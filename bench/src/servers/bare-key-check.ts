/**
 * The baseline for key validation: bare `node:http` reading the JSON body, hashing the key with SHA-256 and
 * looking the hash up in an in-memory map, answering in the control plane's envelope; and for key parsing, the
 * same body read and the key's base64 decoded and split by hand. `API_KEY` is the one
 * key it knows. Prints `READY <port>` when listening.
 */
import * as Crypto from "node:crypto"
import * as Http from "node:http"

const limit = 1024 * 1024
const sha256 = (text: string) => Crypto.createHash("sha256").update(text).digest("hex")

const known = new Map([[sha256(process.env["API_KEY"] ?? ""), {
  tenant_id: "tenant_000000000001",
  agent_id: "agent_000000000001",
  api_key_id: "key_000000000001",
  permissions: ["chat"],
  status: "active"
}]])

const send = (response: Http.ServerResponse, status: number, body: unknown) => {
  const json = JSON.stringify(body)
  response.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(json) })
  response.end(json)
}

const envelope = (success: boolean, message: string, data: unknown, started: bigint, errorCode: string | null) => ({
  success,
  message,
  data,
  timestamp: new Date().toISOString().slice(0, 19) + "Z",
  request_id: Crypto.randomUUID(),
  tenant_id: null,
  execution_time: Number(process.hrtime.bigint() - started) / 1e9,
  error: errorCode === null ? null : message,
  error_code: errorCode
})

/** The original's key parse by hand: `mmc_`, base64, then `tenant_x_agent_y_random_version`. */
const parseKey = (apiKey: string) => {
  if (!apiKey.startsWith("mmc_")) return undefined
  const parts = Buffer.from(apiKey.slice(4), "base64").toString("utf8").split("_")
  if (parts.length < 6) return undefined
  return {
    tenant_id: `${parts[0]}_${parts[1]}`,
    agent_id: `${parts[2]}_${parts[3]}`,
    random_hash: parts[4],
    version: parts[5],
    format_valid: true
  }
}

type Body = { api_key?: unknown; required_permission?: unknown }

const validate = (response: Http.ServerResponse, body: Body & { api_key: string }, started: bigint) => {
  const record = known.get(sha256(body.api_key))
  if (record === undefined) return send(response, 200, envelope(false, "API密钥不存在", null, started, "AUTH_005"))
  const permission = typeof body.required_permission === "string" ? body.required_permission : undefined
  if (permission !== undefined && !record.permissions.includes(permission)) {
    return send(response, 200, envelope(false, "API密钥权限不足", null, started, "AUTH_003"))
  }
  send(response, 200, envelope(true, "API密钥验证成功", { valid: true, ...record, has_permission: true }, started, null))
}

const parse = (response: Http.ServerResponse, body: Body & { api_key: string }, started: bigint) => {
  const parsed = parseKey(body.api_key)
  if (parsed === undefined) return send(response, 200, envelope(false, "API密钥格式无效", null, started, "AUTH_001"))
  send(response, 200, envelope(true, "API密钥解析成功", parsed, started, null))
}

const routes = new Map([["/api/v2/auth/validate-api-key", validate], ["/api/v2/auth/parse-api-key", parse]])

const server = Http.createServer((request, response) => {
  const route = request.method === "POST" ? routes.get(request.url ?? "") : undefined
  if (route === undefined) return send(response, 404, { detail: "Not Found" })
  const started = process.hrtime.bigint()
  const chunks: Array<Buffer> = []
  let size = 0
  request.on("data", (chunk: Buffer) => {
    size += chunk.length
    if (size <= limit) chunks.push(chunk)
  })
  request.on("end", () => {
    if (size > limit) return send(response, 413, { detail: "Request body too large" })
    let body: Body
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Body
    } catch {
      return send(response, 422, { detail: [{ type: "json_invalid", loc: ["body"], msg: "JSON decode error" }] })
    }
    if (typeof body.api_key !== "string") {
      return send(response, 422, { detail: [{ type: "missing", loc: ["body", "api_key"], msg: "Field required" }] })
    }
    route(response, body as Body & { api_key: string }, started)
  })
})

server.listen(0, "127.0.0.1", () => {
  const address = server.address()
  process.stdout.write(`READY ${typeof address === "object" && address !== null ? address.port : 0}\n`)
})
