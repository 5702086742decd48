import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { botFolder, command, maibotInstance, singleInstance } from "../../core/test/helpers/instances.ts"
import { LogSocket } from "../src/index.ts"
import { connect, type Frame, serveSockets } from "./helpers.ts"

const linesFrom = (frames: ReadonlyArray<Frame>, source: string) => frames.filter((frame) => frame["source"] === source)
const hasLine = (source: string, needle: string, level?: string) => (frames: ReadonlyArray<Frame>) =>
  linesFrom(frames, source).some((frame) =>
    String(frame["message"]).includes(needle) && (level === undefined || frame["level"] === level)
  )

describe("LogSocket", () => {
  it.live("streams every component's output as {time, level, message, source} lines: recent ones, then live", () =>
    Effect.gen(function*() {
      const { base, registry, supervisor } = yield* serveSockets()
      const { id } = yield* registry.add(maibotInstance(botFolder()))
      yield* supervisor.start(id)
      const main = yield* supervisor.attach(id, "main")
      yield* Effect.sleep(200)

      const client = yield* connect(`${base}/api/v1/logs/instance/${id}/ws`)
      yield* client.waitFor(hasLine("main", "麦麦 MaiBot 启动"))
      yield* client.waitFor(hasLine("napcat-ada", "ready pid="))
      yield* client.waitFor(hasLine("napcat", "运行中"))
      for (const frame of client.frames) {
        assert.deepStrictEqual(Object.keys(frame), ["time", "level", "message", "source"])
        assert.match(String(frame["time"]), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/)
      }

      yield* main.write("\u001b[31mERROR disk full\u001b[0m\r")
      yield* client.waitFor(hasLine("main", "echo:ERROR disk full", "ERROR"))
      yield* main.write("| WARNING | 麦麦 slow\r")
      yield* client.waitFor(hasLine("main", "echo:| WARNING | 麦麦 slow", "WARNING"))
      yield* main.write("plain\r")
      yield* client.waitFor(hasLine("main", "echo:plain", "INFO"))
      assert.isFalse(client.frames.some((frame) => String(frame["message"]).includes("\u001b[")), "escapes removed")

      yield* supervisor.stop(id)
      yield* client.waitFor(hasLine("main", "MaiBot 正在关闭"))
      yield* client.waitFor(hasLine("main", "main 已停止"))
      client.send({ type: "ping", timestamp: 42 })
      yield* client.waitFor((frames) => frames.some((frame) => frame["type"] === "pong" && frame["timestamp"] === 42))
    }).pipe(Effect.scoped))

  it.live("crash restarts are WARNING lines and giving up is an ERROR line; an unknown instance is refused", () =>
    Effect.gen(function*() {
      const { base, registry, supervisor } = yield* serveSockets({ supervisor: { crashLoop: { maxStarts: 2 } } })
      const { id } = yield* registry.add(singleInstance("crashy", command("exit.mjs", "3", "300")))
      const client = yield* connect(`${base}/api/v1/logs/instance/${id}/ws`)
      yield* client.waitFor(hasLine("main", "main 已停止"))
      yield* supervisor.start(id)
      yield* client.waitFor(hasLine("main", "异常退出（退出码 3），100 ms 后重启", "WARNING"))
      yield* client.waitFor(hasLine("main", "main 出错: crash loop", "ERROR"), 5_000)
      assert.isAtLeast(linesFrom(client.frames, "main").filter((f) => String(f["message"]).startsWith("run pid=")).length, 2)

      const unknown = yield* connect(`${base}/api/v1/logs/instance/nope/ws`)
      assert.strictEqual((yield* unknown.waitForClose()).code, 1003)
      assert.deepInclude(unknown.frames[0], { level: "ERROR", message: "未找到实例 'nope'", source: "launcher" })
    }).pipe(Effect.scoped))
})

describe("LogSocket lines", () => {
  it("splits on newlines across chunks, cuts very long lines, strips escapes and carriage returns", () => {
    const splitter = new LogSocket.LineSplitter()
    assert.deepStrictEqual(splitter.push("first\r\nsec"), ["first"])
    assert.deepStrictEqual(splitter.push("ond\n\n\u001b[32mgreen\u001b[0m\n"), ["second", "green"])
    assert.deepStrictEqual(splitter.push("prompt> "), [])
    assert.deepStrictEqual(splitter.flush(), ["prompt>"])
    const long = splitter.push(`${"a".repeat(40_000)}\n`)
    assert.deepStrictEqual(long.map((line) => line.length), [16_384, 16_384, 7_232])
  })

  it("takes the first level word of a line, INFO when there is none", () => {
    assert.strictEqual(LogSocket.levelOf("07-15 10:20:30 | WARN | 麦麦"), "WARNING")
    assert.strictEqual(LogSocket.levelOf("CRITICAL: oh no ERROR"), "CRITICAL")
    assert.strictEqual(LogSocket.levelOf("DEBUGGER attached"), "INFO")
    assert.strictEqual(LogSocket.timeOf(new Date(2023, 9, 15, 10, 0, 0).getTime()), "2023-10-15 10:00:00")
  })
})
