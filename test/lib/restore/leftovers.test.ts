import { strict as assert } from "node:assert";
import { describeLeftover, findLeftovers, formatMarker, isOrphanedRun, parseMarker, RUN_VARIABLE } from "../../../lib/restore/leftovers";
import { ProcessInfo } from "../../../lib/restore/procfs";

const me = { stack: "dev", pid: 500, startTicks: 9000, projectDir: "/srv/cartie" };
const dead = { stack: "dev", pid: 400, startTicks: 8000, projectDir: "/srv/cartie" };
const proc = (pid: number, command: string, marker?: typeof me): ProcessInfo => ({ pid, command, environ: marker ? { [RUN_VARIABLE]: formatMarker(marker) } : {} });

describe("what a killed restore left running", () => {
    it("a marker round-trips, even with | in the project directory", () => {
        const odd = { ...me, projectDir: "/srv/a|b" };
        assert.deepEqual(parseMarker(formatMarker(odd)), odd);
        assert.equal(parseMarker("garbage"), undefined);
        assert.equal(parseMarker(undefined), undefined);
    });

    it("leftovers are the processes of this stack and project whose restore is gone; never this run's, another stack's or another project's", () => {
        const processes = [
            proc(1, "/root/.cache/pulumi-v3.248.0/pulumi-language-nodejs 127.0.0.1:33325", dead),
            proc(2, "node --import tsx scripts/release.ts", dead),
            proc(3, "pulumi --stack dev up --yes", me),
            proc(4, "pulumi-resource-docker", { ...dead, stack: "prod" }),
            proc(5, "pulumi-resource-docker", { ...dead, projectDir: "/srv/other" }),
            proc(6, "bash"),
            proc(7, "pulumi-resource-command", { ...dead, pid: 401, startTicks: 8001 }),
        ];
        const alive = (m: typeof me): boolean => m.pid === 401;
        assert.deepEqual(findLeftovers(processes, me, alive).map((p) => p.pid), [1, 2]);
    });

    it("a migration container of a finished run is waited for; one of a live run or another stack is not ours", () => {
        const alive = (m: typeof me): boolean => m.pid === me.pid;
        assert.equal(isOrphanedRun(formatMarker(dead), me, alive), true);
        assert.equal(isOrphanedRun(formatMarker(me), me, alive), false);
        assert.equal(isOrphanedRun(formatMarker({ ...dead, stack: "prod" }), me, alive), false);
        assert.equal(isOrphanedRun(undefined, me, alive), false);
    });

    it("says what each leftover was doing", () => {
        assert.equal(describeLeftover(proc(2, "node --import tsx scripts/release.ts")), "pid 2: a release step (scripts/release.ts)");
        assert.equal(describeLeftover(proc(1, "/x/pulumi-language-nodejs 127.0.0.1:1")), "pid 1: the program (Pulumi's Node.js language host)");
        assert.equal(describeLeftover(proc(9, "/x/pulumi-resource-docker 127.0.0.1:1")), "pid 9: Pulumi's docker provider");
    });
});
