import { ResourceValidationPolicy } from "@pulumi/policy";
import { Finding, Props, TYPES, asArray, asString, isRecord, known, rule } from "./util";

const RESTART_POLICIES = new Set(["always", "unless-stopped", "on-failure"]);

export const healthAndRestart: ResourceValidationPolicy = rule<Record<string, never>>({
    name: "health-and-restart",
    description: "Every long-running container has a healthcheck and a restart policy (always, unless-stopped or on-failure).",
    config: {},
    types: [TYPES.container],
    check(props: Props): Finding[] {
        // One-shot containers (removed on exit, or not expected to keep running) are not services.
        if (known(() => props.rm) === true || known(() => props.mustRun) === false || known(() => props.start) === false) return [];
        const findings: Finding[] = [];
        const healthcheck = known(() => props.healthcheck);
        const tests = isRecord(healthcheck) ? asArray(known(() => healthcheck.tests)).filter((t): t is string => typeof t === "string") : [];
        if (tests.length === 0 || tests[0] === "NONE") {
            findings.push({
                problem: tests[0] === "NONE" ? "disables its healthcheck" : "has no healthcheck, so `wait` and the proxy cannot tell a hung service from a healthy one",
                fix: 'add healthcheck: { tests: ["CMD", ...], interval, timeout, retries, startPeriod }',
            });
        }
        const restart = asString(known(() => props.restart));
        if (restart === undefined || !RESTART_POLICIES.has(restart)) {
            findings.push({
                problem: `has restart policy "${restart ?? "no"}", so it stays down after a crash or a host reboot`,
                fix: 'set restart: "unless-stopped"',
            });
        }
        return findings;
    },
});

/** Host paths whose mount hands the container the host. */
function dangerousHostPath(p: string): string | undefined {
    const path = p.replace(/\/+$/, "") || "/";
    if (/(^|\/)docker\.sock$/.test(path)) return "the Docker socket";
    if (path === "/") return "the host's root filesystem";
    if (["/etc", "/proc", "/sys", "/boot", "/dev", "/root", "/var/lib/docker"].includes(path)) return `the host's ${path}`;
    return undefined;
}

export const noHostTakeover: ResourceValidationPolicy = rule<Record<string, never>>({
    name: "no-host-takeover",
    description: "No privileged containers, no host network, PID or IPC namespace, no added SYS_ADMIN/ALL capabilities, no Docker socket or host root mounts.",
    config: {},
    types: [TYPES.container],
    check(props: Props): Finding[] {
        const findings: Finding[] = [];
        if (known(() => props.privileged) === true) {
            findings.push({ problem: "runs privileged, which gives it every device and capability of the host", fix: "remove privileged: true" });
        }
        for (const [prop, what] of [
            ["networkMode", "network"],
            ["pidMode", "PID namespace"],
            ["ipcMode", "IPC namespace"],
            ["usernsMode", "user namespace"],
        ] as const) {
            if (asString(known(() => props[prop])) === "host") {
                findings.push({
                    problem: `shares the host's ${what} (${prop}: "host")`,
                    fix: prop === "networkMode" ? "remove networkMode and join the platform network (networksAdvanced)" : `remove ${prop}`,
                });
            }
        }
        const caps = known(() => props.capabilities);
        const adds = isRecord(caps) ? asArray(known(() => caps.adds)).filter((c): c is string => typeof c === "string") : [];
        const bad = adds.filter((c) => /^(CAP_)?(ALL|SYS_ADMIN|SYS_MODULE|SYS_PTRACE|SYS_RAWIO|DAC_READ_SEARCH)$/i.test(c));
        if (bad.length > 0) findings.push({ problem: `adds the capabilities ${bad.join(", ")}, enough to escape to the host`, fix: "remove them from capabilities.adds" });
        const hostPaths: string[] = [];
        for (const m of asArray(known(() => props.mounts))) {
            if (isRecord(m) && asString(m.type) === "bind" && asString(m.source)) hostPaths.push(asString(m.source) ?? "");
        }
        for (const v of asArray(known(() => props.volumes))) {
            if (isRecord(v) && asString(v.hostPath)) hostPaths.push(asString(v.hostPath) ?? "");
        }
        for (const p of hostPaths) {
            const what = dangerousHostPath(p);
            if (what) findings.push({ problem: `mounts ${what} (${p}), which lets it control the host`, fix: `remove the mount of ${p}` });
        }
        return findings;
    },
});
