import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "../lib/config";
import { BuildContextError } from "../lib/build/context";
import { loadPlatformConfig } from "../lib/config/stack";
import { CartiePlatform } from "./platform";
import { DockerDaemon, detectDaemon } from "../lib/docker/daemon";
import { ModelDriftError, guardModel } from "../lib/drift/programCheck";

/** The daemon `docker:host` (or DOCKER_HOST) names; a guess is said in preview and up, so nobody wonders. */
async function askDaemon(): Promise<DockerDaemon> {
    const daemon = await detectDaemon(new pulumi.Config("docker").get("host"));
    if (daemon.detectedBy?.startsWith("assumed")) void pulumi.log.warn(`Docker daemon: ${daemon.detectedBy}; healthchecks probe only at their interval while containers start`);
    return daemon;
}

/** The stack outputs: what a person asks for after `pulumi up`. */
export interface PlatformOutputs {
    url: pulumi.Output<string>;
    apiHealthUrl: pulumi.Output<string>;
    apiImage: pulumi.Output<string>;
    webImage: pulumi.Output<string>;
    migratorImage: pulumi.Output<string>;
    /** The last release: what switched, the live containers, what was retired, when (JSON). */
    release: pulumi.Output<string>;
    verification: pulumi.Output<string>;
}

/**
 * The whole program: validate config, schema.prisma against the migrations, and build contexts
 * (before any resource is registered), then declare the platform. Config and guard errors
 * surface as one readable RunError. `daemon` says which Docker API the inputs are written for;
 * unset, the daemon itself is asked.
 */
export function platformProgram(projectDir: string = process.cwd(), opts: { daemon?: DockerDaemon; modelCheck?: boolean } = {}): PlatformOutputs {
    let platform: CartiePlatform;
    try {
        const config = loadPlatformConfig(projectDir);
        // schema.prisma against the migrations (lib/drift/programCheck.ts), before any image is built. It runs
        // Prisma in throwaway containers, so only under a real engine (whose language host sets
        // PULUMI_NODEJS_MONITOR: @pulumi/pulumi 3.248 cmd/run/index.js), not under the unit tests' mocks.
        if (opts.modelCheck ?? process.env.PULUMI_NODEJS_MONITOR !== undefined)
            guardModel(config, { projectDir, info: (m) => void pulumi.log.info(m), warn: (m) => void pulumi.log.warn(m) });
        platform = new CartiePlatform("cartie", { config, daemon: opts.daemon ?? askDaemon() });
    } catch (err) {
        if (err instanceof ConfigError || err instanceof BuildContextError || err instanceof ModelDriftError) throw new pulumi.RunError(err.message);
        throw err;
    }
    return {
        url: platform.url,
        apiHealthUrl: platform.apiHealthUrl,
        apiImage: platform.apiImage.imageName,
        webImage: platform.webImage.imageName,
        migratorImage: platform.migration.migratorImage,
        release: platform.release.result,
        verification: platform.verification.result,
    };
}
