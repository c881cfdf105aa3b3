import * as assert from "node:assert/strict";
import { ResourceValidationPolicy } from "@pulumi/policy";
import { policies } from "../../policies/rules";
import { TYPES } from "../../policies/util";
import { validStackConfig } from "../support/mockRuntime";
import { LABELS } from "../../lib/docker/labels";
import { PackResource, changed, editEnvs, find, isWireSecret, leakedSecret, plaintext, programResources, setLabel, validate } from "./support";

function policy(name: string): ResourceValidationPolicy {
    const p = policies.find((x) => x.name === name);
    assert.ok(p && "validateResource" in p, `policy ${name} exists`);
    return p;
}

/** Runs one rule over one resource and checks that nothing it says leaks a secret. */
async function check(name: string, res: PackResource, config: Record<string, unknown> = {}): Promise<string[]> {
    const messages = await validate(policy(name), res, config);
    assert.equal(leakedSecret(messages), undefined, "a violation message printed a secret value");
    return messages;
}

function assertOne(messages: string[], ...parts: (string | RegExp)[]): void {
    assert.equal(messages.length, 1, `expected one violation, got ${messages.length}:\n${messages.join("\n")}`);
    for (const p of parts) {
        if (typeof p === "string") assert.ok(messages[0].includes(p), `message should mention ${p}:\n${messages[0]}`);
        else assert.match(messages[0], p);
    }
}

describe("cartie-guard rules (each as the analyzer calls it)", () => {
    let all: PackResource[];
    const get = (type: string, name: string): PackResource => find(all, type, name);

    before(async () => {
        ({ resources: all } = await programResources());
    });

    it("has the eleven rules, each with a description, mandatory by default but the backup advisory", () => {
        assert.deepEqual(
            policies.map((p) => p.name),
            [
                "required-secrets",
                "secrets-are-secret",
                "no-secrets-in-images",
                "data-is-protected",
                "only-the-proxy-is-public",
                "pinned-images",
                "health-and-restart",
                "forward-only-migrations",
                "backups-before-migrations",
                "no-host-takeover",
                "public-proxy-serves-https",
            ],
        );
        for (const p of policies) {
            assert.equal(p.enforcementLevel, p.name === "backups-before-migrations" ? "advisory" : "mandatory", p.name);
            assert.ok(p.description.length > 20, p.name);
        }
    });

    describe("required-secrets", () => {
        it("passes the program's api and db containers and its db-password step", async () => {
            assert.deepEqual(await check("required-secrets", get(TYPES.container, "cartie-dev-api")), []);
            assert.deepEqual(await check("required-secrets", get(TYPES.container, "db")), []);
            assert.deepEqual(await check("required-secrets", get(TYPES.localCommand, "db-password")), []);
        });

        it("the db container: POSTGRES_PASSWORD_FILE stands for POSTGRES_PASSWORD; neither is refused", async () => {
            const db = changed(get(TYPES.container, "db"), (r) => editEnvs(r, (l) => l.filter((e) => !e.startsWith("POSTGRES_PASSWORD_FILE="))));
            assertOne(await check("required-secrets", db), 'docker:Container "db"', "does not set POSTGRES_PASSWORD in its environment (envs)");
        });

        it("names a missing SEED_SUPERADMIN_PASSWORD and how to set it", async () => {
            const api = changed(get(TYPES.container, "cartie-dev-api"), (r) => editEnvs(r, (l) => l.filter((e) => !e.startsWith("SEED_SUPERADMIN_PASSWORD="))));
            assertOne(await check("required-secrets", api), 'docker:Container "cartie-dev-api"', "does not set SEED_SUPERADMIN_PASSWORD", "pulumi config set --secret cartie:seedSuperadminPassword");
        });

        it("refuses empty and placeholder values without printing them", async () => {
            const step = changed(get(TYPES.localCommand, "db-password"), (r) => {
                const env = r.wire.environment as Record<string, unknown>;
                env.POSTGRES_PASSWORD = isWireSecret(env.POSTGRES_PASSWORD) ? { ...env.POSTGRES_PASSWORD, value: "" } : "";
            });
            assertOne(await check("required-secrets", step), 'command:Command "db-password"', "POSTGRES_PASSWORD to an empty value");
            const api = changed(get(TYPES.container, "cartie-dev-api"), (r) =>
                editEnvs(r, (l) =>
                    l.map((e) =>
                        e.startsWith("JWT_SECRET=") ? "JWT_SECRET=changeme" : e.startsWith("DATABASE_URL=") ? "DATABASE_URL=postgresql://cartie:changeme@db:5432/cartie" : e,
                    ),
                ),
            );
            const messages = await check("required-secrets", api);
            assert.equal(messages.length, 2, messages.join("\n"));
            assert.ok(messages.some((m) => m.includes("JWT_SECRET to a placeholder value")), messages.join("\n"));
            assert.ok(messages.some((m) => m.includes("DATABASE_URL to a URL whose password is a placeholder")), messages.join("\n"));
            assert.ok(messages.every((m) => !m.includes("changeme")), messages.join("\n"));
        });

        it("holds JWT_SECRET_PREVIOUS, when the api has it, to the same standard; without it the api passes", async () => {
            const withPrevious = (value: string): PackResource =>
                changed(get(TYPES.container, "cartie-dev-api"), (r) => editEnvs(r, (l) => [...l, `JWT_SECRET_PREVIOUS=${value}`]));
            assert.deepEqual(await check("required-secrets", withPrevious(`previous-${"k".repeat(40)}-7Q`)), []);
            assertOne(await check("required-secrets", withPrevious("changeme")), "JWT_SECRET_PREVIOUS to a placeholder value", "pulumi config set --secret cartie:jwtSecretPrevious", "or remove cartie:jwtSecretPrevious");
            assertOne(await check("required-secrets", withPrevious("")), "JWT_SECRET_PREVIOUS to an empty value");
            // Only on the api: the db has no use for it and is not asked about it.
            const db = changed(get(TYPES.container, "db"), (r) => editEnvs(r, (l) => [...l, "JWT_SECRET_PREVIOUS=changeme"]));
            assert.deepEqual(await check("required-secrets", db), []);
        });
    });

    describe("secrets-are-secret", () => {
        it("passes containers and commands that mark their environment secret", async () => {
            assert.deepEqual(await check("secrets-are-secret", get(TYPES.container, "cartie-dev-api")), []);
            assert.deepEqual(await check("secrets-are-secret", get(TYPES.container, "db")), []);
            const migration = changed(get(TYPES.localCommand, "migration"), (r) => r.additionalSecretOutputs.push("environment"));
            assert.deepEqual(await check("secrets-are-secret", migration), []);
            assert.deepEqual(await check("secrets-are-secret", get(TYPES.localCommand, "verification")), []);
        });

        it("catches a secret environment passed as plaintext, naming the variables and not their values", async () => {
            const api = changed(get(TYPES.container, "cartie-dev-api"), (r) => {
                plaintext(r);
                r.additionalSecretOutputs = [];
            });
            assertOne(await check("secrets-are-secret", api), 'docker:Container "cartie-dev-api"', "DATABASE_URL, JWT_SECRET, SEED_SUPERADMIN_PASSWORD", 'additionalSecretOutputs: ["envs"]');
            const rotating = changed(get(TYPES.container, "cartie-dev-api"), (r) => {
                editEnvs(r, (l) => [...l, `JWT_SECRET_PREVIOUS=previous-${"k".repeat(40)}-7Q`]);
                plaintext(r);
                r.additionalSecretOutputs = [];
            });
            assertOne(await check("secrets-are-secret", rotating), "JWT_SECRET_PREVIOUS");
        });

        it("catches a command whose POSTGRES_PASSWORD is not a secret output", async () => {
            const step = changed(get(TYPES.localCommand, "db-password"), (r) => {
                r.additionalSecretOutputs = ["stdout", "stderr"];
            });
            assertOne(await check("secrets-are-secret", step), 'command:Command "db-password"', "POSTGRES_PASSWORD", '"environment" is not a secret output');
        });

        it("catches a command whose DATABASE_URL (a URL with a password) is not a secret output", async () => {
            const migration = changed(get(TYPES.localCommand, "migration"), (r) => {
                r.additionalSecretOutputs = ["stdout", "stderr"];
                (r.wire.environment as Record<string, unknown>).DATABASE_URL = "postgresql://cartie:a-real-looking-pw@db:5432/cartie";
            });
            assertOne(await check("secrets-are-secret", migration), 'command:Command "migration"', "DATABASE_URL", '"environment" is not a secret output');
        });

        it("sees only the option: the analyzer unwraps pulumi.secret, so the wrapper alone proves nothing", async () => {
            // Wrapped as a secret on the wire but without the option: flagged (the policy cannot see the wrapper).
            const wrappedOnly = changed(get(TYPES.container, "cartie-dev-api"), (r) => (r.additionalSecretOutputs = []));
            assert.equal((await check("secrets-are-secret", wrappedOnly)).length, 1);
            // Plaintext on the wire but with the option: passes (the limit of what a pack can see).
            const optionOnly = changed(get(TYPES.container, "cartie-dev-api"), plaintext);
            assert.deepEqual(await check("secrets-are-secret", optionOnly), []);
        });
    });

    describe("no-secrets-in-images", () => {
        it("passes the program's images (VITE_API_BASE_URL is a public URL)", async () => {
            assert.deepEqual(await check("no-secrets-in-images", get(TYPES.image, "web-image")), []);
            assert.deepEqual(await check("no-secrets-in-images", get(TYPES.image, "api-image")), []);
        });

        it("catches a secret build arg and a secret-looking VITE_ value", async () => {
            const api = changed(get(TYPES.image, "api-image"), (r) => {
                (r.wire.build as { args: Record<string, string> }).args.NPM_TOKEN = "npm-token-value-123";
            });
            assertOne(await check("no-secrets-in-images", api), 'docker:Image "api-image"', "build arg NPM_TOKEN carries a secret", "at runtime");
            const web = changed(get(TYPES.image, "web-image"), (r) => {
                (r.wire.build as { args: Record<string, string> }).args.VITE_API_BASE_URL = "https://admin:hunter2hunter2@api.example.org/api";
            });
            const messages = await check("no-secrets-in-images", web);
            assertOne(messages, "VITE_API_BASE_URL holds a secret-looking value", "public values");
            assert.ok(!messages[0].includes("hunter2"));
        });
    });

    describe("data-is-protected", () => {
        it("passes the protected data volume and the db mounting it at Postgres's data directory", async () => {
            assert.deepEqual(await check("data-is-protected", get(TYPES.volume, "db-data")), []);
            assert.deepEqual(await check("data-is-protected", get(TYPES.container, "db")), []);
        });

        it("passes the routes responder's unprotected records volume (the release writes them again), and only that one", async () => {
            const routes = get(TYPES.volume, "routes-data");
            assert.equal(routes.protect, false);
            assert.deepEqual(await check("data-is-protected", routes), []);
            const relabelled = changed(get(TYPES.volume, "db-data"), (r) => (r.protect = false));
            assert.equal((await check("data-is-protected", relabelled)).length, 1);
            const dbLabelled = changed(routes, (r) => {
                r.wire.labels = (r.wire.labels as Array<{ label: string; value: string }>).map((l) => (l.value === "routes-data" ? { ...l, value: "db-data" } : l));
            });
            assertOne(await check("data-is-protected", dbLabelled), "not protected");
        });

        it("catches an unprotected volume and a db without its data volume", async () => {
            const volume = changed(get(TYPES.volume, "db-data"), (r) => (r.protect = false));
            assertOne(await check("data-is-protected", volume), 'docker:Volume "db-data"', "not protected", "protect: true");
            const noMount = changed(get(TYPES.container, "db"), (r) => delete r.wire.mounts);
            assertOne(await check("data-is-protected", noMount), "nothing is mounted at /var/lib/postgresql/data");
            const bind = changed(get(TYPES.container, "db"), (r) => {
                r.wire.mounts = [{ type: "bind", source: "/srv/pg", target: "/var/lib/postgresql/data" }];
            });
            assertOne(await check("data-is-protected", bind), "bind mount");
        });
    });

    describe("only-the-proxy-is-public", () => {
        it("passes the program's containers (the proxy on its configured port and address)", async () => {
            for (const name of ["db", "cartie-dev-api", "cartie-dev-web", "proxy"]) assert.deepEqual(await check("only-the-proxy-is-public", get(TYPES.container, name)), [], name);
            assert.deepEqual(await check("only-the-proxy-is-public", get(TYPES.container, "proxy"), { publicPort: 8082, publicBind: "127.0.0.1" }), []);
        });

        it("catches a published db port and a proxy on every interface or another port", async () => {
            const db = changed(get(TYPES.container, "db"), (r) => (r.wire.ports = [{ internal: 5432, external: 5432 }]));
            assertOne(await check("only-the-proxy-is-public", db), 'docker:Container "db"', "publishes host port 5432->5432", "remove `ports`");
            const open = changed(get(TYPES.container, "proxy"), (r) => (r.wire.ports = [{ internal: 80, external: 8082 }]));
            assertOne(await check("only-the-proxy-is-public", open), 'docker:Container "proxy"', "binds to every interface");
            const moved = get(TYPES.container, "proxy");
            assertOne(await check("only-the-proxy-is-public", moved, { publicPort: 9090 }), "not the configured public port 9090");
        });
    });

    describe("only-the-proxy-is-public with TLS on (the proxy's tls label)", () => {
        const tlsProxy = (tls: string, ports: object[]): PackResource =>
            changed(find(all, TYPES.container, "proxy"), (r) => {
                setLabel(r, LABELS.tls, tls);
                r.wire.ports = ports;
            });

        it("passes the HTTP and HTTPS ports on the bind address, also the stack's own ports", async () => {
            const both = [
                { internal: 80, external: 80, ip: "0.0.0.0", protocol: "tcp" },
                { internal: 443, external: 443, ip: "0.0.0.0", protocol: "tcp" },
            ];
            assert.deepEqual(await check("only-the-proxy-is-public", tlsProxy("acme", both), { publicBind: "0.0.0.0" }), []);
            const own = [
                { internal: 8080, external: 8080, ip: "127.0.0.1" },
                { internal: 8443, external: 8443, ip: "127.0.0.1" },
            ];
            assert.deepEqual(await check("only-the-proxy-is-public", tlsProxy("internal", own), { httpPort: 8080, httpsPort: 8443 }), []);
        });

        it("catches the plain-HTTP single port, or a wrong listener, when TLS is on", async () => {
            assertOne(
                await check("only-the-proxy-is-public", tlsProxy("internal", [{ internal: 80, external: 8082, ip: "127.0.0.1" }])),
                "instead of exactly two (HTTP and HTTPS, tls internal)",
                "{ internal: 80, external: 80, ip: cartie:publicBind } and { internal: 443, external: 443, ip: cartie:publicBind }",
            );
            const wrong = tlsProxy("acme", [
                { internal: 80, external: 80, ip: "127.0.0.1" },
                { internal: 8443, external: 443, ip: "127.0.0.1" },
            ]);
            assertOne(await check("only-the-proxy-is-public", wrong), "publishes container port 127.0.0.1:443->8443, but Caddy listens on 80 and 443");
        });
    });

    describe("pinned-images", () => {
        it("passes pinned references and image ids", async () => {
            for (const [type, name] of [
                [TYPES.remoteImage, "db-image"],
                [TYPES.remoteImage, "proxy-image"],
                [TYPES.image, "api-image"],
                [TYPES.container, "db"],
                [TYPES.container, "cartie-dev-api"],
                [TYPES.tag, "migration-image"],
            ]) {
                assert.deepEqual(await check("pinned-images", get(type, name)), [], name);
            }
        });

        it("catches `latest` and a missing tag", async () => {
            const latest = changed(get(TYPES.remoteImage, "db-image"), (r) => (r.wire.name = "postgres:latest"));
            assertOne(await check("pinned-images", latest), 'docker:RemoteImage "db-image"', '"latest"', "cartie:postgresImage");
            const untagged = changed(get(TYPES.image, "web-image"), (r) => ((r.wire.build as { args: Record<string, string> }).args.RUNTIME_IMAGE = "caddy"));
            assertOne(await check("pinned-images", untagged), "build arg RUNTIME_IMAGE", "has no tag");
        });
    });

    describe("health-and-restart", () => {
        it("passes the program's four containers", async () => {
            for (const name of ["db", "cartie-dev-api", "cartie-dev-web", "proxy"]) assert.deepEqual(await check("health-and-restart", get(TYPES.container, name)), [], name);
        });

        it("catches a container without a healthcheck or a restart policy", async () => {
            const web = changed(get(TYPES.container, "cartie-dev-web"), (r) => {
                delete r.wire.healthcheck;
                delete r.wire.restart;
            });
            const messages = await check("health-and-restart", web);
            assert.equal(messages.length, 2);
            assert.ok(messages[0].includes('docker:Container "cartie-dev-web": has no healthcheck'));
            assert.ok(messages[1].includes('restart policy "no"') && messages[1].includes('restart: "unless-stopped"'));
        });
    });

    describe("forward-only-migrations", () => {
        it("passes the program's migration and verification commands", async () => {
            assert.deepEqual(await check("forward-only-migrations", get(TYPES.localCommand, "migration")), []);
            assert.deepEqual(await check("forward-only-migrations", get(TYPES.localCommand, "verification")), []);
        });

        it("catches reset, data-loss pushes and DROP statements", async () => {
            for (const create of ["npx prisma migrate reset --force", "npx prisma db push --accept-data-loss", "psql -c 'DROP TABLE users'", "prisma migrate reset --force-reset"]) {
                const bad = changed(get(TYPES.localCommand, "migration"), (r) => (r.wire.create = create));
                const messages = await check("forward-only-migrations", bad);
                assertOne(messages, 'command:Command "migration"', "its create command runs", "migrate forward only");
            }
        });
    });

    describe("backups-before-migrations (advisory)", () => {
        it("passes the program's migration, which backs up first by default, and every other command", async () => {
            assert.deepEqual(await check("backups-before-migrations", get(TYPES.localCommand, "migration")), []);
            assert.deepEqual(await check("backups-before-migrations", get(TYPES.localCommand, "verification")), []);
        });

        it("reports a stack that switches pre-migration backups off, as the program registers it", async () => {
            const { resources } = await programResources(validStackConfig({ "cartie:preMigrationBackup": "false" }));
            assertOne(
                await check("backups-before-migrations", find(resources, TYPES.localCommand, "migration")),
                'command:Command "migration"',
                "pre-migration backups are switched off (CARTIE_PRE_MIGRATION_BACKUP=false)",
                "pulumi config set cartie:preMigrationBackup true",
            );
        });

        it("reports a migration command that does not say whether it backs up", async () => {
            const bare = changed(get(TYPES.localCommand, "migration"), (r) => {
                delete (r.wire.environment as Record<string, unknown>).CARTIE_PRE_MIGRATION_BACKUP;
            });
            assertOne(await check("backups-before-migrations", bare), "does not set CARTIE_PRE_MIGRATION_BACKUP");
        });
    });

    describe("no-host-takeover", () => {
        it("passes the program's four containers", async () => {
            for (const name of ["db", "cartie-dev-api", "cartie-dev-web", "proxy"]) assert.deepEqual(await check("no-host-takeover", get(TYPES.container, name)), [], name);
        });

        it("catches privileged, host network and a Docker socket mount", async () => {
            const api = changed(get(TYPES.container, "cartie-dev-api"), (r) => {
                r.wire.privileged = true;
                r.wire.networkMode = "host";
                r.wire.mounts = [{ type: "bind", source: "/var/run/docker.sock", target: "/var/run/docker.sock" }];
            });
            const messages = await check("no-host-takeover", api);
            assert.equal(messages.length, 3, messages.join("\n"));
            assert.ok(messages[0].includes("runs privileged"));
            assert.ok(messages[1].includes("shares the host's network"));
            assert.ok(messages[2].includes("the Docker socket"));
        });
    });

    it("skips a value that is unknown during preview instead of failing", async () => {
        const unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
        const db = changed(get(TYPES.container, "db"), (r) => (r.wire.image = unknown));
        assert.deepEqual(await check("pinned-images", db), []);
    });
});
