import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { PlatformConfig } from "../lib/config";
import { httpsSiteOf, httpsUrl } from "../lib/config/tls";
import { renderCaddyfile } from "../lib/proxy/caddyfile";
import { CANDIDATE_PORT } from "../lib/release/spec";
import { guardBuildContext, migrationsHash } from "../lib/build/context";
import { API_PORT, HEALTH_PATH, PROXY_PORT, WEB_PORT, apiEnvironment, dbDataLayout, dbEnvironment, dbIdentity } from "../lib/env";
import { imageBuildArgs } from "../lib/build/buildArgs";
import { DockerDaemon } from "../lib/docker/daemon";
import { localProxyHost, localProxyUrl, verificationUrls } from "../lib/verify";
import { Api } from "./api";
import { Database } from "./database";
import { AppImage } from "./images";
import { Migration } from "./migration";
import { Network } from "./network";
import { STOP_GRACE_SECONDS } from "./appContainer";
import { Proxy } from "./proxy";
import { Release } from "./release";
import { Routes } from "./routes";
import { Takeover } from "./takeover";
import { Verification } from "./verification";
import { Web } from "./web";

export interface CartiePlatformArgs {
    config: PlatformConfig;
    /** The Docker daemon deployed to (lib/docker/daemon.ts): which container inputs it supports. */
    daemon: pulumi.Input<DockerDaemon>;
}

/**
 * The whole Cartie platform on one Docker host, in dependency order:
 * network → db password file → db → db-ready (healthy) → db-password (rotation) → migration → api,
 * web (new containers next to the serving ones), proxy and routes responder → release (gate, smoke
 * check, switch the routes' records, retire the old) → verification.
 */
export class CartiePlatform extends pulumi.ComponentResource {
    readonly network: Network;
    /** Only when `cartie:legacyComposeProject` is set: adopts the compose-run host before the db starts. */
    readonly takeover?: Takeover;
    readonly database: Database;
    readonly apiImage: AppImage;
    readonly webImage: AppImage;
    readonly migration: Migration;
    readonly api: Api;
    readonly web: Web;
    readonly proxy: Proxy;
    readonly routes: Routes;
    readonly release: Release;
    readonly verification: Verification;
    readonly url: pulumi.Output<string>;
    readonly apiHealthUrl: pulumi.Output<string>;
    /** What a new proxy starts with, before the release loads the live routes. */
    readonly bootstrapCaddyfile: string;

    constructor(name: string, args: CartiePlatformArgs, opts?: pulumi.ComponentResourceOptions) {
        const cfg = args.config;
        const apiContext = path.posix.join(cfg.appRoot, "apps/api");
        const webContext = path.posix.join(cfg.appRoot, "apps/web");
        // Before anything is registered: a leaking build context stops the update with nothing changed.
        guardBuildContext(path.join(cfg.appRootAbs, "apps/api"), apiContext);
        guardBuildContext(path.join(cfg.appRootAbs, "apps/web"), webContext);

        super("cartie:platform:CartiePlatform", name, {}, opts);
        const p = cfg.namePrefix;
        const buildArgs = imageBuildArgs(cfg);

        this.network = new Network("network", { name: `${p}-net` }, { parent: this });
        if (cfg.legacyComposeProject) {
            this.takeover = new Takeover(
                "legacy",
                {
                    project: cfg.legacyComposeProject,
                    dataVolume: cfg.dataVolume,
                    postgresImage: cfg.postgresImage,
                    publicPort: cfg.publicPort,
                    pgdataSubdir: cfg.pgdataSubdir,
                    identity: dbIdentity(cfg),
                    postgresPassword: pulumi.secret(cfg.secrets.postgresPassword),
                    backupDir: cfg.backup.dir,
                },
                { parent: this },
            );
        }
        // The db's volume and container wait for the takeover: never two servers on one data directory.
        const takeoverDone: pulumi.Resource[] = this.takeover ? [this.takeover.done] : [];
        this.database = new Database(
            "db",
            {
                namePrefix: p,
                image: cfg.postgresImage,
                volumeName: cfg.dataVolume,
                network: this.network.name,
                environment: dbEnvironment(cfg),
                password: pulumi.secret(cfg.secrets.postgresPassword),
                identity: dbIdentity(cfg),
                layout: dbDataLayout(cfg.pgdataSubdir),
            },
            { parent: this, dependsOn: takeoverDone },
        );
        this.apiImage = new AppImage(
            "api-image",
            { repository: `${p}-api`, context: apiContext, contextAbs: path.join(cfg.appRootAbs, "apps/api"), buildArgs: buildArgs.api },
            { parent: this },
        );
        this.webImage = new AppImage(
            "web-image",
            { repository: `${p}-web`, context: webContext, contextAbs: path.join(cfg.appRootAbs, "apps/web"), buildArgs: buildArgs.web },
            { parent: this },
        );
        const migrationsDir = path.posix.join(apiContext, "prisma/migrations");
        this.migration = new Migration(
            "migration",
            {
                apiImageName: this.apiImage.imageName,
                migratorRepository: `${p}-api-migrator`,
                migrationsHash: pulumi.output(migrationsHash(path.join(cfg.appRootAbs, "apps/api/prisma/migrations"))),
                migrationsDir,
                baseline: cfg.migrationBaseline,
                network: this.network.name,
                dbContainerName: this.database.containerName,
                dbContainerId: this.database.container.id,
                identity: dbIdentity(cfg),
                secretsVolume: this.database.secretsVolume.name,
                dbImage: cfg.postgresImage,
                backup: cfg.backup,
                backupProject: p,
            },
            { parent: this, dependsOn: [this.database] },
        );
        this.api = new Api(
            "api",
            { namePrefix: p, imageName: this.apiImage.imageName, contentTag: this.apiImage.contentTag, network: this.network.name, environment: apiEnvironment(cfg), daemon: args.daemon },
            // The role accepts the new password before the new api's health gate (a rotation updates the step, then rolls the api).
            { parent: this, dependsOn: [this.migration, this.database.passwordStep.command] },
        );
        this.web = new Web(
            "web",
            { namePrefix: p, imageName: this.webImage.imageName, contentTag: this.webImage.contentTag, network: this.network.name, daemon: args.daemon },
            { parent: this },
        );
        // The HTTPS site is in the bootstrap config too: certificates are obtained before the first release.
        const https = httpsSiteOf(cfg.tls);
        this.bootstrapCaddyfile = renderCaddyfile({ listenPort: PROXY_PORT, candidatePort: CANDIDATE_PORT, https });
        this.proxy = new Proxy(
            "proxy",
            {
                namePrefix: p,
                image: cfg.caddyImage,
                network: this.network.name,
                bootstrapCaddyfile: this.bootstrapCaddyfile,
                publicPort: cfg.publicPort,
                publicBind: cfg.publicBind,
                tls: cfg.tls,
            },
            // The takeover frees the public port the legacy web holds.
            { parent: this, dependsOn: takeoverDone },
        );
        this.routes = new Routes("routes", { namePrefix: p, network: this.network.name, nodeImage: cfg.nodeImage }, { parent: this });
        this.release = new Release(
            "release",
            {
                proxyContainerName: this.proxy.container.name,
                proxyContainerId: this.proxy.container.id,
                routesContainerName: this.routes.containerName,
                routesContainerId: this.routes.container.id,
                network: this.network.name,
                apiContainerName: this.api.containerName,
                webContainerName: this.web.containerName,
                ports: { api: API_PORT, web: WEB_PORT },
                listenPort: PROXY_PORT,
                candidatePort: CANDIDATE_PORT,
                apiPathPrefix: "/api",
                accessLog: cfg.accessLog,
                https,
                smokePaths: ["/", HEALTH_PATH],
                healthTimeoutSeconds: cfg.releaseHealthTimeout,
                drainTimeoutSeconds: STOP_GRACE_SECONDS,
                stopGraceSeconds: STOP_GRACE_SECONDS,
            },
            { parent: this, dependsOn: [this.api, this.web, this.proxy, this.routes] },
        );
        this.verification = new Verification(
            "verification",
            {
                // Over HTTPS: the public URL itself, connected to on the published address (no DNS needed).
                urls: verificationUrls(https ? httpsUrl(cfg.tls) : localProxyUrl(cfg.publicBind, cfg.publicPort), HEALTH_PATH),
                containerIds: [this.database.container.id, this.api.container.id, this.web.container.id, this.proxy.container.id, this.routes.container.id],
                ...(https ? { https: { connectHost: localProxyHost(cfg.publicBind), mode: https.issuer, proxyContainer: this.proxy.container.name } } : {}),
            },
            { parent: this, dependsOn: [this.release] },
        );
        this.url = pulumi.output(cfg.publicUrl);
        this.apiHealthUrl = pulumi.output(`${cfg.publicUrl}${HEALTH_PATH}`);
        this.registerOutputs({
            url: this.url,
            apiHealthUrl: this.apiHealthUrl,
            apiImage: this.apiImage.imageName,
            webImage: this.webImage.imageName,
            release: this.release.result,
            verification: this.verification.result,
        });
    }
}
