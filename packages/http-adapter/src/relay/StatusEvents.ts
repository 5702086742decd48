/**
 * The status stream as Server-Sent Events, for `GET /api/events` or any host that hands over a Node response.
 * Each update is recorded in the publisher's turn (a bus listener), which costs nothing more while no client
 * is connected. A few clients get the frame in that same turn; with many, one fiber writes the frames recorded
 * since its last turn to every client in one loop, so the publisher never waits for a large fan-out. Either
 * way a frame is encoded once, and a delivery costs a `write` and no per-client fiber, queue or encoding.
 *
 * The stream: `retry: 3000`, then `event: connected` with the current snapshot, then one `event: status` per
 * update (`{code, timestamp}` of the aggregate, plus `seq`, `reason`, the session concerned and the number of
 * live sessions), each with an id `<boot>-<seq>`, and a `: keep-alive` comment every 15 s. A client that
 * reconnects with `Last-Event-ID` from this process gets the frames it missed from a bounded ring (or, when
 * they are gone, the snapshot); an id from an earlier process gets the snapshot. The ring records from the
 * first connection on: before it nobody holds an id of this process, and a relay that no client has followed
 * (hooks posting to MQTT lights) keeps no updates — under load, a full ring of updates that each outlive a
 * few young-generation collections is what made the old generation, and the RSS, grow.
 *
 * A slow client never blocks the others: once more than `maxBufferedBytes` wait in its socket buffer it is
 * coalesced — it gets no more frames until the buffer drains, and then only the latest status — and a client
 * that stays blocked longer than `maxLag` is disconnected (its EventSource reconnects and resumes by id).
 */
import { Clock, Context, Duration, Effect, Layer, Queue } from "effect"
import { StatusBus, type StatusEvent } from "@maikit/core/relay"

export interface Options {
  /** Default 15 seconds. */
  readonly keepAliveInterval?: Duration.Input | undefined
  /** Frames kept for `Last-Event-ID` replay. Default 1024. */
  readonly replay?: number | undefined
  /** Bytes a client may have waiting before it is coalesced. Default 64 KiB. */
  readonly maxBufferedBytes?: number | undefined
  /** How long a coalesced client may stay blocked before it is disconnected. Default 30 seconds. */
  readonly maxLag?: Duration.Input | undefined
  /** Connections beyond this are refused. Default 10,000. */
  readonly maxClients?: number | undefined
}

/** What a client connection must offer; a Node `ServerResponse` does. */
export interface Sink {
  writeHead(status: number, headers: Record<string, string>): unknown
  write(chunk: string): boolean
  readonly writableLength: number
  once(event: "drain" | "close", listener: () => void): unknown
  end(): unknown
  destroy(): unknown
}

export interface AttachOptions {
  readonly lastEventId?: string | undefined
  /**
   * Whether the request came from a page (it carried `Origin`): the stream is open to pages of every origin,
   * without credentials (`Access-Control-Allow-Origin: *`), for light dashboards.
   */
  readonly crossOrigin?: boolean | undefined
  /** Called once when the stream ends for any reason: the client left, lagged too far, or the hub closed. */
  readonly onClose?: (() => void) | undefined
}

export interface Service {
  /**
   * Starts the stream on `sink` and keeps it until the sink closes. Returns false (and writes nothing) when
   * `maxClients` are already connected.
   */
  readonly attach: (sink: Sink, options?: AttachOptions) => Effect.Effect<boolean>
  readonly clients: Effect.Effect<number>
}

interface Client {
  readonly sink: Sink
  readonly onClose: (() => void) | undefined
  /** Frames up to this sequence number are already covered by what the client got on connect. */
  readonly after: number
  blockedSince: number | undefined
  pending: string | undefined
}

/** An update in the replay ring, encoded the first time a client needs it. */
interface Frame {
  readonly seq: number
  readonly update: StatusEvent.StatusUpdate
  text: string | undefined
}

const keepAliveFrame = ": keep-alive\n\n"

/**
 * Up to this many clients, frames are written in the publisher's turn: the few writes cost less than waking
 * the fan-out fiber, and the event reaches a dashboard sooner. More clients are written by the fiber, so a
 * publisher never waits for a large fan-out.
 */
const inlineFanout = 16

export const make = Effect.fnUntraced(function*(options: Options = {}) {
  const bus = yield* StatusBus.StatusBus
  const keepAlive = Duration.fromInputUnsafe(options.keepAliveInterval ?? "15 seconds")
  const replayCapacity = Math.max(1, options.replay ?? 1024)
  const maxBuffered = options.maxBufferedBytes ?? 64 * 1024
  const maxLag = Duration.toMillis(Duration.fromInputUnsafe(options.maxLag ?? "30 seconds"))
  const maxClients = options.maxClients ?? 10_000
  const boot = (yield* Clock.currentTimeMillis).toString(36)

  const clients = new Set<Client>()
  const ring: Array<Frame> = []
  let ringStart = 0
  let lastSeq = 0
  /** Whether a client has connected since the start: only then may one resume, and frames are kept. */
  let recording = false

  const remember = (frame: Frame) => {
    if (ring.length - ringStart < replayCapacity) {
      ring.push(frame)
    } else {
      ring[ringStart] = frame
      ringStart++
      if (ringStart === replayCapacity) ringStart = 0
    }
  }
  /** Ring frames oldest first. */
  const replayable = (): ReadonlyArray<Frame> =>
    ringStart === 0 || ring.length < replayCapacity ? ring : [...ring.slice(ringStart), ...ring.slice(0, ringStart)]

  const forget = (client: Client) => {
    if (clients.delete(client)) client.onClose?.()
  }

  const drop = (client: Client) => {
    forget(client)
    client.sink.destroy()
  }

  const send = (client: Client, text: string, now: number) => {
    if (client.blockedSince !== undefined) {
      client.pending = text
      if (now - client.blockedSince > maxLag) drop(client)
      return
    }
    client.sink.write(text)
    if (client.sink.writableLength > maxBuffered) {
      client.blockedSince = now
      client.sink.once("drain", () => {
        client.blockedSince = undefined
        const pending = client.pending
        client.pending = undefined
        if (pending !== undefined && clients.has(client)) send(client, pending, Date.now())
      })
    }
  }

  const textOf = (frame: Frame): string =>
    frame.text ??= `id: ${boot}-${frame.seq}\nevent: status\ndata: ${
      JSON.stringify({
        code: frame.update.code,
        timestamp: frame.update.timestamp,
        seq: frame.seq,
        reason: frame.update.reason,
        changed: frame.update.changed,
        session: frame.update.session,
        sessions: frame.update.sessions
      })
    }\n\n`

  /** Frames newer than `seq`, oldest first (the ring holds consecutive sequence numbers). */
  const framesAfter = (seq: number): Array<Frame> => {
    const frames: Array<Frame> = []
    for (let back = Math.min(lastSeq - seq, ring.length); back > 0; back--) {
      const frame = ring[(ringStart + ring.length - back) % ring.length]
      if (frame !== undefined) frames.push(frame)
    }
    return frames
  }

  let lastWritten = 0
  let flushScheduled = false
  const flushWanted = yield* Queue.sliding<void>(1)

  const flush = () => {
    flushScheduled = false
    const frames = framesAfter(lastWritten)
    lastWritten = lastSeq
    if (clients.size === 0) return
    const now = Date.now()
    for (const frame of frames) {
      const text = textOf(frame)
      for (const client of clients) {
        if (frame.seq > client.after) send(client, text, now)
      }
    }
  }

  const record = (update: StatusEvent.StatusUpdate) => {
    if (recording) remember({ seq: update.seq, update, text: undefined })
    lastSeq = update.seq
    if (clients.size === 0) {
      lastWritten = lastSeq
    } else if (flushScheduled) {
      // Frames already wait for the fiber; this one goes after them.
    } else if (clients.size <= inlineFanout) {
      flush()
    } else {
      flushScheduled = true
      Queue.offerUnsafe(flushWanted, undefined)
    }
  }

  yield* bus.listen(record)
  yield* Queue.take(flushWanted).pipe(
    Effect.flatMap(() => Effect.sync(flush)),
    Effect.forever,
    Effect.forkScoped
  )

  yield* Effect.sync(() => {
    const now = Date.now()
    for (const client of clients) send(client, keepAliveFrame, now)
  }).pipe(Effect.delay(keepAlive), Effect.forever, Effect.forkScoped)

  yield* Effect.addFinalizer(() =>
    Effect.sync(() => {
      for (const client of clients) {
        forget(client)
        client.sink.end()
      }
    })
  )

  const parseLastEventId = (id: string | undefined): number | undefined => {
    const match = id === undefined ? null : /^([0-9a-z]+)-(\d+)$/.exec(id.trim())
    return match === null || match[1] !== boot ? undefined : Number(match[2])
  }

  const attach = (sink: Sink, attachOptions: AttachOptions = {}) =>
    Effect.flatMap(bus.current, (snapshot) =>
      Effect.sync(() => {
        if (clients.size >= maxClients) return false
        recording = true
        sink.writeHead(200, {
          "content-type": "text/event-stream; charset=utf-8",
          "cache-control": "no-cache, no-transform",
          connection: "keep-alive",
          "x-accel-buffering": "no",
          ...(attachOptions.crossOrigin === true ? { "access-control-allow-origin": "*", vary: "Origin" } : {})
        })
        const frames = replayable()
        const oldest = frames[0]?.seq ?? lastSeq + 1
        const resumeFrom = parseLastEventId(attachOptions.lastEventId)
        const resumes = resumeFrom !== undefined && resumeFrom >= oldest - 1 && resumeFrom <= lastSeq
        const connected = JSON.stringify(snapshot)
        let text = resumes
          ? `retry: 3000\nevent: connected\ndata: ${connected}\n\n`
          : `retry: 3000\nid: ${boot}-${snapshot.seq}\nevent: connected\ndata: ${connected}\n\n`
        const from = resumes ? resumeFrom : snapshot.seq
        for (const frame of frames) if (frame.seq > from) text += textOf(frame)
        sink.write(text)
        const client: Client = {
          sink,
          onClose: attachOptions.onClose,
          after: Math.max(from, lastSeq),
          blockedSince: undefined,
          pending: undefined
        }
        clients.add(client)
        sink.once("close", () => forget(client))
        return true
      }))

  return StatusEvents.of({ attach, clients: Effect.sync(() => clients.size) })
})

export class StatusEvents extends Context.Service<StatusEvents, Service>()("@maikit/http-adapter/StatusEvents") {
  static readonly layer = (options: Options = {}): Layer.Layer<StatusEvents, never, StatusBus.StatusBus> =>
    Layer.effect(StatusEvents, make(options))
}
