/**
 * A WebSocket that comes back: after a drop it reconnects with a growing delay (0.5 s × 1.6ⁿ, at most 10 s),
 * at once when the page becomes visible again, and never after the server refused it for good (a wrong token,
 * close 1008; an unknown instance, close 1003) or after `close()`.
 */
import { ref } from "vue"
import { signedOut, socketUrl } from "./api.ts"

export type SocketState = "connecting" | "open" | "waiting" | "refused" | "closed"

export interface Options {
  readonly path: string
  readonly onOpen: (socket: WebSocket) => void
  readonly onMessage: (data: string) => void
}

export const useReconnectingSocket = (options: Options) => {
  const state = ref<SocketState>("connecting")
  const retryIn = ref(0)
  const reason = ref("")
  let socket: WebSocket | undefined
  let attempts = 0
  let timer: ReturnType<typeof setTimeout> | undefined
  let closed = false

  const connect = () => {
    clearTimeout(timer)
    if (closed) return
    state.value = "connecting"
    const current = new WebSocket(socketUrl(options.path))
    socket = current
    current.addEventListener("open", () => {
      attempts = 0
      state.value = "open"
      options.onOpen(current)
    })
    current.addEventListener("message", (event: MessageEvent<string>) => options.onMessage(event.data))
    current.addEventListener("close", (event) => {
      if (socket !== current || closed) return
      reason.value = event.reason
      if (event.code === 1008) signedOut.value = true
      if (event.code === 1008 || event.code === 1003) {
        state.value = "refused"
        return
      }
      const delay = Math.min(10_000, 500 * 1.6 ** attempts++)
      state.value = "waiting"
      retryIn.value = Math.ceil(delay / 1000)
      timer = setTimeout(connect, delay)
    })
  }

  const onVisible = () => {
    if (document.visibilityState === "visible" && state.value === "waiting") connect()
  }
  document.addEventListener("visibilitychange", onVisible)

  const send = (frame: unknown) => {
    if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame))
  }

  const close = () => {
    closed = true
    clearTimeout(timer)
    document.removeEventListener("visibilitychange", onVisible)
    socket?.close(1000, "page closed")
    state.value = "closed"
  }

  connect()
  return { state, retryIn, reason, send, close, reconnect: connect }
}
