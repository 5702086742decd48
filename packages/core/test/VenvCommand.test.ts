import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as ComponentProcess from "../src/launcher/ComponentProcess.ts"
import * as ProcessTree from "../src/launcher/ProcessTree.ts"
import * as VenvCommand from "../src/launcher/VenvCommand.ts"
import { tempDir, textOf, waitForText } from "./fixtures/support.ts"

/** The real interpreter behind `python3` (not a pyenv-style shim script, which cannot be symlinked elsewhere). */
const python3 = ChildProcess.execFileSync("python3", ["-c", "import sys; print(sys.executable)"], { encoding: "utf8" }).trim()

/** A directory with `venv/bin/python` linked to the system python3, as far as the resolver can tell a real venv. */
const withVenv = (): string => {
  const cwd = tempDir("venv")
  Fs.mkdirSync(Path.join(cwd, "venv", "bin"), { recursive: true })
  Fs.symlinkSync(python3, Path.join(cwd, "venv", "bin", "python"))
  return cwd
}

describe("VenvCommand", () => {
  it.effect("splits command lines like a POSIX shell (quotes, escapes); Windows keeps backslashes", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* VenvCommand.split("python  bot.py --name 'Mai Bot' \"a \\\"b\\\"\" c\\ d"), [
        "python",
        "bot.py",
        "--name",
        "Mai Bot",
        "a \"b\"",
        "c d"
      ])
      assert.deepStrictEqual(yield* VenvCommand.split("''  \"\""), ["", ""])
      assert.deepStrictEqual(yield* VenvCommand.split("C:\\mai\\python.exe \"C:\\Program Files\\x.py\"", true), [
        "C:\\mai\\python.exe",
        "C:\\Program Files\\x.py"
      ])
      const empty = yield* Effect.flip(VenvCommand.split("   "))
      assert.strictEqual(empty._tag, "CommandLineError")
      const unbalanced = yield* Effect.flip(VenvCommand.split("python 'bot.py"))
      assert.include(unbalanced.message, "unbalanced")
    }))

  it.effect("without a venv the command is unchanged; the child is still told to speak UTF-8", () =>
    Effect.gen(function*() {
      const resolved = yield* VenvCommand.resolve("python bot.py", tempDir("novenv"))
      assert.deepStrictEqual(resolved, {
        file: "python",
        args: ["bot.py"],
        env: { PYTHONIOENCODING: "utf-8", PYTHONUTF8: "1" },
        venv: undefined
      })
    }))

  it.effect("with a venv, python runs the venv's interpreter and other commands get the venv first on PATH", () =>
    Effect.gen(function*() {
      const cwd = withVenv()
      const venv = Path.join(cwd, "venv")
      const python = yield* VenvCommand.resolve("python bot.py", cwd)
      assert.strictEqual(python.file, Path.join(venv, "bin", "python"))
      assert.deepStrictEqual(python.args, ["bot.py"])
      assert.strictEqual(python.venv, venv)
      assert.strictEqual((yield* VenvCommand.resolve("python3 -m maim", cwd)).file, Path.join(venv, "bin", "python"))
      const other = yield* VenvCommand.resolve("napcat --qq 123", cwd)
      assert.strictEqual(other.file, "napcat")
      assert.strictEqual(other.env["VIRTUAL_ENV"], venv)
      assert.isTrue(other.env["PATH"]?.startsWith(`${Path.join(venv, "bin")}${Path.delimiter}`))
      assert.strictEqual(other.env["PYTHONUTF8"], "1")
    }))

  it.live("a resolved `python -c …` runs in the venv and prints UTF-8 even under LC_ALL=C", () =>
    Effect.gen(function*() {
      const cwd = withVenv()
      const resolved = yield* VenvCommand.resolve(
        "python -c \"import sys; print(sys.executable); print('你好, MaiBot')\"",
        cwd
      )
      const component = yield* ComponentProcess.make({
        name: "venv-python",
        file: resolved.file,
        args: resolved.args,
        env: { ...resolved.env, LC_ALL: "C", LANG: "C" },
        cwd,
        restart: "no",
        history: { directory: Path.join(cwd, "history") }
      })
      yield* component.start
      yield* component.awaitStatus((status) => status.state === "stopped" || status.state === "errored")
      const text = yield* waitForText(component, "MaiBot")
      assert.include(text, Path.join(cwd, "venv", "bin", "python"))
      assert.include(text, "你好, MaiBot\r\n")
      assert.strictEqual((yield* component.status).state, "stopped")
      assert.notInclude(textOf(yield* component.history.recent), "\uFFFD")
    }).pipe(Effect.provide(ProcessTree.ProcessTree.layer)))
})
