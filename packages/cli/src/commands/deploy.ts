/**
 * `maikit versions`, `maikit deploy`, `maikit instances update`, `maikit backups ls|restore|rm`: the Deployer
 * from the command line, on the local database (`--data-dir`), next to or without a server (a server's running
 * jobs belong to it and are left alone); with `--server URL` they ask that server instead.
 *
 * `deploy` and `update` draw a progress bar on a terminal and print plain lines otherwise (logs, CI); Ctrl+C
 * cancels the job: its git or pip is killed and what it created is removed before the command exits.
 * What they do is in `handlers/deploy.ts`, loaded when one runs.
 */
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import { json, local, onUse, optionalText, orServer } from "./flags.ts"

const handlers = onUse(() => import("../handlers/deploy.ts"))

const common = { ...local, ...orServer }

export const versionsFlags = {
  ...common,
  json,
  refresh: Flag.Boolean("refresh").pipe(Flag.withDescription("Ask the remotes even if the cache is fresh"), Flag.withDefault(false))
}

export const versions = Command.make("versions", versionsFlags, (flags) => handlers((run) => run.versions(flags))).pipe(
  Command.withDescription("List the MaiBot versions that can be deployed, newest first")
)

export const deployFlags = {
  ...common,
  json,
  version: Argument.String("version").pipe(Argument.withDescription("latest, main, dev, or a tag such as 1.2.1 or 0.12.3")),
  name: Flag.String("name").pipe(Flag.withDescription("Instance name")),
  path: Flag.String("path").pipe(Flag.withDescription("Folder to deploy into (absent or empty; ~ is your home)")),
  port: Flag.Int("port").pipe(Flag.withDescription("MaiBot's port")),
  webuiPort: Flag.Int("webui-port").pipe(Flag.withDescription("MaiBot's WebUI port (default 8001)"), Flag.optional),
  service: Flag.String("service").pipe(
    Flag.withDescription("A service to install too: napcat-ada (the adapter), napcat; repeat for both"),
    Flag.atLeast(0)
  )
}

export const deploy = Command.make("deploy", deployFlags, (flags) => handlers((run) => run.deploy(flags))).pipe(
  Command.withDescription("Deploy a MaiBot version (with its adapter, NapCat) into a new folder and register it"),
  Command.withExamples([
    {
      command: "maikit deploy latest --name mai --path ~/MaiBot/Deployments/mai --port 8000 --service napcat-ada",
      description: "Today's MaiBot with its NapCat adapter"
    }
  ])
)

export const updateFlags = {
  ...common,
  json,
  id: Argument.String("id").pipe(Argument.withDescription("The instance's id")),
  version: Argument.String("version").pipe(Argument.withDescription("latest, main, dev or a tag"))
}

export const update = Command.make("update", updateFlags, (flags) => handlers((run) => run.update(flags))).pipe(
  Command.withDescription("Update a stopped instance to another version or branch, after a backup; any failure restores it")
)

export const backupsListFlags = { ...common, json, instance: optionalText("instance", "Only this instance's backups") }

const backupId = Argument.String("backup").pipe(Argument.withDescription("The backup's id (backup_…)"))
export const backupFlags = { ...common, id: backupId }

export const backups = Command.make("backups").pipe(
  Command.withDescription("Backups taken before instance updates"),
  Command.withSubcommands([
    Command.make("ls", backupsListFlags, (flags) => handlers((run) => run.backupsList(flags))).pipe(
      Command.withDescription("List backups"),
      Command.withAlias("list")
    ),
    Command.make("restore", backupFlags, (flags) => handlers((run) => run.backupsRestore(flags))).pipe(
      Command.withDescription("Put a backup back: code, config, data, the venv it kept, the instance's version")
    ),
    Command.make("rm", backupFlags, (flags) => handlers((run) => run.backupsRemove(flags))).pipe(
      Command.withDescription("Delete a backup and the venv it kept aside")
    )
  ])
)
