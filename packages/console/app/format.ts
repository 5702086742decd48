/** Numbers and times as a person reads them, in the console's language. */
import { locale } from "./i18n.ts"

const localeTag = () => (locale.value === "zh" ? "zh-CN" : "en")

export const bytes = (value: number | null | undefined): string => {
  if (value === null || value === undefined) return "—"
  const units = ["B", "KB", "MB", "GB", "TB"]
  let amount = value
  let unit = 0
  while (amount >= 1024 && unit < units.length - 1) {
    amount /= 1024
    unit++
  }
  return `${amount.toFixed(amount >= 100 || unit === 0 ? 0 : 1)} ${units[unit]}`
}

export const rate = (bytesPerSecond: number) => `${bytes(bytesPerSecond)}/s`

export const percent = (value: number | null | undefined) =>
  value === null || value === undefined ? "—" : `${value.toFixed(value >= 10 ? 0 : 1)}%`

export const duration = (seconds: number | null | undefined): string => {
  if (seconds === null || seconds === undefined || seconds <= 0) return "—"
  const s = Math.floor(seconds)
  const days = Math.floor(s / 86400)
  const hours = Math.floor((s % 86400) / 3600)
  const minutes = Math.floor((s % 3600) / 60)
  const rest = s % 60
  const zh = locale.value === "zh"
  if (days > 0) return zh ? `${days}天${hours}小时` : `${days}d ${hours}h`
  if (hours > 0) return zh ? `${hours}小时${minutes}分` : `${hours}h ${minutes}m`
  if (minutes > 0) return zh ? `${minutes}分${rest}秒` : `${minutes}m ${rest}s`
  return zh ? `${rest}秒` : `${rest}s`
}

/** The control plane writes naive UTC (`2025-12-02T10:30:00.123456`), as the original did. */
const zoned = (iso: string) => (/T[\d:.]+$/.test(iso) ? `${iso}Z` : iso)

export const dateTime = (iso: string | null | undefined): string => {
  if (iso === null || iso === undefined || iso === "") return "—"
  const date = new Date(zoned(iso))
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString(localeTag())
}

export const time = (iso: string | number): string => {
  const date = new Date(iso)
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleTimeString(localeTag())
}
