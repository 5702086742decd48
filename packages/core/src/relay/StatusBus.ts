/**
 * The status relay's state: the latest status of every reporting session, the aggregate status chosen by
 * `StatusEvent.priority`, and the subscribers that follow it. A session that stays silent longer than its
 * TTL is forgotten, so a crashed tool (whose last word was `busy`) never leaves a light stuck. Each
 * subscriber has its own bounded queue that drops its oldest updates when full: publishing never waits, and
 * a slow subscriber only loses its own backlog, never delays the publisher or the others.
 */
import { type Cause, Clock, Context, Duration, Effect, Layer, Option, Queue, type Scope, Stream } from "effect"
import { Broadcast } from "./internal/broadcast.ts"
import * as StatusEvent from "./StatusEvent.ts"

export interface Options {
  /** A session that reports nothing for this long is forgotten. Default 20 minutes. */
  readonly sessionTtl?: Duration.Input | undefined
  /** Per-code TTLs overriding `sessionTtl`, e.g. `{ error: "2 minutes" }`. */
  readonly ttlByCode?: Partial<Record<StatusEvent.StatusCode, Duration.Input>> | undefined
  /** Sessions kept at most; beyond it the least recently updated one is dropped. Default 256. */
  readonly maxSessions?: number | undefined
  /** Updates a subscriber may fall behind before its oldest are dropped. Default 256. */
  readonly subscriberBuffer?: number | undefined
}

export const defaultSessionTtl: Duration.Input = "20 minutes"
export const defaultMaxSessions = 256
export const defaultSubscriberBuffer = 256

export interface Service {
  /**
   * Records an event and returns the update it caused, or `None` when the event is older (by its own
   * `timestamp`) than what its session already reported — late deliveries never roll a session back.
   */
  readonly publish: (event: StatusEvent.EventInput) => Effect.Effect<Option.Option<StatusEvent.StatusUpdate>>
  readonly current: Effect.Effect<StatusEvent.Snapshot>
  /**
   * A queue receiving every update from now on (with `changesOnly`, only those that changed the aggregate
   * code), for the scope's lifetime.
   */
  readonly subscribe: (options?: { readonly buffer?: number; readonly changesOnly?: boolean }) => Effect.Effect<
    Queue.Dequeue<StatusEvent.StatusUpdate, Cause.Done>,
    never,
    Scope.Scope
  >
  /**
   * Calls `listener` with every update (with `changesOnly`, only those that changed the aggregate code),
   * synchronously in the publisher's turn, for the scope's lifetime. It saves the queue and the fiber wake-up
   * per update that `subscribe` costs, so it suits work that is small and never waits (keeping a history,
   * writing to non-blocking sockets). A listener that throws is logged; the publisher and the other
   * subscribers carry on.
   */
  readonly listen: (
    listener: (update: StatusEvent.StatusUpdate) => void,
    options?: { readonly changesOnly?: boolean }
  ) => Effect.Effect<void, never, Scope.Scope>
  /** Every update: each accepted event and each expiry. */
  readonly updates: Stream.Stream<StatusEvent.StatusUpdate>
  /** Only the updates that changed the aggregate code. */
  readonly changes: Stream.Stream<StatusEvent.StatusUpdate>
}

interface Session {
  state: StatusEvent.SessionState
  /** The event's own time when the client sent one; orders late deliveries. */
  eventTime: number | undefined
  receivedAt: number
}

/**
 * `new Date(millis).toISOString()` that formats a whole date only once a minute: every accepted event needs
 * its receipt time, and `toISOString` was the bus's largest cost per event.
 */
const isoFormatter = () => {
  let minute = Number.NaN
  let prefix = ""
  return (millis: number): string => {
    const currentMinute = Math.floor(millis / 60_000)
    if (currentMinute !== minute) {
      const full = new Date(currentMinute * 60_000).toISOString()
      minute = currentMinute
      prefix = full.slice(0, -7)
    }
    const withinMinute = millis - currentMinute * 60_000
    const seconds = Math.floor(withinMinute / 1000)
    const milliseconds = withinMinute - seconds * 1000
    return `${prefix}${seconds < 10 ? "0" : ""}${seconds}.${milliseconds < 10 ? "00" : milliseconds < 100 ? "0" : ""}${milliseconds}Z`
  }
}

const rank = (session: Session) => StatusEvent.priority[session.state.code]

const changed = (update: StatusEvent.StatusUpdate) => update.changed

/** Higher priority first, then the most recent report. */
const compare = (a: Session, b: Session) => rank(b) - rank(a) || b.receivedAt - a.receivedAt

export const make = Effect.fnUntraced(function*(options: Options = {}) {
  const defaultTtl = Duration.toMillis(Duration.fromInputUnsafe(options.sessionTtl ?? defaultSessionTtl))
  const ttls = new Map<StatusEvent.StatusCode, number>()
  for (const code of StatusEvent.codes) {
    const input = options.ttlByCode?.[code]
    ttls.set(code, input === undefined ? defaultTtl : Duration.toMillis(Duration.fromInputUnsafe(input)))
  }
  const ttlOf = (code: StatusEvent.StatusCode) => ttls.get(code) ?? defaultTtl
  const maxSessions = Math.max(1, options.maxSessions ?? defaultMaxSessions)
  const defaultBuffer = Math.max(1, options.subscriberBuffer ?? defaultSubscriberBuffer)

  const clock = yield* Clock.Clock
  const iso = isoFormatter()
  const sessions = new Map<string, Session>()
  const broadcast = new Broadcast<StatusEvent.StatusUpdate>()
  let seq = 0
  let aggregate: { code: StatusEvent.StatusCode; timestamp: string; sessionId: string | null } = {
    code: "idle",
    timestamp: iso(clock.currentTimeMillisUnsafe()),
    sessionId: null
  }

  const winner = (): Session | undefined => {
    let best: Session | undefined
    for (const session of sessions.values()) {
      if (best === undefined || compare(session, best) < 0) best = session
    }
    return best
  }

  /** What listeners threw while the current publish or sweep emitted; logged once it is done. */
  let listenerFailures: Array<unknown> | undefined

  const emit = (reason: StatusEvent.StatusUpdate["reason"], session: StatusEvent.SessionState, now: number) => {
    const previous = aggregate.code
    const top = winner()
    aggregate = top === undefined
      ? { code: "idle", timestamp: previous === "idle" ? aggregate.timestamp : iso(now), sessionId: null }
      : { code: top.state.code, timestamp: top.state.timestamp, sessionId: top.state.session_id }
    const update: StatusEvent.StatusUpdate = {
      seq: ++seq,
      reason,
      code: aggregate.code,
      timestamp: aggregate.timestamp,
      changed: aggregate.code !== previous,
      session,
      sessions: sessions.size
    }
    const failures = broadcast.publish(update)
    if (failures !== undefined) (listenerFailures ??= []).push(...failures)
    return update
  }

  const reportListenerFailures = <A>(result: A): Effect.Effect<A> => {
    if (listenerFailures === undefined) return Effect.succeed(result)
    const failures = listenerFailures
    listenerFailures = undefined
    return Effect.as(
      Effect.forEach(failures, (failure) => Effect.logError("status bus: a listener failed", failure), { discard: true }),
      result
    )
  }

  const evictOldest = () => {
    let oldest: Session | undefined
    for (const session of sessions.values()) {
      if (oldest === undefined || session.receivedAt < oldest.receivedAt) oldest = session
    }
    if (oldest !== undefined) sessions.delete(oldest.state.session_id)
  }

  const publish = (event: StatusEvent.EventInput) =>
    Effect.suspend(() => reportListenerFailures(record(event, clock.currentTimeMillisUnsafe())))

  const record = (event: StatusEvent.EventInput, now: number): Option.Option<StatusEvent.StatusUpdate> => {
    const sessionId = event.session_id ?? StatusEvent.defaultSessionId
    const eventTime = event.timestamp === undefined ? undefined : StatusEvent.parseTimestamp(event.timestamp)
    const existing = sessions.get(sessionId)
    if (
      existing !== undefined && eventTime !== undefined && existing.eventTime !== undefined &&
      eventTime < existing.eventTime
    ) {
      return Option.none()
    }
    const agent = event.agent ?? existing?.state.agent
    const label = event.label ?? existing?.state.label
    const receivedAt = iso(now)
    const timestamp = event.timestamp ?? receivedAt
    // One literal per shape (no spreads): this runs for every event.
    const state: StatusEvent.SessionState = agent === undefined
      ? label === undefined
        ? { session_id: sessionId, code: event.code, timestamp, updated_at: receivedAt }
        : { session_id: sessionId, code: event.code, timestamp, label, updated_at: receivedAt }
      : label === undefined
      ? { session_id: sessionId, code: event.code, timestamp, agent, updated_at: receivedAt }
      : { session_id: sessionId, code: event.code, timestamp, agent, label, updated_at: receivedAt }
    if (existing === undefined && sessions.size >= maxSessions) evictOldest()
    // Re-inserting keeps the map in least-recently-updated order for eviction and sweeping.
    sessions.delete(sessionId)
    const session: Session = { state, eventTime, receivedAt: now }
    sessions.set(sessionId, session)
    if (deadlineOf(session) < scheduled) {
      scheduled = deadlineOf(session)
      Queue.offerUnsafe(wake, undefined)
    }
    return Option.some(emit("event", state, now))
  }

  // The sweeper sleeps until the earliest deadline; a publish wakes it only when it creates an earlier one.
  const wake = yield* Queue.sliding<void>(1)
  let scheduled = Number.POSITIVE_INFINITY
  const deadlineOf = (session: Session) => session.receivedAt + ttlOf(session.state.code)

  const sweep = Effect.suspend(() => {
    const now = clock.currentTimeMillisUnsafe()
    let next = Number.POSITIVE_INFINITY
    for (const session of sessions.values()) {
      const deadline = deadlineOf(session)
      if (deadline <= now) {
        sessions.delete(session.state.session_id)
        emit("expired", session.state, now)
      } else if (deadline < next) {
        next = deadline
      }
    }
    scheduled = next
    return reportListenerFailures(next === Number.POSITIVE_INFINITY ? undefined : next - now)
  })

  const sweeper = Effect.gen(function*() {
    const wait = yield* sweep
    const woken = Effect.asVoid(Queue.take(wake))
    yield* wait === undefined ? woken : Effect.raceFirst(Effect.sleep(wait), woken)
  }).pipe(Effect.forever)

  const current = Effect.sync((): StatusEvent.Snapshot => ({
    code: aggregate.code,
    timestamp: aggregate.timestamp,
    session_id: aggregate.sessionId,
    sessions: [...sessions.values()].toSorted(compare).map((session) => session.state),
    seq
  }))

  const subscribe = (subscribeOptions?: { readonly buffer?: number; readonly changesOnly?: boolean }) =>
    broadcast.subscribe(subscribeOptions?.buffer ?? defaultBuffer, subscribeOptions?.changesOnly === true ? changed : undefined)

  const updates = Stream.unwrap(Effect.map(subscribe(), Stream.fromQueue))

  yield* Effect.forkScoped(sweeper)
  yield* Effect.addFinalizer(() => Effect.sync(() => broadcast.end()))

  return StatusBus.of({
    publish,
    current,
    subscribe,
    listen: (listener, listenOptions) =>
      broadcast.listen(listener, listenOptions?.changesOnly === true ? changed : undefined),
    updates,
    changes: Stream.unwrap(Effect.map(subscribe({ changesOnly: true }), Stream.fromQueue))
  })
})

export class StatusBus extends Context.Service<StatusBus, Service>()("@maikit/core/StatusBus") {
  static readonly layer = (options: Options = {}): Layer.Layer<StatusBus> => Layer.effect(StatusBus, make(options))
}
