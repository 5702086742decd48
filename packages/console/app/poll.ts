/**
 * Loads data now and again every `intervalMs` while the component lives and the page is visible, with the
 * three states a page shows: loading (nothing yet), an error (the last attempt failed; the last good data
 * stays), and the data.
 */
import { onBeforeUnmount, onMounted, ref, type Ref } from "vue"
import { ApiError } from "./api.ts"

export interface Polled<A> {
  readonly data: Ref<A | undefined>
  readonly error: Ref<ApiError | undefined>
  readonly loading: Ref<boolean>
  readonly refresh: () => Promise<void>
}

export const usePoll = <A>(load: () => Promise<A>, intervalMs: number): Polled<A> => {
  const data = ref<A | undefined>(undefined) as Ref<A | undefined>
  const error = ref<ApiError | undefined>(undefined)
  const loading = ref(true)
  let timer: ReturnType<typeof setTimeout> | undefined
  let stopped = false
  let running: Promise<void> | undefined

  const refresh = () => {
    running ??= (async () => {
      try {
        data.value = await load()
        error.value = undefined
      } catch (cause) {
        error.value = cause instanceof ApiError ? cause : new ApiError(0, String(cause))
      } finally {
        loading.value = false
        running = undefined
      }
    })()
    return running
  }

  const tick = async () => {
    if (stopped) return
    if (document.visibilityState === "visible") await refresh()
    if (!stopped) timer = setTimeout(tick, intervalMs)
  }
  const onVisible = () => {
    if (document.visibilityState === "visible") void refresh()
  }

  // The first load starts with the component, before it is mounted.
  void tick()
  onMounted(() => document.addEventListener("visibilitychange", onVisible))
  onBeforeUnmount(() => {
    stopped = true
    clearTimeout(timer)
    document.removeEventListener("visibilitychange", onVisible)
  })
  return { data, error, loading, refresh }
}
