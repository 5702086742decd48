/**
 * Least-recently-used map for prepared statements. A plain Map keeps insertion order, so re-inserting on
 * every hit makes its first key the eviction candidate without a separate list.
 */
export interface StatementCache<A> {
  readonly getOrPrepare: (sql: string) => A
  readonly size: () => number
}

export const make = <A>(capacity: number, prepare: (sql: string) => A): StatementCache<A> => {
  const entries = new Map<string, A>()
  return {
    getOrPrepare(sql) {
      const hit = entries.get(sql)
      if (hit !== undefined) {
        entries.delete(sql)
        entries.set(sql, hit)
        return hit
      }
      const prepared = prepare(sql)
      if (capacity <= 0) return prepared
      if (entries.size >= capacity) {
        entries.delete(entries.keys().next().value as string)
      }
      entries.set(sql, prepared)
      return prepared
    },
    size: () => entries.size
  }
}
