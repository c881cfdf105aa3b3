/** Reading a command resource's inputs from the environment it sets. */

/** The value of `name`, or exit 2 naming the variable and the resource that should have set it. */
export function requireEnv(name: string, setBy: string): string {
    const v = process.env[name];
    if (!v) {
        console.error(`environment variable ${name} is not set (it is set by the ${setBy} resource)`);
        process.exit(2);
    }
    return v;
}
