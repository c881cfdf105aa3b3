import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { API_PORT, HEALTH_PATH, toEnvList } from "../lib/env";
import { DockerDaemon } from "../lib/docker/daemon";
import { declareAppContainer } from "./appContainer";

export interface ApiArgs {
    namePrefix: string;
    imageName: pulumi.Input<string>;
    contentTag: pulumi.Input<string>;
    network: pulumi.Input<string>;
    /** The daemon deployed to (lib/docker/daemon.ts): what its healthcheck may use. */
    daemon: pulumi.Input<DockerDaemon>;
    /** DATABASE_URL, JWT_SECRET, SEED_SUPERADMIN_* …: the whole list is stored as a secret. */
    environment: Record<string, string>;
}

/** Node's own fetch, so the healthcheck needs nothing the api image might not have (no curl, no wget). */
export function apiHealthcheckCommand(port: number = API_PORT, healthPath: string = HEALTH_PATH): string[] {
    return [
        "CMD",
        "node",
        "-e",
        `fetch('http://127.0.0.1:${port}${healthPath}').then(r=>process.exit(r.status===200?0:1),()=>process.exit(1))`,
    ];
}

/**
 * What a change of the api's secrets does, said at every preview and update: the api's whole
 * environment is one secret, so a diff can only show `envs: [secret]` and never which secret
 * changed or what follows from it.
 */
export function apiSecretNotices(environment: Record<string, string>): string[] {
    const notices: string[] = [];
    if ("SEED_SUPERADMIN_PASSWORD" in environment) {
        notices.push(
            "superadmin password: the api applies SEED_SUPERADMIN_PASSWORD (cartie:seedSuperadminPassword) to the existing superadmin when it starts; " +
                "if this update changes it, the new api container sets it as the superadmin's password and the old password stops working " +
                '(its log says "superadmin password updated from SEED_SUPERADMIN_PASSWORD", never the value)',
        );
    }
    if ("JWT_SECRET_PREVIOUS" in environment) {
        notices.push(
            "JWT rotation in progress: the api signs tokens with cartie:jwtSecret and still accepts tokens signed with cartie:jwtSecretPrevious; " +
                "once sessions from before the rotation have expired, run `pulumi config rm cartie:jwtSecretPrevious` and `pulumi up` to stop accepting them",
        );
    }
    return notices;
}

/** The api container: created only after the migration (the caller passes it in dependsOn). */
export class Api extends pulumi.ComponentResource {
    readonly container: docker.Container;
    /** `<prefix>-api-<7 hex>`, new for every release. */
    readonly containerName: pulumi.Output<string>;

    constructor(name: string, args: ApiArgs, opts?: pulumi.ComponentResourceOptions) {
        super("cartie:platform:Api", name, {}, opts);
        this.container = declareAppContainer(
            {
                namePrefix: args.namePrefix,
                role: "api",
                imageName: args.imageName,
                contentTag: args.contentTag,
                network: args.network,
                daemon: args.daemon,
                healthcheck: apiHealthcheckCommand(),
                // CARTIE_RELEASE: the api says which release it is (header x-cartie-release, GET /api/version).
                envs: pulumi.output(args.contentTag).apply((tag) => toEnvList({ ...args.environment, CARTIE_RELEASE: tag })),
            },
            { parent: this, dependsOn: opts?.dependsOn },
        );
        this.containerName = this.container.name;
        for (const notice of apiSecretNotices(args.environment)) void pulumi.log.info(notice, this);
        this.registerOutputs({ containerName: this.containerName });
    }
}
