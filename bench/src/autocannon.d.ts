declare module "autocannon" {
  interface Options {
    readonly url: string
    readonly method?: string
    readonly connections?: number
    readonly duration?: number
    readonly body?: string
    readonly headers?: Record<string, string>
  }
  interface Histogram {
    readonly average: number
    readonly p50: number
    readonly p99: number
  }
  interface Result {
    readonly requests: Histogram
    readonly latency: Histogram
    readonly non2xx: number
    readonly errors: number
    readonly "2xx": number
  }
  function autocannon(options: Options): Promise<Result>
  export default autocannon
}
