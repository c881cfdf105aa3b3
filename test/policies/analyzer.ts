import { ChildProcess, spawn } from "node:child_process";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { AnalyzerClient } from "@pulumi/pulumi/proto/analyzer_grpc_pb";
import {
    AnalyzeDiagnostic,
    AnalyzeResponse,
    AnalyzerInfo,
    AnalyzerStackConfigureRequest,
    ConfigureAnalyzerRequest,
    EnforcementLevel,
    PolicyConfig,
} from "@pulumi/pulumi/proto/analyzer_pb";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { PackResource, analyzeRequest } from "./support";

/** The repository's pack. */
export const PACK_DIR = path.resolve(__dirname, "../../policies");

export interface Diagnostic {
    policy: string;
    level: "advisory" | "mandatory" | "other";
    message: string;
    urn: string;
}

function toDiagnostic(d: AnalyzeDiagnostic, urn: string): Diagnostic {
    const level = d.getEnforcementlevel();
    return {
        policy: d.getPolicyname(),
        level: level === EnforcementLevel.MANDATORY ? "mandatory" : level === EnforcementLevel.ADVISORY ? "advisory" : "other",
        message: d.getMessage(),
        urn: d.getUrn() || urn,
    };
}

/** Starts a pack's `index.ts` the way the engine starts a pack (its folder as working directory) and returns its port (printed on stdout). */
function startPack(packDir: string): Promise<{ child: ChildProcess; port: number }> {
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, ["--import", "tsx", "index.ts"], { cwd: packDir, stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        let err = "";
        const timer = setTimeout(() => reject(new Error(`policy pack did not print a port within 15 s; stderr:\n${err}`)), 15000);
        child.stdout.on("data", (b: Buffer) => {
            out += b.toString();
            const m = /^(\d+)\s*$/m.exec(out);
            if (m) {
                clearTimeout(timer);
                resolve({ child, port: Number(m[1]) });
            }
        });
        child.stderr.on("data", (b: Buffer) => (err += b.toString()));
        child.on("exit", (code) => {
            clearTimeout(timer);
            reject(new Error(`policy pack exited with ${code}; stderr:\n${err}`));
        });
    });
}

/** A running pack and a client talking to it as the engine does. */
export class PackServer {
    private constructor(
        private readonly child: ChildProcess,
        private readonly client: AnalyzerClient,
    ) {}

    static async start(packDir: string = PACK_DIR): Promise<PackServer> {
        const { child, port } = await startPack(packDir);
        const server = new PackServer(child, new AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure()));
        // The engine sends the stack's tags first.
        await new Promise<void>((resolve, reject) => server.client.configureStack(new AnalyzerStackConfigureRequest(), (e) => (e ? reject(e) : resolve())));
        return server;
    }

    analyze(res: PackResource): Promise<Diagnostic[]> {
        return new Promise((resolve, reject) => {
            this.client.analyze(analyzeRequest(res), (e: grpc.ServiceError | null, resp?: AnalyzeResponse) => {
                if (e || !resp) reject(e ?? new Error("no response"));
                else resolve(resp.getDiagnosticsList().map((d) => toDiagnostic(d, res.urn)));
            });
        });
    }

    info(): Promise<AnalyzerInfo> {
        return new Promise<AnalyzerInfo>((resolve, reject) =>
            this.client.getAnalyzerInfo(new Empty(), (e: grpc.ServiceError | null, r?: AnalyzerInfo) => (e || !r ? reject(e ?? new Error("no info")) : resolve(r))),
        );
    }

    /** What `--policy-pack-config` sends: a level (and settings) per policy. */
    configure(policies: Record<string, { level: EnforcementLevel; properties?: Record<string, unknown> }>): Promise<void> {
        const req = new ConfigureAnalyzerRequest();
        for (const [name, { level, properties }] of Object.entries(policies)) {
            const pc = new PolicyConfig();
            pc.setEnforcementlevel(level);
            pc.setProperties(Struct.fromJavaScript((properties ?? {}) as Parameters<typeof Struct.fromJavaScript>[0]));
            req.getPolicyconfigMap().set(name, pc);
        }
        return new Promise((resolve, reject) => this.client.configure(req, (e) => (e ? reject(e) : resolve())));
    }

    stop(): void {
        this.client.close();
        if (this.child.exitCode === null) this.child.kill();
    }
}
