/** Secrets kept out of what is shown and stored: command output masked, secret-looking variable names recognised. */
export const MASK = "***";

/**
 * Replaces every known secret (as written and percent-encoded) and any password inside a URL
 * with `***`, so command output can be shown and stored.
 */
export function maskSecrets(text: string, secrets: string[]): string {
    let out = text;
    const forms = new Set<string>();
    for (const s of secrets) {
        if (s.length < 4) continue;
        forms.add(s);
        forms.add(encodeURIComponent(s));
    }
    for (const form of [...forms].sort((a, b) => b.length - a.length)) out = out.split(form).join(MASK);
    return out.replace(/\b([a-z][a-z0-9+.-]*:\/\/[^:/?#\s@]+):[^@\s/]+@/gi, `$1:${MASK}@`);
}

/** Whether an environment variable name looks like it carries a secret. */
export function looksSecretName(name: string): boolean {
    return /(PASSWORD|PASSWD|SECRET|TOKEN|KEY|CREDENTIAL|PRIVATE)/i.test(name);
}
