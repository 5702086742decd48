/**
 * A JSON string literal made straight from UTF-8 bytes: the UTF-8 encoding of `JSON.stringify(text)`, for the text
 * the bytes decode to, without decoding them or encoding the result again. What a program prints is mostly bytes
 * that need no escape, so they are checked and copied four at a time. On 100-byte terminal lines this took about
 * 1.8 ms a megabyte here, where decoding, V8's `JSON.stringify` and encoding its result took 5–6 ms on ASCII and
 * 11–14 ms on Chinese text (which V8 holds as a two-byte string).
 */
import { isUtf8 } from "node:buffer"

const hex = "0123456789abcdef"
const shortEscapes: Readonly<Record<number, string>> = { 8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r" }

/** Each byte's escape, as JSON.stringify writes it, or undefined for a byte that stands for itself. */
const escapes: ReadonlyArray<Uint8Array | undefined> = Array.from({ length: 256 }, (_, byte) => {
  if (byte === 0x22) return Buffer.from("\\\"")
  if (byte === 0x5c) return Buffer.from("\\\\")
  if (byte >= 0x20) return undefined
  return Buffer.from(shortEscapes[byte] ?? `\\u00${hex[byte >> 4]}${hex[byte & 15]}`)
})

/**
 * Whether any of the four bytes of `word` is a control character, `"` or `\` (the classic "has a byte less than
 * n" and "has a zero byte" tests; they may flag a word that has none, never miss one).
 */
const mayNeedEscape = (word: number): boolean => {
  const quote = word ^ 0x22222222
  const backslash = word ^ 0x5c5c5c5c
  const flagged = ((word - 0x20202020) & ~word) | ((quote - 0x01010101) & ~quote) | ((backslash - 0x01010101) & ~backslash)
  return (flagged & 0x80808080) !== 0
}

const noBytes = new Uint8Array(0)
const viewOf = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)

/** The most one escaped word can take: four `\u00XX`. */
const widestWord = 24

/**
 * The pieces, concatenated, as a JSON string literal in UTF-8, between `before` and `after` (so that a JSON message
 * around it takes no second copy); `undefined` when they are not all valid UTF-8 (the caller then stringifies the
 * decoded text, whose replacement characters the bytes do not have). Each piece must end on a character boundary.
 */
export const quote = (
  pieces: ReadonlyArray<Uint8Array>,
  before: Uint8Array = noBytes,
  after: Uint8Array = noBytes
): Buffer | undefined => {
  let total = 0
  for (const piece of pieces) {
    if (!isUtf8(piece)) return undefined
    total += piece.length
  }
  // Room for a line ending escaped every 16 bytes; output that needs more (colours, say) grows the buffer.
  let out = Buffer.allocUnsafe(before.length + total + (total >>> 3) + widestWord + 2 + after.length)
  let view = viewOf(out)
  let limit = out.length - widestWord - 1 - after.length
  out.set(before, 0)
  let to = before.length
  view.setUint8(to++, 0x22)
  for (const piece of pieces) {
    const bytes = viewOf(piece)
    const length = piece.length
    const wordsEnd = length - 3
    let at = 0
    while (at < length) {
      if (to > limit) {
        const grown = Buffer.allocUnsafe(out.length * 2)
        out.copy(grown, 0, 0, to)
        out = grown
        view = viewOf(out)
        limit = out.length - widestWord - 1 - after.length
      }
      if (at < wordsEnd) {
        const word = bytes.getUint32(at, true)
        if (!mayNeedEscape(word)) {
          view.setUint32(to, word, true)
          to += 4
          at += 4
          continue
        }
      }
      for (const end = at + 4 < length ? at + 4 : length; at < end; at++) {
        const byte = bytes.getUint8(at)
        const escape = escapes[byte]
        if (escape === undefined) view.setUint8(to++, byte)
        else for (let index = 0; index < escape.length; index++) view.setUint8(to++, escape[index] ?? 0)
      }
    }
  }
  view.setUint8(to++, 0x22)
  out.set(after, to)
  return out.subarray(0, to + after.length)
}

/**
 * Every path of `quote` runs once at load, escapes, wide characters and the buffer's growth included. Otherwise V8
 * compiles its long loop on the stack during the first call, before the code after the loop has ever run; that
 * code has no type feedback then, and the compiled loop was left at that point on every later call (the supervisor
 * bench's server traced about 250 such deoptimisations per 100 MB flood, one for nearly every batch).
 */
quote([Buffer.from("\"\\\u0001\r\n\u001b[0m€𝄞" + "\u0001".repeat(64))], Buffer.from("{"), Buffer.from("}"))
