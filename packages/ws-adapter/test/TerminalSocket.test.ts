import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Redacted, Result } from "effect"
import { botFolder, command, isGone, maibotInstance, singleInstance } from "../../core/test/helpers/instances.ts"
import { TerminalSocket } from "../src/index.ts"
import { connect, connectWs, type Frame, serveSockets } from "./helpers.ts"

const ofType = (frames: ReadonlyArray<Frame>, type: string) => frames.filter((frame) => frame["type"] === type)
const messages = (frames: ReadonlyArray<Frame>, type: string) => ofType(frames, type).map((frame) => String(frame["message"]))
const hasMessage = (type: string, needle: string) => (frames: ReadonlyArray<Frame>) =>
  messages(frames, type).some((message) => message.includes(needle))

describe("TerminalSocket", () => {
  it.live("replays the Vue client's session (contract §4.3) and follows the component across stop and start", () =>
    Effect.gen(function*() {
      const { base, registry, supervisor } = yield* serveSockets()
      const { id } = yield* registry.add(maibotInstance(botFolder()))
      yield* supervisor.start(id)

      const connectedAt = Date.now()
      const client = yield* connect(`${base}/api/v1/ws/${id}_main`)
      yield* client.waitFor(hasMessage("status", "已连接到 main 终端"))
      assert.deepInclude(ofType(client.frames, "status")[0], { component: "main", state: "running" })
      yield* client.waitFor(() => client.output().includes("麦麦 MaiBot 启动"), 2_000)

      // What the client does right after `open`: history since it connected, its size, then pings every 2 s.
      yield* Effect.sleep(100)
      client.send({ type: "request_history", timestamp: Date.now(), fromTime: connectedAt, toTime: Date.now() })
      client.send({ type: "resize", cols: 120, rows: 30 })
      yield* client.waitFor(() => client.output().includes("size:120x30"))
      const pingAt = Date.now()
      client.send({ type: "ping", timestamp: pingAt, connectionStartTime: connectedAt })
      yield* client.waitFor((frames) => ofType(frames, "pong").length === 1)
      const [pong] = ofType(client.frames, "pong")
      assert.strictEqual(pong?.["timestamp"], pingAt, "the client's timestamp comes back")
      assert.isBelow(Math.abs(Number(pong?.["server_time"]) - Date.now()), 1_000)
      assert.isBelow(Date.now() - pingAt, 500, "well under the client's 3 s heartbeat timeout")
      yield* client.waitFor((frames) => ofType(frames, "history_logs").length === 1)
      const [history] = ofType(client.frames, "history_logs")
      assert.strictEqual(history?.["session_id"], `${id}_main`)
      const logs = history?.["logs"] as ReadonlyArray<{ timestamp: number; data: string }>
      assert.isTrue(logs.every((entry) => entry.timestamp >= connectedAt), "history since the connection started")
      assert.include(logs.map((entry) => entry.data).join(""), "size:120x30")

      client.send({ type: "input", data: "你好, MaiBot\n" })
      yield* client.waitFor(() => client.output().includes("echo:你好, MaiBot"))
      client.send({ type: "ping", timestamp: Date.now(), connectionStartTime: connectedAt })
      yield* client.waitFor((frames) => ofType(frames, "pong").length === 2)
      assert.lengthOf(ofType(client.frames, "history_logs"), 1, "history follows connectionStartTime once per socket")

      const adapter = yield* connect(`${base}/api/v1/ws/${id}_napcat-ada`)
      yield* adapter.waitFor(hasMessage("status", "已连接到 napcat-ada 终端"))
      adapter.send({ type: "input", data: "adapter\r" })
      yield* adapter.waitFor(() => adapter.output().includes("echo:adapter"))
      const seed = yield* connect(`${base}/ws/${id}_nonebot`)
      yield* seed.waitFor(hasMessage("status", "已连接到 nonebot 终端"))

      yield* supervisor.stop(id)
      yield* client.waitFor(hasMessage("status", "main 已停止"))
      assert.include(client.output(), "MaiBot 正在关闭")
      assert.isUndefined(client.close, "the terminal stays open while the instance is stopped")
      client.send({ type: "input", data: "nobody\n" })
      yield* client.waitFor(hasMessage("error", "main 未运行（stopped），输入未送达"))
      yield* supervisor.start(id)
      yield* client.waitFor(hasMessage("status", "main 运行中"))
      client.send({ type: "input", data: "again\n" })
      yield* client.waitFor(() => client.output().includes("echo:again"))
      yield* supervisor.stop(id)
    }).pipe(Effect.scoped))

  it.live("a terminal opened before the start shows it waiting, then the output; split UTF-8 arrives whole", () =>
    Effect.gen(function*() {
      const { base, registry, supervisor } = yield* serveSockets()
      const { id } = yield* registry.add(singleInstance("utf8", command("utf8-split.mjs"), { restart_policy: "no" }))
      const client = yield* connect(`${base}/api/v1/ws/${id}_main`)
      yield* client.waitFor(hasMessage("status", "已连接到 main 终端 (等待启动命令)"))
      yield* Effect.ignore(supervisor.start(id))
      yield* client.waitFor(hasMessage("status", "main 已停止（退出码 0）"))
      assert.include(client.output(), "你好🙂")
      assert.notInclude(client.output(), "\uFFFD")
    }).pipe(Effect.scoped))

  it.live("output frames carry exactly what the process printed: escapes, quotes, colours; a bad byte as U+FFFD", () =>
    Effect.gen(function*() {
      const { base, registry, supervisor } = yield* serveSockets()
      const { id } = yield* registry.add(singleInstance("escapes", command("escapes.mjs"), { restart_policy: "no" }))
      const client = yield* connect(`${base}/api/v1/ws/${id}_main`)
      yield* Effect.ignore(supervisor.start(id))
      yield* client.waitFor(hasMessage("status", "main 已停止（退出码 0）"))
      assert.include(client.output(), "\"quoted\" back\\slash \x1b[31mred\x1b[0m tab\tbell\x07del\x7f 中文🙂\r\n")
      assert.include(client.output(), "bad \uFFFD byte\r\n")
    }).pipe(Effect.scoped))

  it.live("bad session ids, unknown instances and components: an error frame, then close 1003", () =>
    Effect.gen(function*() {
      const { base, http, registry } = yield* serveSockets()
      const { id } = yield* registry.add(maibotInstance(botFolder()))
      const cases: ReadonlyArray<readonly [string, string]> = [
        ["nounderscore", "WebSocket 会话 ID 格式无效 (缺少类型部分): nounderscore"],
        [`${"0".repeat(40)}_main`, `未找到实例 '${"0".repeat(40)}'`],
        ["not-an-id_main", "未找到实例 'not-an-id'"],
        [`${"长".repeat(90)}_main`, `未找到实例 '${"长".repeat(90)}'`],
        [`${id}_qq`, `实例 '${id}' 没有 'qq' 终端`]
      ]
      for (const [session, message] of cases) {
        const client = yield* connect(`${base}/api/v1/ws/${session}`)
        const closed = yield* client.waitForClose()
        assert.strictEqual(closed.code, 1003, session)
        assert.deepStrictEqual(client.frames, [{ type: "error", message }])
      }
      const plain = yield* Effect.promise(() => fetch(`${http}/api/v1/ws/${id}_main`))
      assert.strictEqual(plain.status, 426)
      assert.include(((yield* Effect.promise(() => plain.json())) as { detail: string }).detail, "WebSocket")
    }).pipe(Effect.scoped))

  it.live("malformed, oversize and flooding frames get error frames; the process and the other clients go on", () =>
    Effect.gen(function*() {
      const { base, registry, supervisor } = yield* serveSockets({
        terminal: { limits: { framesPerSecond: 20, burst: 40 } }
      })
      const { id } = yield* registry.add(maibotInstance(botFolder()))
      yield* supervisor.start(id)
      const rogue = yield* connect(`${base}/api/v1/ws/${id}_main`)
      const bystander = yield* connect(`${base}/api/v1/ws/${id}_main`)
      yield* rogue.waitFor(hasMessage("status", "已连接"))

      rogue.send("this is not json")
      yield* rogue.waitFor(hasMessage("error", "无法解析的消息"))
      rogue.send({ type: "shell", data: "rm -rf /" })
      yield* rogue.waitFor(hasMessage("error", "不支持的消息类型: shell"))
      rogue.send({ type: "input" })
      yield* rogue.waitFor(hasMessage("error", "消息格式无效 (input)"))
      rogue.send({ type: "resize", cols: -3, rows: 9999 })
      yield* rogue.waitFor(hasMessage("error", "消息格式无效 (resize)"))
      rogue.send({ type: "request_history" })
      yield* rogue.waitFor(hasMessage("error", "request_history 需要 fromTime 和 toTime"))
      for (let i = 0; i < 5; i++) rogue.send({ type: "request_history", fromTime: 1, toTime: Date.now() })
      yield* rogue.waitFor(hasMessage("error", "历史记录请求过于频繁"))
      assert.lengthOf(rogue.frames.filter((frame) => frame["type"] === "history_logs"), 3, "a burst of three")
      const oversize = JSON.stringify({ type: "input", data: "x".repeat(70 * 1024) })
      rogue.send(oversize)
      yield* rogue.waitFor(hasMessage("error", `消息过大: ${oversize.length} 字节（上限 65536 字节）`))

      yield* Effect.sleep(2_100)
      for (let i = 0; i < 500; i++) rogue.send({ type: "ping", timestamp: i })
      yield* rogue.waitFor(hasMessage("error", "消息过于频繁"))
      const pongs = ofType(rogue.frames, "pong").length
      assert.isAtLeast(pongs, 40, "the burst is served")
      assert.isBelow(pongs, 100, "the rest is dropped")
      assert.isUndefined(rogue.close, "a flood is refused, not fatal")

      bystander.send({ type: "input", data: "still here\n" })
      yield* bystander.waitFor(() => bystander.output().includes("echo:still here"))
      assert.include(rogue.output(), "echo:still here", "the rogue client still gets output")
      const [main] = yield* supervisor.componentStats(id)
      assert.strictEqual(main?.state, "running")
      assert.strictEqual(main?.restartCount, 0)
      yield* Effect.sleep(1_100)
      rogue.send({ type: "ping", timestamp: 1 })
      yield* rogue.waitFor((frames) => frames.at(-1)?.["type"] === "pong", 2_000)
      yield* supervisor.stop(id)
    }).pipe(Effect.scoped))

  it.live("a client that stops reading is dropped; the process is not slowed and a reading client gets every line", () =>
    Effect.gen(function*() {
      // A backlog that holds the whole flood: on a loaded machine the reader, in this same process, may fall more
      // than the default backlog behind, and then it is sent the newest output (the next test); this one is about
      // the stalled client.
      const { base, registry, supervisor } = yield* serveSockets({
        terminal: { backlogChars: 16 * 1024 * 1024, limits: { drainTimeoutMs: 3_000 } }
      })
      const { id } = yield* registry.add(singleInstance("flood", command("flood.mjs", "10"), { restart_policy: "no" }))
      const stalled = yield* connectWs(`${base}/api/v1/ws/${id}_main`)
      const reader = yield* connect(`${base}/api/v1/ws/${id}_main`)
      yield* reader.waitFor(hasMessage("status", "已连接"))
      yield* stalled.client.waitFor(hasMessage("status", "已连接"))
      stalled.socket.pause()
      const started = Date.now()
      yield* Effect.ignore(supervisor.start(id))
      yield* reader.waitFor(() => reader.close !== undefined || reader.output().includes("FLOOD-END"), 40_000)
      assert.isUndefined(reader.close, `the reading client was closed: ${JSON.stringify(reader.close)}`)
      const elapsed = Date.now() - started
      const output = reader.output()
      assert.include(output, "000099999 ")
      assert.strictEqual(output.match(/\n/g)?.length ?? 0, 100_001, "every line reached the reading client")
      yield* Effect.sleep(3_500)
      stalled.socket.resume()
      const closed = yield* stalled.client.waitForClose()
      assert.include([1013, 1006], closed.code, `closed with ${closed.code}`)
      assert.isBelow(stalled.client.output().length, output.length, "the stalled client got less")
      yield* Effect.logInfo(`10 MB flood to one reading and one stalled client in ${elapsed} ms`)
    }).pipe(Effect.scoped), 60_000)

  it.live("a client that keeps up gets every byte of bursts far larger than backlogChars", () =>
    Effect.gen(function*() {
      // The PTY thread hands output over in batches of 256 KiB, several at once after the main thread was busy;
      // only a socket that stays full for slowAfterMs (generous here: the reader shares this process) counts.
      const { base, registry, supervisor } = yield* serveSockets({
        terminal: { backlogChars: 16 * 1024, slowAfterMs: 1_000 }
      })
      const { id } = yield* registry.add(singleInstance("flood", command("flood.mjs", "10"), { restart_policy: "no" }))
      const reader = yield* connect(`${base}/api/v1/ws/${id}_main`)
      yield* reader.waitFor(hasMessage("status", "已连接"))
      yield* Effect.ignore(supervisor.start(id))
      yield* reader.waitFor(() => reader.close !== undefined || reader.output().includes("FLOOD-END"), 40_000)
      const output = reader.output()
      assert.notInclude(output, "已跳过")
      assert.strictEqual(output.match(/\n/g)?.length ?? 0, 100_001, "every line reached the client")
    }).pipe(Effect.scoped), 60_000)

  it.live("a client that reads slowly gets the newest output after a notice of what it missed, and stays connected", () =>
    Effect.gen(function*() {
      const { base, registry, supervisor } = yield* serveSockets({
        terminal: { backlogChars: 64 * 1024, limits: { highWaterBytes: 64 * 1024, drainTimeoutMs: 20_000 } }
      })
      const { id } = yield* registry.add(singleInstance("flood", command("flood.mjs", "10"), { restart_policy: "no" }))
      const slow = yield* connectWs(`${base}/api/v1/ws/${id}_main`)
      const binary: Array<boolean> = []
      slow.socket.on("message", (_data: Buffer, isBinary: boolean) => binary.push(isBinary))
      yield* slow.client.waitFor(hasMessage("status", "已连接"))
      slow.socket.pause()
      yield* Effect.ignore(supervisor.start(id))
      yield* Effect.sleep(1_500)
      slow.socket.resume()
      yield* slow.client.waitFor(hasMessage("status", "main 已停止"), 30_000)
      const output = slow.client.output()
      assert.isUndefined(slow.client.close, "still connected")
      assert.include(output, "已跳过")
      assert.include(output, "FLOOD-END")
      const skipped = [...output.matchAll(/已跳过 (\d+) 个字符/g)].reduce((sum, match) => sum + Number(match[1]), 0)
      assert.isAbove(skipped, 1_000_000, "most of the 10 MB was skipped")
      const afterNotice = output.slice(output.lastIndexOf("已跳过"))
      assert.isBelow(afterNotice.length, 64 * 1024 + 260 * 1024, "then at most the backlog and one event")
      assert.match(afterNotice, /\d{9} x{89}\r\nFLOOD-END/, "the newest output, in order up to the end")
      const statuses = messages(slow.client.frames, "status")
      assert.isTrue(statuses.some((message) => message.startsWith("main 运行中")), "no status is skipped")
      assert.strictEqual(statuses.at(-1), "main 已停止（退出码 0）")
      assert.isTrue(binary.every((isBinary) => !isBinary), "every frame is a text frame")
    }).pipe(Effect.scoped), 60_000)

  it.live("flow control: a client that asks for it is sent at most its window beyond what it reported shown", () =>
    Effect.gen(function*() {
      const { base, registry, supervisor } = yield* serveSockets({ terminal: { backlogChars: 16 * 1024 } })
      const { id } = yield* registry.add(singleInstance("flood", command("flood.mjs", "10"), { restart_policy: "no" }))
      const client = yield* connect(`${base}/api/v1/ws/${id}_main`)
      yield* client.waitFor(hasMessage("status", "已连接"))
      client.send({ type: "flow", window: 100 })
      yield* client.waitFor(hasMessage("error", "消息格式无效 (flow)"))
      client.send({ type: "flow", window: 4096, lang: "en" })
      yield* Effect.sleep(100)
      yield* Effect.ignore(supervisor.start(id))
      yield* client.waitFor(() => client.output().length > 0)
      // Well within the second after which a server that hears nothing goes on anyway.
      yield* Effect.sleep(300)
      const unreported = client.output().length
      assert.isAtMost(unreported, 4096 + 200, "the window (and a notice of what was skipped), nothing beyond it")
      assert.notInclude(client.output(), "FLOOD-END")
      const report = Effect.sync(() => client.send({ type: "flow", consumed: client.output().length }))
      yield* Effect.repeat(Effect.andThen(report, Effect.sleep(20)), {
        until: () => client.output().includes("FLOOD-END") || client.close !== undefined
      }).pipe(Effect.timeout("30 seconds"))
      assert.isUndefined(client.close)
      assert.include(client.output(), "characters skipped", "what did not fit was skipped, and said so in the client's language")
      assert.notInclude(client.output(), "已跳过")
      assert.match(client.output(), /\d{9} x{89}\r\nFLOOD-END/)
    }).pipe(Effect.scoped), 60_000)

  it.live("flow control: right after an input, its answer is sent through a full window with no report", () =>
    Effect.gen(function*() {
      // A client that never reports would otherwise wait a minute for anything more.
      const { base, registry, supervisor } = yield* serveSockets({ terminal: { flowStallMs: 60_000 } })
      const { id } = yield* registry.add(singleInstance("flood-echo", command("flood-echo.cjs"), { restart_policy: "no" }))
      yield* supervisor.start(id)
      const client = yield* connect(`${base}/api/v1/ws/${id}_main`)
      yield* client.waitFor(() => client.output().includes("flood-echo ready"))
      client.send({ type: "flow", window: 4096 })
      client.send({ type: "input", data: "flood 1\r" })
      yield* client.waitFor(() => client.output().length > 4096, 5_000)
      // The flood's own moment after its input is over: the window is full and nothing is reported.
      yield* Effect.sleep(400)
      const before = client.output().length
      assert.isAtMost(before, 4096 + 128 * 1024 + 2048, "the window and the input's budget (with skip notices)")
      yield* Effect.sleep(200)
      assert.strictEqual(client.output().length, before, "a full window is held while the client reports nothing")
      client.send({ type: "input", data: "hello\r" })
      yield* client.waitFor(() => client.output().includes("echo:hello"), 5_000)
      yield* supervisor.stop(id)
    }).pipe(Effect.scoped), 30_000)

  it.live("with a token: the URL or a first auth frame opens the terminal; anything else is closed with 1008", () =>
    Effect.gen(function*() {
      const token = Option.some(Redacted.make("s3cret"))
      const { base, registry, terminal } = yield* serveSockets({ terminal: { accessToken: token, limits: { authTimeoutMs: 300 } } })
      const { id } = yield* registry.add(maibotInstance(botFolder()))
      assert.isTrue(terminal.checksToken(`/api/v1/ws/${id}_main`))
      assert.isFalse(terminal.checksToken("/api/v1/instances"))

      const viaQuery = yield* connect(`${base}/api/v1/ws/${id}_main?token=s3cret`)
      yield* viaQuery.waitFor(hasMessage("status", "已连接到 main 终端"))
      const viaFrame = yield* connect(`${base}/api/v1/ws/${id}_main`)
      viaFrame.send({ type: "auth", token: "s3cret" })
      yield* viaFrame.waitFor(hasMessage("status", "已连接到 main 终端"))

      const wrong = yield* connect(`${base}/api/v1/ws/${id}_main?token=nope`)
      assert.strictEqual((yield* wrong.waitForClose()).code, 1008)
      assert.deepStrictEqual(messages(wrong.frames, "error"), ["访问令牌无效"])
      const silent = yield* connect(`${base}/api/v1/ws/${id}_main`)
      assert.strictEqual((yield* silent.waitForClose()).code, 1008)
      assert.include(messages(silent.frames, "error")[0] ?? "", "需要访问令牌")
      const impatient = yield* connect(`${base}/api/v1/ws/${id}_main`)
      impatient.send({ type: "input", data: "ls\n" })
      assert.strictEqual((yield* impatient.waitForClose()).code, 1008)
      assert.isFalse(hasMessage("status", "已连接")(impatient.frames), "nothing about the instance before auth")
    }).pipe(Effect.scoped))

  it.live("server shutdown says so and closes 1001; a deleted instance closes its terminals with 1000", () =>
    Effect.gen(function*() {
      const { base, registry, supervisor, terminal } = yield* serveSockets()
      const { id } = yield* registry.add(singleInstance("tree", command("tree.mjs")))
      const other = yield* registry.add(maibotInstance(botFolder()))
      yield* supervisor.start(id)
      const client = yield* connect(`${base}/api/v1/ws/${id}_main`)
      yield* client.waitFor(() => client.output().includes("PIDS"))
      const pids = Object.values(JSON.parse(/PIDS (\{[^}]*\})/.exec(client.output())?.[1] ?? "{}") as Record<string, number>)
      yield* supervisor.remove(id)
      assert.isTrue(pids.every(isGone), "deleting stops the tree")
      const closed = yield* client.waitForClose()
      assert.strictEqual(closed.code, 1000)
      assert.include(messages(client.frames, "status").at(-1) ?? "", `终端已关闭: 未找到实例 '${id}'`)

      const survivor = yield* connect(`${base}/api/v1/ws/${other.id}_main`)
      yield* survivor.waitFor(hasMessage("status", "已连接"))
      yield* terminal.shutdown
      assert.strictEqual((yield* survivor.waitForClose()).code, 1001)
      assert.include(messages(survivor.frames, "status"), "服务器正在关闭，连接即将断开。")
    }).pipe(Effect.scoped))
})

const ok = (text: string) => Result.getOrThrowWith(TerminalSocket.parseFrame(text), (message) => new Error(message))
const why = (text: string) => Result.match(TerminalSocket.parseFrame(text), { onFailure: (m) => m, onSuccess: () => "" })

describe("TerminalSocket.parseFrame", () => {
  it("accepts the client's frames and the docs' field names, and explains the rest", () => {
    assert.deepStrictEqual(ok("{\"type\":\"input\",\"data\":\"ls\\r\"}"), { type: "input", data: "ls\r" })
    assert.deepStrictEqual(ok("{\"type\":\"ping\"}"), { type: "ping" })
    assert.deepStrictEqual(ok("{\"type\":\"request_history\",\"from_time\":1,\"to_time\":2}"), {
      type: "request_history",
      from_time: 1,
      to_time: 2
    })
    assert.strictEqual(why("[1,2]"), "无法解析的消息：需要带 type 字段的 JSON")
    assert.strictEqual(why("{\"type\":\"exec\"}"), "不支持的消息类型: exec")
    assert.include(why("{\"type\":\"resize\",\"cols\":\"wide\"}"), "消息格式无效 (resize)")
  })
})
