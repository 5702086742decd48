/**
 * A second thread that reads a bot's database, so that a pass over a large table (a search's total needs one
 * over every row, about 130 ns a row on this kind of machine) runs on two cores: the caller reads the newer half
 * of the ids while this thread reads the older half, each on its own connection.
 *
 * The thread is plain `node:worker_threads` code given as source text: it needs nothing but the SQLite driver,
 * whose path it is handed, so it runs the same from the sources, the built package and the bundled CLI, with
 * no entry file to ship or resolve. It starts on first use and answers only once it has loaded the driver;
 * until then, and after it failed, callers get `None` and read on their own thread, as they would without it.
 */
import { Deferred, Effect, Option } from "effect"
import { createRequire } from "node:module"
import * as Os from "node:os"
import { Worker } from "node:worker_threads"

export type Row = Readonly<Record<string, unknown>>

/** A statement compiled for SQLite: its SQL and its parameters. */
export type Compiled = readonly [string, ReadonlyArray<unknown>]

/**
 * Sends one statement to run on `file`, and returns at once what awaits its answer: `None` when the thread is
 * not there to run it, or it failed. `identity` names the file's current version; a new one closes the thread's
 * connection to an older one.
 */
type Ask<A> = (file: string, identity: string, statement: Compiled) => Effect.Effect<Effect.Effect<Option.Option<A>>>

export interface ReadThread {
  /** The statement's first row (`undefined` when none). */
  readonly first: Ask<Row | undefined>
  /** Every row of the statement. */
  readonly all: Ask<ReadonlyArray<Row>>
  /** Closes the thread's connection to this version of a file, if it has one. */
  readonly forget: (identity: string) => void
}

interface Reply {
  readonly id?: number
  readonly ready?: true
  readonly answer?: Row | ReadonlyArray<Row> | undefined
  readonly error?: string
}

const source = `
const { parentPort, workerData } = require("node:worker_threads")
const Database = require(workerData.driver)
const connections = new Map()
const forget = (identity) => {
  const connection = connections.get(identity)
  if (connection === undefined) return
  connections.delete(identity)
  connection.db.close()
}
const connectionTo = (file, identity) => {
  let connection = connections.get(identity)
  if (connection !== undefined) return connection
  for (const [other, open] of connections) if (open.file === file) forget(other)
  const db = new Database(file, { fileMustExist: true, timeout: workerData.busyTimeout })
  db.pragma("mmap_size = " + workerData.mmapSize)
  connection = { file, db, statements: new Map() }
  connections.set(identity, connection)
  return connection
}
parentPort.on("message", (message) => {
  if (message.forget !== undefined) return forget(message.forget)
  try {
    const connection = connectionTo(message.file, message.identity)
    let statement = connection.statements.get(message.sql)
    if (statement === undefined) {
      if (connection.statements.size >= 256) connection.statements.clear()
      statement = connection.db.prepare(message.sql)
      connection.statements.set(message.sql, statement)
    }
    const answer = message.all ? statement.all(...message.params) : statement.get(...message.params)
    parentPort.postMessage({ id: message.id, answer })
  } catch (error) {
    parentPort.postMessage({ id: message.id, error: String(error && error.message || error) })
  }
})
parentPort.postMessage({ ready: true })
`

const send = (thread: Worker, message: object) =>
  // oxlint-disable-next-line require-post-message-target-origin -- a worker thread's port has no origin
  thread.postMessage(message)

/** After this many threads that died, reads stay on the caller's thread. */
const maxFailures = 3

export interface Options {
  readonly busyTimeout: number
  readonly mmapSize: number
}

/** The thread, started on first use and stopped with the scope; none on a single core. */
export const make = (options: Options) =>
  Effect.gen(function*() {
    const driver = createRequire(import.meta.url).resolve("better-sqlite3")
    const pending = new Map<number, Deferred.Deferred<Option.Option<unknown>>>()
    let worker: Worker | undefined
    let ready = false
    let failures = Os.availableParallelism() > 1 ? 0 : maxFailures
    let nextId = 0

    const settleAll = () => {
      for (const deferred of pending.values()) Deferred.doneUnsafe(deferred, Effect.succeedNone)
      pending.clear()
    }

    const start = () => {
      const thread = new Worker(source, { eval: true, workerData: { driver, ...options } })
      thread.unref()
      thread.on("message", (reply: Reply) => {
        if (reply.ready === true) {
          ready = true
          return
        }
        const deferred = pending.get(reply.id as number)
        if (deferred === undefined) return
        pending.delete(reply.id as number)
        Deferred.doneUnsafe(deferred, Effect.succeed(reply.error === undefined ? Option.some(reply.answer) : Option.none()))
      })
      // An error event is followed by exit; exit alone (terminated, out of memory) ends the thread too.
      thread.on("error", () => undefined)
      thread.on("exit", () => {
        if (worker !== thread) return
        worker = undefined
        ready = false
        failures++
        settleAll()
      })
      worker = thread
    }

    yield* Effect.addFinalizer(() =>
      Effect.promise(async () => {
        const thread = worker
        worker = undefined
        settleAll()
        if (thread !== undefined) await thread.terminate()
      })
    )

    const ask = <A>(all: boolean): Ask<A> => (file, identity, [sql, params]) =>
      Effect.sync(() => {
        if (worker === undefined && failures < maxFailures) start()
        if (worker === undefined || !ready) return Effect.succeedNone
        const id = nextId++
        const deferred = Deferred.makeUnsafe<Option.Option<unknown>>()
        pending.set(id, deferred)
        send(worker, { id, file, identity, sql, params, all })
        return Deferred.await(deferred) as Effect.Effect<Option.Option<A>>
      })

    const thread: ReadThread = {
      first: ask(false),
      all: ask(true),
      forget: (identity) => {
        if (worker !== undefined) send(worker, { forget: identity })
      }
    }
    return thread
  })
