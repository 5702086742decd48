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
    const backlog = new OutputBacklog(10)
    const events = [output("abc"), status("running"), output("defg")]
    backlog.push(events)
    assert.deepStrictEqual(backlog.take(), { events, skippedChars: 0 })
    assert.isTrue(backlog.isEmpty)
    assert.deepStrictEqual(backlog.take(), { events: [], skippedChars: 0 })
  })

  it("drops the oldest output past the limit, counts it, and keeps every status in order", () => {
    const backlog = new OutputBacklog(10)
    const running = status("running")
    const stopping = status("stopping")
    backlog.push([output("0123456"), running, output("789")])
    backlog.push([output("abcdef"), stopping, output("ghi")])
    const taken = backlog.take()
    assert.strictEqual(taken.skippedChars, 10, "\"0123456\" and \"789\" were dropped")
    assert.deepStrictEqual(taken.events, [running, output("abcdef"), stopping, output("ghi")])
    backlog.push([output("x")])
    assert.strictEqual(backlog.take().skippedChars, 0, "the count starts again after a take")
  })

  it("always keeps the newest output, even when it alone is over the limit or statuses follow it", () => {
    const backlog = new OutputBacklog(4)
    backlog.push([output("old"), output("newer than the limit")])
    assert.deepStrictEqual(backlog.take(), { events: [output("newer than the limit")], skippedChars: 3 })
    const stopping = status("stopping")
    const stopped = status("stopped")
    backlog.push([output("old"), output("the last words"), stopping, stopped])
    assert.deepStrictEqual(backlog.take(), { events: [output("the last words"), stopping, stopped], skippedChars: 3 })
  })
})
