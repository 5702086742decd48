import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { quote } from "../src/launcher/internal/jsonText.ts"
import { completeLength } from "../src/launcher/internal/utf8.ts"

const decoder = new TextDecoder("utf-8", { ignoreBOM: true })
const strict = new TextDecoder("utf-8", { fatal: true })
const isValid = (bytes: Uint8Array) => {
  try {
    strict.decode(bytes)
    return true
  } catch {
    return false
  }
}
const encoder = new TextEncoder()

/** `bytes` cut into pieces at character boundaries near `cuts`, as a component's reads are. */
const piecesOf = (bytes: Uint8Array, cuts: ReadonlyArray<number>): Array<Uint8Array> => {
  const pieces: Array<Uint8Array> = []
  let start = 0
  for (const cut of [...new Set(cuts.map((at) => at % (bytes.length + 1)))].toSorted((a, b) => a - b)) {
    if (cut <= start) continue
    const end = start + completeLength(bytes.subarray(start, cut))
    pieces.push(bytes.subarray(start, end))
    start = end
  }
  pieces.push(bytes.subarray(start))
  return pieces
}

/** Text rich in what JSON escapes: controls, quotes, backslashes, next to multi-byte characters. */
const escapable = fc.array(
  fc.oneof(
    fc.constantFrom("\"", "\\", "\r\n", "\x1b[31m", "\t", "\x00", "\x07", "\x7f", "\u2028", "中", "🙂", "é"),
    fc.string({ unit: "binary", maxLength: 9 })
  ),
  { maxLength: 40 }
).map((parts) => parts.join(""))

describe("JsonText.quote", () => {
  it("is JSON.stringify of the decoded text, for any valid UTF-8 cut anywhere on character boundaries", () => {
    fc.assert(
      fc.property(escapable, fc.array(fc.nat(), { maxLength: 8 }), (text, cuts) => {
        const quoted = quote(piecesOf(encoder.encode(text), cuts))
        assert.isDefined(quoted)
        assert.strictEqual(Buffer.from(quoted ?? []).toString("utf8"), JSON.stringify(text))
      }),
      { numRuns: 2_000 }
    )
  })

  it("declines bytes that are not valid UTF-8, whose decoded text has replacement characters they lack", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.array(fc.nat(), { maxLength: 4 }), (bytes, cuts) => {
        const quoted = quote(piecesOf(bytes, cuts))
        if (isValid(bytes)) assert.strictEqual(Buffer.from(quoted ?? []).toString("utf8"), JSON.stringify(decoder.decode(bytes)))
        else assert.isUndefined(quoted)
      }),
      { numRuns: 2_000 }
    )
  })

  it("writes what comes before and after the literal into the same buffer", () => {
    const quoted = quote([encoder.encode("a\"b\n"), encoder.encode("中")], encoder.encode("{\"data\":"), encoder.encode("}"))
    assert.strictEqual(Buffer.from(quoted ?? []).toString("utf8"), JSON.stringify({ data: "a\"b\n中" }))
  })

  it("grows its buffer for output that is mostly escapes", () => {
    const text = "\x1b".repeat(10_000) + "\"\\".repeat(5_000)
    assert.strictEqual(Buffer.from(quote([encoder.encode(text)]) ?? []).toString("utf8"), JSON.stringify(text))
    const framed = quote([encoder.encode(text)], encoder.encode("["), encoder.encode("]"))
    assert.strictEqual(Buffer.from(framed ?? []).toString("utf8"), JSON.stringify([text]))
  })
})
