import { Policies } from "@pulumi/policy";
import { backupsBeforeMigrations } from "./backups";
import { dataIsProtected } from "./data";
import { noSecretsInImages, pinnedImages } from "./images";
import { forwardOnlyMigrations } from "./migrations";
import { onlyTheProxyIsPublic } from "./network";
import { healthAndRestart, noHostTakeover } from "./runtime";
import { requiredSecrets, secretsAreSecret } from "./secrets";
import { publicProxyServesHttps } from "./tls";

/**
 * The rules of `cartie-guard`, on their own: importing this module starts nothing, so tests (and
 * other tools) can run the rules without the policy server that `index.ts` starts.
 */
export const policies: Policies = [
    requiredSecrets,
    secretsAreSecret,
    noSecretsInImages,
    dataIsProtected,
    onlyTheProxyIsPublic,
    pinnedImages,
    healthAndRestart,
    forwardOnlyMigrations,
    backupsBeforeMigrations,
    noHostTakeover,
    publicProxyServesHttps,
];
