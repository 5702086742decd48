/**
 * The `Host` and origin rules of every MaiKit server (`internal/browserPolicy.ts`), case by case. The servers
 * that apply them are probed over real HTTP in MaikitServer.test.ts, StatusRelayFastLane.test.ts and the CLI's
 * foreignPages.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import { MaikitConfig } from "@maikit/core/platform"
import * as BrowserPolicy from "../src/internal/browserPolicy.ts"

const loopbackOnly = BrowserPolicy.make({ hasToken: false, boundHost: "127.0.0.1" })

describe("the Host allow-list", () => {
  it("answers loopback names and addresses on any port, and nothing else by default", () => {
    for (const host of ["localhost", "localhost:23456", "LOCALHOST:1", "localhost.:80", "127.0.0.1:8045", "127.1.2.3", "[::1]:23456", "[::1]", "tauri.localhost", "a.b.localhost:5173", "[::ffff:127.0.0.1]:9"]) {
      assert.isTrue(loopbackOnly.hostAllowed(host), host)
    }
    for (const host of ["evil.example", "evil.example:23456", "localhost.evil.example", "127.0.0.1.evil.example", "192.168.1.5:23456", "[::2]:1", "0.0.0.0:23456", "notlocalhost", ""]) {
      assert.isFalse(loopbackOnly.hostAllowed(host), host)
    }
  })

  it("allows a request without Host: only clients that are not browsers omit it (HTTP/1.0)", () => {
    assert.isTrue(loopbackOnly.hostAllowed(undefined))
  })

  it("answers the address it listens on and the configured names", () => {
    const lan = BrowserPolicy.make({ hasToken: true, boundHost: "192.168.1.5", allowedHosts: ["maikit.lan", ".example.com", "*.corp.test", "[fe80::1]"] })
    for (const host of ["192.168.1.5:23456", "maikit.lan", "MAIKIT.LAN:80", "example.com", "a.example.com:1", "x.corp.test", "[fe80::1]:23456", "localhost:1"]) {
      assert.isTrue(lan.hostAllowed(host), host)
    }
    for (const host of ["corp.test", "example.com.evil.test", "badexample.com", "maikit.lan.evil.test", "192.168.1.6"]) {
      assert.isFalse(lan.hostAllowed(host), host)
    }
    assert.isTrue(BrowserPolicy.make({ hasToken: false, allowedHosts: ["*"] }).hostAllowed("anything.example"))
  })

  it("on a wildcard address with a token and no list, the token is the gate; a list still applies when set", () => {
    for (const boundHost of ["0.0.0.0", "::"]) {
      assert.isTrue(BrowserPolicy.make({ hasToken: true, boundHost }).hostAllowed("evil.example"), boundHost)
      assert.isFalse(BrowserPolicy.make({ hasToken: false, boundHost }).hostAllowed("evil.example"), `${boundHost} without a token`)
      const listed = BrowserPolicy.make({ hasToken: true, boundHost, allowedHosts: ["maikit.lan"] })
      assert.isTrue(listed.hostAllowed("maikit.lan:23456"))
      assert.isTrue(listed.hostAllowed("127.0.0.1:23456"))
      assert.isFalse(listed.hostAllowed("evil.example"))
      assert.isFalse(listed.hostAllowed("0.0.0.0:23456"))
    }
  })

  it("a host's own server (no listening address) answers loopback and its list", () => {
    const embedded = BrowserPolicy.make({ hasToken: true, allowedHosts: ["app.example.com"] })
    assert.isTrue(embedded.hostAllowed("app.example.com"))
    assert.isTrue(embedded.hostAllowed("localhost:8080"))
    assert.isFalse(embedded.hostAllowed("other.example.com"))
  })
})

describe("the origin rules", () => {
  it("by default: the launcher's real clients on loopback and in Tauri, on any port", () => {
    for (const origin of ["http://localhost:5173", "http://localhost", "http://127.0.0.1:8080", "http://[::1]:3000", "https://localhost:5173", "tauri://localhost", "http://tauri.localhost", "https://tauri.localhost"]) {
      assert.isTrue(loopbackOnly.originAllowed(origin, "127.0.0.1:23456"), origin)
    }
    for (const origin of ["http://evil.example", "null", "http://localhost.evil.example:5173", "http://127.0.0.1.evil.example", "file://", "tauri://evil", "http://tauri.localhost.evil.example", "ws://localhost:1", "http://192.168.1.5:5173"]) {
      assert.isFalse(loopbackOnly.originAllowed(origin, "127.0.0.1:23456"), origin)
    }
  })

  it("pages the server serves itself are same-origin, on the Host they were served under", () => {
    const policy = BrowserPolicy.make({ hasToken: true, boundHost: "0.0.0.0", allowedOrigins: [] })
    assert.isTrue(policy.originAllowed("http://maikit.lan:23456", "maikit.lan:23456"))
    assert.isTrue(policy.originAllowed("https://maikit.lan", "maikit.lan:443"))
    assert.isTrue(policy.originAllowed("http://[fe80::1]:23456", "[fe80::1]:23456"))
    assert.isFalse(policy.originAllowed("http://maikit.lan:5173", "maikit.lan:23456"))
    assert.isFalse(policy.originAllowed("http://localhost:5173", "maikit.lan:23456"), "an empty list allows no other origin")
    assert.isFalse(policy.originAllowed("http://maikit.lan:23456", undefined))
  })

  it("the defaults and the documented entry forms are valid configuration", () => {
    for (const origin of MaikitConfig.defaultAllowedOrigins) assert.isDefined(BrowserPolicy.parseOrigin(origin), origin)
    assert.isUndefined(BrowserPolicy.parseOrigin("localhost:5173"))
    assert.isUndefined(BrowserPolicy.parseOrigin("http://localhost:5173/path"))
    assert.deepStrictEqual(BrowserPolicy.parseOrigin("HTTPS://Console.Example.com:443"), {
      scheme: "https",
      host: "console.example.com",
      port: ""
    })
  })
})
