/**
 * Length of the longest prefix of `bytes` that does not end inside a UTF-8 sequence. Cutting every chunk there
 * (and carrying the rest, at most 3 bytes, into the next chunk) gives the same text as a streaming decoder, with
 * the difference that each chunk then decodes on its own: a record read back from history, or a time-range
 * query that starts at an arbitrary record, never begins or ends with half a character.
 */
export const completeLength = (bytes: Uint8Array): number => {
  const length = bytes.length
  for (let back = 1; back <= 3 && back <= length; back++) {
    const byte = bytes[length - back] ?? 0
    if ((byte & 0xc0) === 0x80) continue
    if (byte < 0xc0 || byte >= 0xf8) return length
    return sequenceLength(byte) > back ? length - back : length
  }
  return length
}

/** How many bytes the UTF-8 sequence that `lead` starts has (a lead byte of 0xc0 or more). */
export const sequenceLength = (lead: number): number => lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2
