/** `node --conditions=source src/internal/writePages.ts <file>`: the build's step that writes the fast path's pages. */
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import { renderAll } from "./renderPages.ts"

const [file] = process.argv.slice(2)
if (file === undefined) throw new Error("usage: writePages.ts <file>")
Fs.writeFileSync(file, JSON.stringify(await Effect.runPromise(renderAll)))
