/**
 * A container healthcheck as the docker provider takes it, from plain seconds: every duration in
 * Go's form (lib/docker/duration.ts), and `startInterval` only where the daemon supports it.
 */
import { DockerDaemon, supportsStartInterval } from "./daemon";
import { goDuration } from "./duration";

export interface HealthcheckSpec {
    /** The probe in Docker's `CMD` form. */
    test: string[];
    intervalSeconds: number;
    timeoutSeconds: number;
    retries: number;
    startPeriodSeconds: number;
    /** During the start period, probe this often instead of every interval (Docker API 1.44+ only). */
    startIntervalSeconds?: number;
}

/** The provider's `healthcheck` input (docker.types.input.ContainerHealthcheck's shape). */
export interface HealthcheckInput {
    tests: string[];
    interval: string;
    timeout: string;
    retries: number;
    startPeriod: string;
    startInterval?: string;
}

export function healthcheckInput(spec: HealthcheckSpec, daemon: DockerDaemon): HealthcheckInput {
    const input: HealthcheckInput = {
        tests: spec.test,
        interval: goDuration(spec.intervalSeconds),
        timeout: goDuration(spec.timeoutSeconds),
        retries: spec.retries,
        startPeriod: goDuration(spec.startPeriodSeconds),
    };
    if (spec.startIntervalSeconds !== undefined && supportsStartInterval(daemon)) input.startInterval = goDuration(spec.startIntervalSeconds);
    return input;
}
