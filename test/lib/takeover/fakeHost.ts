import * as fs from "node:fs";
import { DbAddress, TakeoverHost } from "../../../lib/takeover/host";
import { ContainerFacts, VolumeProbe } from "../../../lib/takeover/types";
import { dataVolume, legacyApi, legacyDb, legacyWeb } from "./fixtures";

export const DUMP = ["-- PostgreSQL database dump", "COPY public.users (id) FROM stdin;", "a", "b", "\\.", "", "-- PostgreSQL database dump complete", ""].join("\n");

/** A host in memory: the legacy containers, what the steps called, and knobs for failures. */
export class FakeHost implements TakeoverHost {
    calls: string[] = [];
    containers: ContainerFacts[] = [legacyDb(), legacyApi(), legacyWeb()];
    pgVersion = "15";
    dumpText = DUMP;
    /** Polls of liveOnVolume that still report the old db after its removal. */
    lingering = 0;
    accepts = true;

    projectContainers = (): Promise<ContainerFacts[]> => Promise.resolve(this.containers.map((c) => ({ ...c })));
    volumeContainers = (): Promise<ContainerFacts[]> => Promise.resolve(this.containers.filter((c) => c.mounts.length > 0));
    volumeExists = (): Promise<boolean> => Promise.resolve(true);
    /** Folder of the volume holding the data directory. */
    dataSubdir = "";
    probes: string[][] = [];
    probeVolume = (_i: string, _v: string, subdirs: string[]): Promise<VolumeProbe> => {
        this.probes.push(subdirs);
        return Promise.resolve(dataVolume(this.pgVersion, this.dataSubdir));
    };
    serverVersion = (): Promise<string> => Promise.resolve("postgres (PostgreSQL) 15.10");
    checkPassword = (_i: string, _a: DbAddress, _p: string): Promise<boolean> => {
        this.calls.push("checkPassword");
        return Promise.resolve(this.accepts);
    };
    dump = (_i: string, at: DbAddress, _p: string, out: string): Promise<void> => {
        this.calls.push(`dump ${at.host} ${at.user}/${at.db}`);
        fs.writeFileSync(out, this.dumpText, { flag: "wx" });
        return Promise.resolve();
    };
    exists = (name: string): Promise<boolean> => Promise.resolve(this.containers.some((c) => c.name === name));
    liveOnVolume = (): Promise<string[]> => {
        if (this.lingering > 0) {
            this.lingering--;
            return Promise.resolve(["infra2-db-1"]);
        }
        return Promise.resolve(this.containers.filter((c) => c.live && c.mounts.length > 0).map((c) => c.name));
    };
    sleep = (): Promise<void> => Promise.resolve();

    stop(name: string, seconds: number, signal?: string): Promise<"stopped" | "gone"> {
        this.calls.push(`stop ${name} ${seconds}${signal ? ` ${signal}` : ""}`);
        const c = this.containers.find((x) => x.name === name);
        if (!c) return Promise.resolve("gone");
        c.live = false;
        c.state = "exited";
        return Promise.resolve("stopped");
    }

    remove(name: string): Promise<"removed" | "gone"> {
        this.calls.push(`rm ${name}`);
        const before = this.containers.length;
        this.containers = this.containers.filter((x) => x.name !== name);
        return Promise.resolve(before === this.containers.length ? "gone" : "removed");
    }
}

