import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "../lib/config";
import { BuildContextError } from "../lib/build/context";
import { loadPlatformConfig } from "../lib/config/stack";
import { CartiePlatform } from "./platform";

/** The stack outputs: what a person asks for after `pulumi up`. */
export interface PlatformOutputs {
    url: pulumi.Output<string>;
    apiHealthUrl: pulumi.Output<string>;
    apiImage: pulumi.Output<string>;
    webImage: pulumi.Output<string>;
    migratorImage: pulumi.Output<string>;
    verification: pulumi.Output<string>;
}

/**
 * The whole program: validate config and build contexts (before any resource is registered),
 * then declare the platform. Config and guard errors surface as one readable RunError.
 */
export function platformProgram(projectDir: string = process.cwd()): PlatformOutputs {
    let platform: CartiePlatform;
    try {
        platform = new CartiePlatform("cartie", { config: loadPlatformConfig(projectDir) });
    } catch (err) {
        if (err instanceof ConfigError || err instanceof BuildContextError) throw new pulumi.RunError(err.message);
        throw err;
    }
    return {
        url: platform.url,
        apiHealthUrl: platform.apiHealthUrl,
        apiImage: platform.apiImage.imageName,
        webImage: platform.webImage.imageName,
        migratorImage: platform.migration.migratorImage,
        verification: platform.verification.result,
    };
}
