import { strict as assert } from "node:assert";
import * as net from "node:net";
import { BASELINE_DAEMON, compareApiVersions, connectionOf, detectDaemon, supportsStartInterval } from "../../../lib/docker/daemon";
import { healthcheckInput } from "../../../lib/docker/healthcheck";

describe("the Docker daemon's API version, where an input needs it", () => {
    it("compares API versions numerically", () => {
        assert.ok(compareApiVersions("1.41", "1.44") < 0);
        assert.ok(compareApiVersions("1.44", "1.44") === 0);
        assert.ok(compareApiVersions("1.100", "1.44") > 0, "1.100 is newer than 1.44, not older as a string compare says");
        assert.equal(supportsStartInterval({ apiVersion: "1.41" }), false);
        assert.equal(supportsStartInterval({ apiVersion: "1.44" }), true);
        assert.equal(supportsStartInterval({ apiVersion: "1.51" }), true);
    });

    it("writes startInterval only for a daemon that accepts it, every duration in Go's form", () => {
        const spec = { test: ["CMD", "true"], intervalSeconds: 10, timeoutSeconds: 10, retries: 3, startPeriodSeconds: 60, startIntervalSeconds: 2 };
        assert.deepEqual(healthcheckInput(spec, { apiVersion: "1.41" }), { tests: ["CMD", "true"], interval: "10s", timeout: "10s", retries: 3, startPeriod: "1m0s" });
        assert.deepEqual(healthcheckInput(spec, { apiVersion: "1.44" }), { tests: ["CMD", "true"], interval: "10s", timeout: "10s", retries: 3, startPeriod: "1m0s", startInterval: "2s" });
    });

    it("reads docker:host the way the provider does (unix, tcp, ssh) and names a bad one", () => {
        assert.deepEqual(connectionOf("unix:///run/docker-sw1.sock"), { socketPath: "/run/docker-sw1.sock" });
        assert.deepEqual(connectionOf("tcp://10.0.0.5:2376"), { host: "10.0.0.5", port: 2376, protocol: "http" });
        assert.equal(connectionOf(undefined), undefined);
        assert.throws(() => connectionOf("ftp://x"), /not a unix:\/\/, tcp:\/\/ or ssh:\/\/ address/);
    });

    it("a daemon that does not answer gives the baseline, saying why, instead of failing the program", async () => {
        // A socket path nobody listens on.
        const d = await detectDaemon("unix:///nonexistent/cartie-test.sock", 1000);
        assert.equal(d.apiVersion, BASELINE_DAEMON.apiVersion);
        assert.match(d.detectedBy ?? "", /^assumed API 1\.41: the daemon did not answer/);
    });

    it("asks a daemon its version over the Engine API", async () => {
        // A one-request Engine API stand-in on a local socket: GET /version answers ApiVersion.
        const sock = `/tmp/cartie-daemon-test-${process.pid}.sock`;
        const server = net.createServer((c) =>
            c.once("data", () => {
                const body = JSON.stringify({ ApiVersion: "1.47", Version: "27.0.0" });
                c.end(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
            }),
        );
        await new Promise<void>((r) => server.listen(sock, r));
        try {
            const d = await detectDaemon(`unix://${sock}`, 2000);
            assert.equal(d.apiVersion, "1.47");
        } finally {
            server.close();
        }
    });
});

describe("the docker CLI runner", () => {
    it("a program that exits without reading its input is no error: its exit code says what happened", async () => {
        const { run } = await import("../../../lib/docker/cli");
        // `true` exits at once; writing a large input to it would raise EPIPE on the pipe.
        const r = await run("true", [], { input: "x".repeat(1 << 20) });
        assert.equal(r.code, 0);
    });
});
