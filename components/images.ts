import * as path from "node:path";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { contentTag, contextDigest } from "../lib/build/context";

export interface AppImageArgs {
    /** Image repository name, e.g. `cartie-dev-api`. */
    repository: string;
    /** Build context as configured (relative to the project): a resource input, portable across machines. */
    context: string;
    /** The same context, absolute: read here to compute the content tag. */
    contextAbs: string;
    /** Build args; none of them may be a secret (they are stored in the image's history). */
    buildArgs: Record<string, string>;
}

/**
 * An app image built locally (never pushed), tagged by a digest of exactly what Docker sends
 * plus the build args: same source, same tag, no diff; changed source, new tag, and only the
 * containers of this image are replaced. Run `guardBuildContext` before constructing it.
 */
export class AppImage extends pulumi.ComponentResource {
    readonly image: docker.Image;
    /** `<repository>:<content tag>`: what containers run. */
    readonly imageName: pulumi.Output<string>;
    readonly contentTag: pulumi.Output<string>;

    constructor(name: string, args: AppImageArgs, opts?: pulumi.ComponentResourceOptions) {
        super("cartie:platform:AppImage", name, {}, opts);
        this.contentTag = pulumi.output(contextDigest(args.contextAbs, args.buildArgs)).apply((d) => contentTag(d.digest));
        this.image = new docker.Image(
            name,
            {
                imageName: pulumi.interpolate`${args.repository}:${this.contentTag}`,
                build: {
                    context: args.context,
                    dockerfile: path.posix.join(args.context, "Dockerfile"),
                    args: args.buildArgs,
                },
                skipPush: true,
                // The content tag is known without building, so preview stays fast and still exact.
                buildOnPreview: false,
            },
            { parent: this },
        );
        this.imageName = this.image.imageName;
        this.registerOutputs({ imageName: this.imageName, contentTag: this.contentTag });
    }
}
