/**
 * The status light's live state from the relay's Server-Sent Events (`GET /api/events`): one `EventSource`
 * for the whole console while any page shows the light, the current aggregate and sessions, and the recent
 * events. The browser reconnects by itself and the relay resumes by `Last-Event-ID`.
 */
import { computed, onBeforeUnmount, onMounted, ref } from "vue"
import type { Session, Snapshot, StatusCode, StatusUpdate } from "./types.ts"

export interface RecentEvent {
  readonly seq: number
  readonly code: StatusCode
  readonly reason: StatusUpdate["reason"]
  readonly session: Session
  readonly receivedAt: number
}

const recentLimit = 50

const code = ref<StatusCode | undefined>(undefined)
const since = ref<string | undefined>(undefined)
const sessions = ref<ReadonlyArray<Session>>([])
const recent = ref<ReadonlyArray<RecentEvent>>([])
const connected = ref(false)
const failed = ref(false)
let source: EventSource | undefined
let users = 0

const open = () => {
  source = new EventSource("/api/events")
  source.addEventListener("open", () => {
    connected.value = true
    failed.value = false
  })
  source.addEventListener("error", () => {
    connected.value = false
    // CLOSED: the browser gave up (a 401 or 503); CONNECTING: it retries by itself.
    failed.value = source?.readyState === EventSource.CLOSED
  })
  source.addEventListener("connected", (event) => {
    const snapshot = JSON.parse((event as MessageEvent<string>).data) as Snapshot
    code.value = snapshot.code
    since.value = snapshot.timestamp
    sessions.value = snapshot.sessions
    connected.value = true
  })
  source.addEventListener("status", (event) => {
    const update = JSON.parse((event as MessageEvent<string>).data) as StatusUpdate
    code.value = update.code
    since.value = update.timestamp
    const others = sessions.value.filter((session) => session.session_id !== update.session.session_id)
    sessions.value = update.reason === "expired" ? others : [update.session, ...others]
    recent.value = [
      { seq: update.seq, code: update.session.code, reason: update.reason, session: update.session, receivedAt: Date.now() },
      ...recent.value
    ].slice(0, recentLimit)
  })
}

/** Subscribes for the calling component's lifetime. */
export const useStatusStream = () => {
  onMounted(() => {
    users++
    if (source === undefined) open()
  })
  onBeforeUnmount(() => {
    users--
    if (users === 0) {
      source?.close()
      source = undefined
      connected.value = false
    }
  })
  return {
    code,
    since,
    sessions,
    recent,
    connected,
    failed,
    loading: computed(() => code.value === undefined && !failed.value)
  }
}

/** Each status as the physical light shows it: which lamp, and how. */
export const lightOf: Readonly<Record<StatusCode, { readonly colour: "green" | "yellow" | "red" | "all"; readonly mode: "steady" | "breathe" | "pulse" | "blink" | "flash" | "cycle" }>> = {
  idle: { colour: "green", mode: "steady" },
  busy: { colour: "yellow", mode: "pulse" },
  reasoning: { colour: "yellow", mode: "breathe" },
  using_tool: { colour: "yellow", mode: "blink" },
  tool_done: { colour: "green", mode: "flash" },
  permission: { colour: "red", mode: "blink" },
  error: { colour: "red", mode: "steady" },
  init: { colour: "all", mode: "cycle" }
}

export const statusCodes = Object.keys(lightOf) as ReadonlyArray<StatusCode>
