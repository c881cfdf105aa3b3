import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";

export interface VerificationArgs {
    /** URLs that must answer 200 through the proxy. */
    urls: string[];
    /** Ids of every container: any change re-runs the verification. */
    containerIds: pulumi.Input<string>[];
    attempts?: number;
}

export const VERIFY_COMMAND = "node --import tsx scripts/verify.ts";

/** Fails the update, naming the URL and the status, unless `/` and `/api/health` both answer 200. */
export class Verification extends pulumi.ComponentResource {
    readonly command: command.local.Command;
    /** JSON: `{ healthy, results: [{ url, status, attempts }] }`. */
    readonly result: pulumi.Output<string>;

    constructor(name: string, args: VerificationArgs, opts?: pulumi.ComponentResourceOptions) {
        super("cartie:platform:Verification", name, {}, opts);
        this.command = new command.local.Command(
            name,
            {
                create: VERIFY_COMMAND,
                environment: { CARTIE_VERIFY_URLS: args.urls.join(" "), CARTIE_VERIFY_ATTEMPTS: String(args.attempts ?? 15) },
                triggers: args.containerIds,
            },
            { parent: this, dependsOn: opts?.dependsOn },
        );
        this.result = this.command.stdout;
        this.registerOutputs({ result: this.result });
    }
}
