/**
 * The proxy's Caddyfile, rendered from config alone so the same config always gives the same
 * bytes: a routing change then shows in `pulumi preview` as a change of the proxy only.
 */
export interface CaddyfileOptions {
    /** Port Caddy listens on inside its container (the host's public port maps to it). */
    listenPort: number;
    /** `host:port` of the api, reached on the platform network by its alias. */
    apiUpstream: string;
    /** `host:port` of the web server. */
    webUpstream: string;
    /** Path prefix routed to the api. */
    apiPathPrefix?: string;
}

export function renderCaddyfile(opts: CaddyfileOptions): string {
    const prefix = (opts.apiPathPrefix ?? "/api").replace(/\/+$/, "");
    for (const [name, value] of [["apiUpstream", opts.apiUpstream], ["webUpstream", opts.webUpstream]] as const) {
        if (!/^[A-Za-z0-9.-]+:\d{1,5}$/.test(value)) throw new Error(`renderCaddyfile: ${name} "${value}" must be host:port`);
    }
    if (!Number.isInteger(opts.listenPort) || opts.listenPort < 1 || opts.listenPort > 65535) {
        throw new Error(`renderCaddyfile: listenPort ${opts.listenPort} is not a port`);
    }
    return [
        "# Rendered by the cartie-platform Pulumi program; edits here are overwritten by `pulumi up`.",
        "{",
        // IPv4 loopback: the proxy's healthcheck reads the admin API at 127.0.0.1 inside the container.
        "\tadmin 127.0.0.1:2019",
        "\tauto_https off",
        "}",
        "",
        `:${opts.listenPort} {`,
        `\t@api path ${prefix} ${prefix}/*`,
        "\thandle @api {",
        `\t\treverse_proxy ${opts.apiUpstream}`,
        "\t}",
        "\thandle {",
        `\t\treverse_proxy ${opts.webUpstream}`,
        "\t}",
        "}",
        "",
    ].join("\n");
}
