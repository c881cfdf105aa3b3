/**
 * Helpers of the doctor's real tests: tiny busybox containers that reproduce each failure
 * signature, named uniquely per run and removed afterwards.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as crypto from "node:crypto";
import { LABELS } from "../../../lib/docker/labels";

export const BUSYBOX = "local/busybox:1";

export function sh(cmd: string, args: string[], input?: string): { code: number; stdout: string; stderr: string } {
    const r = spawnSync(cmd, args, { encoding: "utf8", input, timeout: 120_000 });
    return { code: r.status ?? 1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

export function dockerOk(args: string[]): string {
    const r = sh("docker", args);
    if (r.code !== 0) throw new Error(`docker ${args.join(" ")} failed: ${r.stderr.trim()}`);
    return r.stdout.trim();
}

/** `local/busybox:1` as test/real/support/base-images.sh makes it (busybox-static + links + docker import), when missing. */
export function ensureBusybox(): void {
    if (sh("docker", ["image", "inspect", BUSYBOX]).code === 0) return;
    const bin = ["/bin/busybox", "/usr/bin/busybox"].find((p) => fs.existsSync(p));
    if (!bin) throw new Error("busybox-static is not installed (apt-get install -y busybox-static)");
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "doctor-busybox-"));
    try {
        fs.mkdirSync(path.join(root, "bin"));
        fs.mkdirSync(path.join(root, "tmp"), { mode: 0o1777 });
        fs.mkdirSync(path.join(root, "etc"));
        fs.copyFileSync(bin, path.join(root, "bin/busybox"));
        fs.chmodSync(path.join(root, "bin/busybox"), 0o755);
        for (const applet of sh(bin, ["--list"]).stdout.split(/\s+/).filter((a) => a && a !== "busybox")) {
            fs.symlinkSync("busybox", path.join(root, "bin", applet));
        }
        fs.writeFileSync(path.join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n");
        fs.writeFileSync(path.join(root, "etc/group"), "root:x:0:\nnogroup:x:65534:\n");
        const r = spawnSync("sh", ["-c", `tar -C '${root}' -c . | docker import -c 'ENV PATH=/bin' -c 'CMD ["sh"]' - ${BUSYBOX}`], { encoding: "utf8" });
        // Another run may have imported it meanwhile: that is fine.
        if (r.status !== 0 && sh("docker", ["image", "inspect", BUSYBOX]).code !== 0) throw new Error(`docker import failed: ${r.stderr}`);
    } finally {
        fs.rmSync(root, { recursive: true, force: true });
    }
}

/** `docker run --label` flags that make a container one of `stack`'s, as the program labels them (lib/labels.ts), plus `extra`. */
export function stackLabels(stack: string, component: string, tag?: string, extra: Record<string, string> = {}): string[] {
    const labels: Record<string, string> = { [LABELS.project]: "cartie-platform", [LABELS.stack]: stack, [LABELS.component]: component, ...(tag ? { [LABELS.contentTag]: tag } : {}), ...extra };
    return Object.entries(labels).flatMap(([k, v]) => ["--label", `${k}=${v}`]);
}

export function uniqueId(): string {
    return crypto.randomBytes(4).toString("hex");
}

/** Tracks what a test file creates, so `after` removes all of it, even on failure. */
export class Created {
    readonly containers: string[] = [];

    run(name: string, args: string[], command: string[]): string {
        this.containers.push(name);
        return dockerOk(["run", "-d", "--name", name, ...args, BUSYBOX, ...command]);
    }

    cleanup(): void {
        if (this.containers.length > 0) sh("docker", ["rm", "-f", "-v", ...this.containers]);
    }
}

export interface State {
    Status: string;
    Restarting: boolean;
    Health?: { Status: string };
}

export function inspectState(name: string): { state: State; restartCount: number } {
    const out = dockerOk(["inspect", "--format", "{{json .State}}|{{.RestartCount}}", name]);
    const [json, count] = out.split("|");
    return { state: JSON.parse(json) as State, restartCount: Number(count) };
}

export async function waitFor(what: string, check: () => boolean, timeoutMs = 60_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
        if (check()) return;
        await new Promise((r) => setTimeout(r, 300));
    }
    throw new Error(`timed out waiting for ${what}`);
}

/** A fake `psql` for a busybox "db": answers the doctor's STATE_QUERY and HISTORY_QUERY from canned rows. */
export function fakePsql(tables: string[], history: string[] | undefined): string {
    const stateRows = [...tables.map((t) => `table|${t}||`), ...(history ? ["history-table|_prisma_migrations||"] : [])].join("\\n");
    const historyRows = (history ?? []).map((m) => `migration|${m}|true|false`).join("\\n");
    return [
        "#!/bin/sh",
        'sql="$(cat)"',
        'case "$sql" in',
        `  *information_schema*) printf '${stateRows}\\n' ;;`,
        `  *_prisma_migrations*) printf '${historyRows}\\n' ;;`,
        "esac",
    ].join("\n");
}

/** Shell that installs `$SCRIPT` at `path` (executable) and then runs `then`. */
export function installScript(scriptPath: string, then: string): string[] {
    return ["sh", "-c", `printf '%s\\n' "$SCRIPT" > ${scriptPath} && chmod +x ${scriptPath} && ${then}`];
}

export interface ApiSecrets {
    postgresPassword: string;
    jwtSecret: string;
    seedSuperadminPassword: string;
}

/**
 * `docker run -e` flags giving a stand-in api the environment the platform gives the real one;
 * `omit` leaves variables out (the missing-variable cases), `schema: false` drops `?schema=public`.
 */
export function apiEnvFlags(s: ApiSecrets, opts: { omit?: string[]; schema?: boolean } = {}): string[] {
    const env: Array<[string, string]> = [
        ["DATABASE_URL", `postgresql://cartie:${s.postgresPassword}@db:5432/cartie${opts.schema === false ? "" : "?schema=public"}`],
        ["JWT_SECRET", s.jwtSecret],
        ["SEED_SUPERADMIN_PASSWORD", s.seedSuperadminPassword],
        ["SEED_SUPERADMIN_EMAIL", "admin@cartie.local"],
    ];
    return env.filter(([k]) => !(opts.omit ?? []).includes(k)).flatMap(([k, v]) => ["-e", `${k}=${v}`]);
}
