import dockerignore, { Ignore } from "@balena/dockerignore";

/**
 * `.dockerignore` matching as Docker does it, by @balena/dockerignore (a port of Docker's own
 * matcher), made cheap enough to run on every path of a 20,000-file context.
 *
 * Case-sensitive, as Docker is: the library defaults to case-insensitive matching (the `ignore`
 * package's API) and its README says to pass `ignorecase: false` to agree with `docker build`.
 * Left insensitive, `**\/dist` would drop a `src/Dist/` that Docker sends, and an edit there
 * would not change the image tag.
 */
export function newDockerignore(patterns: string[]): Ignore {
    return dockerignore({ ignorecase: false }).add(patterns);
}

/** The library's compiled rule, as its `_createRule` and `_compile` make it (pinned version). */
interface LibraryRule {
    pattern: string;
    dirs: string[];
    negative: boolean;
    regexp?: RegExp;
}

interface LibraryInternals {
    _rules: LibraryRule[];
    _compile(rule: LibraryRule): LibraryRule;
}

function hasInternals(ig: Ignore): ig is Ignore & LibraryInternals {
    const o = ig as Partial<LibraryInternals>;
    return Array.isArray(o._rules) && typeof o._compile === "function";
}

interface Rule {
    regexp: RegExp;
    /** A literal every path the regexp matches ends with ("" if none is known): a cheap first test. */
    suffix: string;
    dirs: string[];
    negative: boolean;
}

/** Decides the children of one directory: true when `.dockerignore` excludes `childRel`. */
export type ChildMatcher = (childRel: string) => boolean;

/**
 * Per-directory evaluation of the library's own rules, with the library's result.
 *
 * The library decides a path by testing every rule against the path and, for each rule, against
 * the path's parent directories; the last rule that matches wins. The parent half depends only on
 * the directory, so it is worked out once per directory here instead of once per file, and the
 * rules are scanned from the last so the first hit decides. The regular expressions, the rule
 * order and the parent-directory logic are the library's (its `_test`); a differential test
 * (test/lib/build/dockerignoreMatch.test.ts) holds this to `ignores()` over generated paths and patterns.
 * Should a future version of the library change its internals, this falls back to `ignores()`.
 */
export class ContextMatcher {
    readonly ignore: Ignore;
    private readonly rules: Rule[] | undefined;

    constructor(patterns: string[]) {
        this.ignore = newDockerignore(patterns);
        const ig = this.ignore;
        if (hasInternals(ig)) {
            const compiled = ig._rules.map((r) => ig._compile(r));
            const wellFormed = (r: LibraryRule): boolean =>
                r.regexp instanceof RegExp && typeof r.pattern === "string" && Array.isArray(r.dirs) && typeof r.negative === "boolean";
            if (compiled.every(wellFormed)) {
                this.rules = compiled.map((r) => ({ regexp: r.regexp as RegExp, suffix: requiredSuffix(r.pattern), dirs: r.dirs, negative: r.negative }));
            }
        }
    }

    /** A matcher for the children of `relDir` ("" for the context root; `/`-separated, clean). */
    forDirectory(relDir: string): ChildMatcher {
        const rules = this.rules;
        if (rules === undefined) return (childRel) => this.ignore.ignores(childRel);
        const parentMatches = rules.map((rule) => relDir !== "" && parentMatch(rule, relDir.split("/")));
        return (childRel) => {
            for (let i = rules.length - 1; i >= 0; i--) {
                const r = rules[i];
                if (parentMatches[i] || (childRel.endsWith(r.suffix) && r.regexp.test(childRel))) return !r.negative;
            }
            return false;
        };
    }
}

/**
 * The literal a rule's regexp ends with. The library turns a pattern into a regexp character by
 * character and anchors it with `$`, so the characters after the last wildcard, escape or class
 * must end every match, provided they are plain (the library passes regexp syntax such as `+` or
 * `(` through unescaped, so a tail holding one is not a literal). A leading `/` is dropped: `**\/`
 * swallows its slash, so `**\/x.log` also matches `x.log`. "" (no test) when unsure.
 */
export function requiredSuffix(pattern: string): string {
    const last = Math.max(...["*", "?", "[", "]", "\\"].map((c) => pattern.lastIndexOf(c)));
    const tail = pattern.slice(last + 1).replace(/^\/+/, "");
    return /^[A-Za-z0-9_.~ \/-]*$/.test(tail) ? tail : "";
}

/** The library's parent-directory test of one rule, for any path whose parent is `parentDirs`. */
function parentMatch(rule: Rule, parentDirs: string[]): boolean {
    if (rule.dirs.includes("**")) {
        for (let i = rule.dirs.filter((d) => d !== "**").length; i <= parentDirs.length; i++) {
            if (rule.regexp.test(parentDirs.slice(0, i).join("/"))) return true;
        }
        return false;
    }
    return rule.dirs.length <= parentDirs.length && rule.regexp.test(parentDirs.slice(0, rule.dirs.length).join("/"));
}
