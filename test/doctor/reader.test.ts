import * as assert from "node:assert/strict";
import * as tar from "tar-stream";
import { demuxLogs, publishedUrls, secretValuesOf, tagOfImage, untar, urlsInBundle } from "../../lib/doctor/dockerReader";
import { legacyService, roleOfService } from "../../lib/doctor/discover";
import { parseDotEnv, parseStackFile, schemaTables } from "../../lib/doctor/source";
import { parseArgs } from "../../lib/doctor/cli";
import { renderText } from "../../lib/doctor/render";
import { DoctorInputError } from "../../lib/doctor/errors";
import { DOCTOR_SCHEMA_VERSION } from "../../lib/doctor/types";
import type Docker from "dockerode";

function frame(stream: number, text: string): Buffer {
    const body = Buffer.from(text);
    const h = Buffer.alloc(8);
    h[0] = stream;
    h.writeUInt32BE(body.length, 4);
    return Buffer.concat([h, body]);
}

/** A real tar stream, as Docker's archive endpoint sends one. */
function tarOf(files: Record<string, string>): NodeJS.ReadableStream {
    const pack = tar.pack();
    for (const [name, content] of Object.entries(files)) pack.entry({ name }, content);
    pack.finalize();
    return pack as unknown as NodeJS.ReadableStream;
}

describe("doctor reader helpers", () => {
    it("demuxes Docker's framed log stream and leaves a TTY stream alone", () => {
        assert.equal(demuxLogs(Buffer.concat([frame(1, "out line\n"), frame(2, "err line\n")])), "out line\nerr line\n");
        assert.equal(demuxLogs(Buffer.from("plain tty\n")), "plain tty\n");
    });

    it("maps legacy compose names and services to roles", () => {
        assert.equal(legacyService("infra2-api-1", "infra2"), "api");
        assert.equal(legacyService("/infra2_db_1", "infra2"), "db");
        assert.equal(legacyService("infra22-api-1", "infra2"), undefined);
        assert.equal(roleOfService("postgres"), "db");
        assert.equal(roleOfService("caddy"), "proxy");
        assert.equal(roleOfService("worker"), "other");
    });

    it("collects secret values to mask: secret-named variables, URL passwords, never plain settings", () => {
        assert.deepEqual(secretValuesOf(["JWT_SECRET=abc123xyz", "DATABASE_URL=postgresql://u:p%40ss@db/x", "NODE_ENV=production"]), ["abc123xyz", "p@ss"]);
        assert.deepEqual(secretValuesOf(["JWT_SECRET=abc123xyz", "JWT_SECRET_PREVIOUS=prev456uvw"]), ["abc123xyz", "prev456uvw"], "the previous JWT secret of a rotation is masked too");
    });

    it("reads a content tag from an image reference", () => {
        assert.equal(tagOfImage("cartie-dev-api:0123456789abcdef"), "0123456789abcdef");
        assert.equal(tagOfImage("infra2-api:latest"), undefined);
    });

    it("reads files from a tar archive and URLs from a bundle", async () => {
        const files = await untar(tarOf({ "srv/assets/index-a.js": 'const b="http://localhost:3000/api";', "srv/index.html": "<html>" }));
        assert.deepEqual(files.map((f) => f.name), ["srv/assets/index-a.js", "srv/index.html"]);
        assert.deepEqual(urlsInBundle(files[0].data.toString()), ["http://localhost:3000/api"]);
    });

    it("finds the proxy's published URL", () => {
        const info = { NetworkSettings: { Ports: { "80/tcp": [{ HostIp: "0.0.0.0", HostPort: "8082" }], "443/tcp": null } } } as unknown as Docker.ContainerInspectInfo;
        assert.deepEqual(publishedUrls(info), ["http://127.0.0.1:8082"]);
    });
});

describe("doctor source and CLI", () => {
    it("reads cartie keys of a stack file, secure values as set but unknown", () => {
        const { values, encryptedKeys } = parseStackFile(
            ["config:", "  cartie:appRoot: examples/cartie", "  cartie:publicPort: 8082", "  cartie:jwtSecret:", "    secure: AAABAxyz", "  other:key: x"].join("\n"),
        );
        assert.deepEqual(values, { appRoot: { value: "examples/cartie", encrypted: false }, publicPort: { value: "8082", encrypted: false } });
        assert.deepEqual(encryptedKeys, ["jwtSecret"]);
    });

    it("parses .env without touching the environment", () => {
        assert.deepEqual(parseDotEnv("# c\nA=1\nexport B='two words'\n"), { A: "1", B: "two words" });
    });

    it("maps Prisma models to tables", () => {
        assert.deepEqual(schemaTables('model GlobalUser {\n  id String @id\n  @@map("users")\n}\nmodel Session {\n  id String @id\n}\n'), ["Session", "users"]);
    });

    it("parses flags and refuses bad ones with a DoctorInputError", () => {
        const a = parseArgs(["--stack", "prod", "--json", "-c", "cartie:apiBaseUrl=http://x/api", "--tail=20"], {});
        assert.equal(a.stack, "prod");
        assert.equal(a.json, true);
        assert.equal(a.tail, 20);
        assert.deepEqual(a.overrides, { "cartie:apiBaseUrl": "http://x/api" });
        assert.equal(parseArgs([], { PULUMI_STACK: "staging" }).stack, "staging");
        assert.equal(parseArgs(["--only-stack"], {}).onlyStack, true);
        assert.equal(parseArgs([], {}).onlyStack, undefined);
        assert.throws(() => parseArgs(["--bogus"], {}), DoctorInputError);
        assert.throws(() => parseArgs(["--stack"], {}), DoctorInputError);
        assert.throws(() => parseArgs(["--tail", "x"], {}), DoctorInputError);
    });

    it("renders a table, numbered findings and the verdict", () => {
        const text = renderText({
            schemaVersion: DOCTOR_SCHEMA_VERSION,
            stack: "dev",
            healthy: false,
            containers: [
                { id: "1", name: "cartie-dev-api", role: "api", origin: "stack", image: "cartie-dev-api:aaaa", state: "restarting", restartCount: 4, exitCode: 1, logLines: ["boom"], healthLog: [], envNames: [] },
            ],
            findings: [{ code: "RESTART_LOOP", severity: "error", role: "api", container: "cartie-dev-api", cause: "loops", fix: "fix it", pulumiUp: "replaces it" }],
            probes: [],
            notes: [],
        });
        assert.match(text, /CONTAINER\s+ROLE\s+STATE\s+HEALTH\s+RESTARTS\s+UP\s+IMAGE\s+SOURCE/);
        assert.match(text, / 1\. \[error\] RESTART_LOOP cartie-dev-api\n {4}cause: {5}loops/);
        assert.match(text, /UNHEALTHY: 1 error\./);
    });
});
