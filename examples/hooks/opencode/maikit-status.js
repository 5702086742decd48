// MaiKit AI status light: forwards opencode's session events to the relay (written by maikit light install-hooks).
const RELAY = "http://127.0.0.1:8045/api/hook/opencode"
const HEADERS = {"content-type":"application/json"}
const FORWARDED = new Set([
  "session.created", "session.updated", "session.status", "session.idle", "session.error", "session.deleted",
  "permission.asked", "permission.updated", "permission.replied", "question.asked", "question.replied"
])

const post = (body) => {
  if (typeof body.session_id !== "string") return
  fetch(RELAY, { method: "POST", headers: HEADERS, body: JSON.stringify(body), signal: AbortSignal.timeout(2000) })
    .catch(() => {})
}

export const MaikitStatusLight = async () => {
  const reasoning = new Set()
  return {
    event: async ({ event }) => {
      const properties = event.properties ?? {}
      if (event.type === "message.part.updated") {
        const part = properties.part ?? {}
        if (part.type !== "reasoning" || reasoning.has(part.id)) return
        if (reasoning.size > 1000) reasoning.clear()
        reasoning.add(part.id)
        post({ type: "reasoning", session_id: part.sessionID })
        return
      }
      if (!FORWARDED.has(event.type)) return
      const info = properties.info ?? {}
      const body = { type: event.type, session_id: properties.sessionID ?? info.id }
      if (typeof info.parentID === "string") body.parent_id = info.parentID
      else if (event.type === "session.updated") return
      if (typeof properties.status?.type === "string") body.status = properties.status.type
      if (typeof info.title === "string") body.title = info.title.slice(0, 160)
      post(body)
    },
    "tool.execute.before": async (input) => post({ type: "tool.execute.before", session_id: input.sessionID, tool: input.tool }),
    "tool.execute.after": async (input) => post({ type: "tool.execute.after", session_id: input.sessionID, tool: input.tool })
  }
}
