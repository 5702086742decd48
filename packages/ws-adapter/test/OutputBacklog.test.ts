import { assert, describe, it } from "@effect/vitest"
import type { ComponentProcess } from "@maikit/core/launcher"
import { OutputBacklog } from "../src/internal/outputBacklog.ts"

const output = (data: string): ComponentProcess.ComponentEvent => ({ _tag: "Output", timestamp: 1, data })
const status = (state: ComponentProcess.ComponentState): ComponentProcess.ComponentEvent => ({
  _tag: "Status",
  status: { name: "main", state, pid: null, since: 1, lastExit: null, restartDelayMs: null, message: null }
})

describe("OutputBacklog", () => {
  it("keeps everything while it fits, and is empty once taken", () => {
    const backlog = new OutputBacklog(() => 10)
    const events = [output("abc"), status("running"), output("defg")]
    backlog.push(events)
    assert.deepStrictEqual(backlog.take(), { events, skippedChars: 0 })
    assert.isTrue(backlog.isEmpty)
    assert.deepStrictEqual(backlog.take(), { events: [], skippedChars: 0 })
  })

  it("drops the oldest output past the limit, counts it, and keeps every status in order", () => {
    const backlog = new OutputBacklog(() => 10)
    const running = status("running")
    const stopping = status("stopping")
    backlog.push([output("0123456"), running, output("789")])
    backlog.push([output("abcdef"), stopping, output("ghi")])
    const taken = backlog.take()
    assert.strictEqual(taken.skippedChars, 9, "\"0123456\" and \"78\" were dropped")
    assert.deepStrictEqual(taken.events, [running, output("9"), output("abcdef"), stopping, output("ghi")])
    backlog.push([output("x")])
    assert.strictEqual(backlog.take().skippedChars, 0, "the count starts again after a take")
  })

  it("keeps the newest output: the tail of an event alone over the limit, and every status after it", () => {
    const backlog = new OutputBacklog(() => 4)
    backlog.push([output("old"), output("newer than the limit")])
    assert.deepStrictEqual(backlog.take(), { events: [output("imit")], skippedChars: 19 })
    const stopping = status("stopping")
    const stopped = status("stopped")
    backlog.push([output("old"), output("the last words"), stopping, stopped])
    assert.deepStrictEqual(backlog.take(), { events: [output("ords"), stopping, stopped], skippedChars: 13 })
  })

  it("a large event followed by a small one keeps its last lines, cut at a line break, not a surrogate pair", () => {
    const backlog = new OutputBacklog(() => 12)
    backlog.push([output("line one\r\nline two\r\nFLOOD-END\r\n"), output("echo\r\n")])
    assert.deepStrictEqual(backlog.take(), {
      events: [output("FLOOD-END\r\n"), output("echo\r\n")],
      skippedChars: 20
    })
    backlog.push([output("🙂🙂🙂🙂🙂🙂🙂🙂")])
    assert.deepStrictEqual(backlog.take(), { events: [output("🙂🙂🙂🙂🙂🙂")], skippedChars: 4 }, "5 of 16 over: 2 pairs")
  })

  it("takes at most so many characters of output, splitting an event (never a surrogate pair), statuses in place", () => {
    const backlog = new OutputBacklog(() => 100)
    const running = status("running")
    backlog.push([output("abc"), running, output("defgh"), output("ij")])
    assert.deepStrictEqual(backlog.take(5), { events: [output("abc"), running, output("de")], skippedChars: 0 })
    assert.deepStrictEqual(backlog.take(3), { events: [output("fgh")], skippedChars: 0 })
    backlog.push([output("k🙂")])
    assert.deepStrictEqual(backlog.take(4), { events: [output("ij"), output("k")], skippedChars: 0 })
    assert.deepStrictEqual(backlog.take(), { events: [output("🙂")], skippedChars: 0 })
    assert.isTrue(backlog.isEmpty)
  })

  it("reads its limit on every push: a client that turns flow control on gets a smaller backlog from then on", () => {
    let limit = 100
    const backlog = new OutputBacklog(() => limit)
    backlog.push([output("0123456789")])
    limit = 4
    backlog.push([output("abc"), output("defg")])
    assert.deepStrictEqual(backlog.take(), { events: [output("defg")], skippedChars: 13 })
  })
})
