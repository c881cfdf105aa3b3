/**
 * Durations in the form the docker provider reads them back: Go's `time.Duration.String()`
 * (`1m0s`, `10s`, `1h30m0s`, `500ms`). The provider parses a duration input and, on refresh,
 * writes the container's value back formatted by Go, so `60s` in the program reads back as
 * `1m0s` and every update would replace the container (seen on the real engine: docker provider
 * v5.1.0, `healthcheck.startPeriod`). Writing Go's form keeps the diff empty.
 */

/** Go's `time.Duration.String()` for a whole number of milliseconds (at least 0). */
export function goDuration(seconds: number): string {
    const ms = Math.round(seconds * 1000);
    if (!Number.isFinite(ms) || ms < 0) throw new Error(`goDuration: ${seconds} is not a duration in seconds`);
    if (ms === 0) return "0s";
    if (ms < 1000) return `${ms}ms`;
    const h = Math.floor(ms / 3_600_000);
    const m = Math.floor((ms % 3_600_000) / 60_000);
    const restMs = ms % 60_000;
    const s = restMs % 1000 === 0 ? String(restMs / 1000) : (restMs / 1000).toFixed(3).replace(/0+$/, "");
    if (h > 0) return `${h}h${m}m${s}s`;
    if (m > 0) return `${m}m${s}s`;
    return `${s}s`;
}

/** Parses Go's duration syntax (`1m0s`, `90s`, `1h`, `250ms`) into seconds; undefined when it is not one. */
export function parseGoDuration(text: string): number | undefined {
    if (!/^(\d+(\.\d+)?(h|m|s|ms))+$/.test(text)) return undefined;
    let seconds = 0;
    for (const [, n, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)) {
        const v = Number(n);
        seconds += unit === "h" ? v * 3600 : unit === "m" ? v * 60 : unit === "s" ? v : v / 1000;
    }
    return seconds;
}

/** Whether a duration is written exactly as Go prints it (so the provider reads it back unchanged). */
export function isGoCanonical(text: string): boolean {
    const seconds = parseGoDuration(text);
    return seconds !== undefined && goDuration(seconds) === text;
}
