import type { ComponentProcess } from "@maikit/core/launcher"

const exitText = (exit: ComponentProcess.ExitInfo | null): string =>
  exit === null ? "" : exit.signal === null ? `（退出码 ${exit.code}）` : `（被 ${exit.signal} 结束）`

/** A component's status as one line for a terminal or a log (the original's status messages are Chinese). */
export const describe = (status: ComponentProcess.ComponentStatus): string => {
  const pid = status.pid === null ? "" : `（PID ${status.pid}）`
  switch (status.state) {
    case "starting":
      return `${status.name} 正在启动${pid}`
    case "running":
      return `${status.name} 运行中${pid}`
    case "stopping":
      return `${status.name} 正在停止${pid}`
    case "stopped":
      return `${status.name} 已停止${exitText(status.lastExit)}`
    case "backing-off":
      return `${status.name} 异常退出${exitText(status.lastExit)}，${status.restartDelayMs ?? 0} ms 后重启`
    case "errored":
      return `${status.name} 出错${status.message === null ? "" : `: ${status.message}`}`
  }
}
