import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";

export interface VerificationArgs {
    /** URLs that must answer 200 through the proxy. */
    urls: string[];
    /** Ids of every container: any change re-runs the verification. */
    containerIds: pulumi.Input<string>[];
    attempts?: number;
    /** With TLS on: the URLs are https://<domain>…, reached at this address (no DNS needed), trusting `mode`'s roots. */
    https?: { connectHost: string; mode: "acme" | "internal"; proxyContainer: pulumi.Input<string> };
}

export const VERIFY_COMMAND = "node --import tsx scripts/verify.ts";

/**
 * Fails the update, naming the URL and the status, unless `/` and `/api/health` both answer 200;
 * over HTTPS a certificate problem is named as such (name mismatch, not yet issued, expired).
 */
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
                environment: {
                    CARTIE_VERIFY_URLS: args.urls.join(" "),
                    CARTIE_VERIFY_ATTEMPTS: String(args.attempts ?? 15),
                    ...(args.https
                        ? { CARTIE_VERIFY_CONNECT: args.https.connectHost, CARTIE_VERIFY_TLS: args.https.mode, CARTIE_VERIFY_PROXY: args.https.proxyContainer }
                        : {}),
                },
                triggers: args.containerIds,
            },
            { parent: this, dependsOn: opts?.dependsOn },
        );
        this.result = this.command.stdout;
        this.registerOutputs({ result: this.result });
    }
}
