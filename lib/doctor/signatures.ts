/**
 * Known failure signatures in container logs, read from what the tools really print: Prisma's
 * error text with or without backticks, its code on its own line or inside `meta`, JSON log lines
 * (escaped newlines, nested `err`), Node's own `Error:` lines and multi-line stack traces (an
 * uncaught Prisma error prints the message, the stack, then `{ code: 'P2021', meta: {...} }`).
 * Pure: the fixtures of test/doctor/fixtures were captured from the sample api (Prisma 6.19.3).
 */

export type SignatureCode = "P2021" | "P1001" | "P1000" | "P3009" | "P3005" | "MISSING_ENV" | "UPSTREAM_NO_HOST" | "UPSTREAM_REFUSED" | "HTTP_502";

export interface LogSignature {
    code: SignatureCode;
    /** The log line that shows it best (the message, not a stack frame), as printed. */
    line: string;
    /** Table, host:port, variable names or upstream, as the log names them. */
    detail: string[];
    /** Index of the (original) log line where this occurrence ends: later means fresher. */
    at: number;
    /** P2021 whose table name could not be read in any printed form. */
    unreadable?: boolean;
}

/** One logical text line and the original log line it came from (a JSON line expands to several). */
interface Entry {
    text: string;
    src: number;
}

/** Strings and codes of a JSON log line, one per line (messages and stacks split on their newlines). */
function jsonEntries(value: unknown, src: number, out: Entry[], key = ""): void {
    if (typeof value === "string") {
        // A code or table field becomes the same `key: 'value'` form Node prints for an error's properties.
        if (/^(code|errorCode|table)$/.test(key)) out.push({ text: `${key === "errorCode" ? "code" : key}: '${value}'`, src });
        else for (const l of value.split(/\r?\n/)) if (l.trim() !== "") out.push({ text: l, src });
    } else if (Array.isArray(value)) {
        for (const v of value) jsonEntries(v, src, out, key);
    } else if (value !== null && typeof value === "object") {
        for (const [k, v] of Object.entries(value as Record<string, unknown>)) jsonEntries(v, src, out, k);
    }
}

export function expandLines(lines: string[]): Entry[] {
    const out: Entry[] = [];
    lines.forEach((line, src) => {
        const t = line.trim();
        if (t.startsWith("{") && t.endsWith("}")) {
            try {
                jsonEntries(JSON.parse(t), src, out);
                return;
            } catch {
                // not JSON after all: read it as text
            }
        }
        out.push({ text: line, src });
    });
    return out;
}

/** Prisma P2021's message; the table between backticks, quotes, or bare (Prisma's docs print `{table}`). */
const P2021_MESSAGE = /\btable\s+(?:`([^`]*)`|"([^"]*)"|'([^']*)'|([^\s`"']+))?\s*does not exist in the current database/i;
const P2021_CODE = /\bP2021\b/;
/** `table: 'public.User'` (Node's inspect of `meta.driverAdapterError.cause`) or its JSON form, already flattened. */
const META_TABLE = /\btable:\s*['"`]([^'"`]*)['"`]/;
/** Postgres's own words, in `originalMessage`: relation "public.User" does not exist. */
const PG_RELATION = /relation\s+\\?"([^"\\]+)\\?"\s+does not exist/;
/** A stack frame or the closing of an inspected object: part of the same error, not a new one. */
const CONTINUATION = /^\s+at\s|^\s*[}\]{]+,?\s*$|^\s*(code|meta|clientVersion|modelName|driverAdapterError|cause|originalCode|originalMessage|kind|table|host|port|batchRequestIdx):/;

/** How far (in lines that are not stack frames) the parts of one printed error may be apart. */
const SAME_ERROR_SPAN = 4;

function cleanTable(raw: string | undefined): string | undefined {
    const t = raw?.trim().replace(/[.,;:]+$/, "");
    if (!t || /^[{(]|^\?$|not available/i.test(t)) return undefined;
    return t;
}

interface Part {
    i: number;
    detail?: string;
    /** The message line (preferred as evidence) rather than a code or meta line. */
    message: boolean;
}

/** How one multi-part error is recognised: its message (with the detail), its code, and a detail elsewhere (meta). */
interface GroupedSignature {
    code: "P2021" | "P1001" | "P1000";
    message: RegExp;
    codeRe: RegExp;
    meta?: RegExp[];
    clean: (raw: string | undefined) => string | undefined;
}

const GROUPED: GroupedSignature[] = [
    { code: "P2021", message: P2021_MESSAGE, codeRe: P2021_CODE, meta: [META_TABLE, PG_RELATION], clean: cleanTable },
    {
        code: "P1001",
        message: /Can't reach database server(?: at `?([^`\s]+))?/,
        codeRe: /\bP1001\b/,
        clean: (raw) => raw?.replace(/[`.,]+$/, "") || undefined,
    },
    {
        // A refused password: Prisma's words (client and `migrate deploy`), Postgres's own (SQLSTATE 28P01,
        // in `originalMessage` or a pg error); the detail is the role.
        code: "P1000",
        message: /Authentication failed against (?:the )?database server(?:.*?credentials for `([^`]+)`)?|password authentication failed for user \\?"([^"\\]+)\\?"/,
        codeRe: /\bP1000\b|\b28P01\b/,
        meta: [/^\s*user:\s*['"`]([^'"`]+)['"`]/],
        clean: (raw) => raw?.trim() || undefined,
    },
];

/**
 * Every occurrence of a multi-part error: its parts (message, code, meta) grouped when they are
 * close, the detail from any part. Parts of one printed error are never two occurrences.
 */
function scanGrouped(entries: Entry[], sig: GroupedSignature): LogSignature[] {
    const parts: Part[] = [];
    entries.forEach((e, i) => {
        const m = sig.message.exec(e.text);
        if (m) parts.push({ i, detail: sig.clean(m.slice(1).find((g) => g !== undefined)), message: true });
        else if (sig.codeRe.test(e.text)) parts.push({ i, message: false });
        else
            for (const re of sig.meta ?? []) {
                const mm = re.exec(e.text);
                if (mm) {
                    parts.push({ i, detail: sig.clean(mm[1]), message: false });
                    break;
                }
            }
    });
    const distance = (a: number, b: number): number => {
        let d = 0;
        for (let k = a + 1; k < b; k++) if (!CONTINUATION.test(entries[k].text)) d++;
        return d;
    };
    const groups: Part[][] = [];
    for (const p of parts) {
        const last = groups[groups.length - 1];
        if (last && distance(last[last.length - 1].i, p.i) <= SAME_ERROR_SPAN) last.push(p);
        else groups.push([p]);
    }
    const out: LogSignature[] = [];
    for (const g of groups) {
        // A meta line alone (no message, no code near it) is some other error.
        if (!g.some((p) => p.message || sig.codeRe.test(entries[p.i].text))) continue;
        const detail = g.find((p) => p.message && p.detail)?.detail ?? g.find((p) => p.detail)?.detail;
        const best = [...g].reverse().find((p) => p.message) ?? g[g.length - 1];
        out.push({ code: sig.code, line: entries[best.i].text, detail: detail ? [detail] : [], at: entries[g[g.length - 1].i].src, unreadable: detail ? undefined : true });
    }
    return out;
}

const P3009 = /\bP3009\b|migrate found failed migrations/i;
const P3005 = /\bP3005\b|The database schema is not empty/i;
/** The api's own line: `cartie-api: missing required environment variables: A, B`. */
const MISSING_ENV = /missing required environment variables?:\s*([A-Z0-9_]+(?:\s*,\s*[A-Z0-9_]+)*)/;
/** Caddy's upstream errors: `dial tcp: lookup api on 127.0.0.11:53: no such host`, `dial tcp 172.18.0.3:3000: connect: connection refused`. */
const DIAL_LOOKUP = /dial tcp: lookup ([A-Za-z0-9._-]+)(?: on [^:]+:\d+)?: no such host/;
const DIAL_REFUSED = /dial tcp ([0-9a-fA-F.:[\]]+?):(\d+): connect: connection refused/;
const STATUS_502 = /"status"\s*:\s*502\b|\b502 Bad Gateway\b/;

/** Every known signature in the given lines; of each kind the last occurrence wins (the freshest). */
export function scanLogLines(lines: string[]): LogSignature[] {
    const entries = expandLines(lines);
    const found = new Map<SignatureCode, LogSignature>();
    const set = (s: LogSignature): void => {
        const prev = found.get(s.code);
        if (!prev || s.at >= prev.at) found.set(s.code, s);
    };
    for (const g of GROUPED) for (const s of scanGrouped(entries, g)) set(s);
    entries.forEach(({ text, src }) => {
        let m: RegExpExecArray | null;
        if (P3009.test(text)) set({ code: "P3009", line: text, detail: [], at: src });
        if (P3005.test(text)) set({ code: "P3005", line: text, detail: [], at: src });
        if ((m = MISSING_ENV.exec(text))) set({ code: "MISSING_ENV", line: text, detail: m[1].split(/\s*,\s*/).filter(Boolean), at: src });
        if ((m = DIAL_LOOKUP.exec(text))) set({ code: "UPSTREAM_NO_HOST", line: text, detail: [m[1]], at: src });
        if ((m = DIAL_REFUSED.exec(text))) set({ code: "UPSTREAM_REFUSED", line: text, detail: [`${m[1]}:${m[2]}`], at: src });
    });
    // Caddy's 502 is a number field of its JSON line, so it is read from the line as printed.
    lines.forEach((line, src) => {
        if (STATUS_502.test(line)) set({ code: "HTTP_502", line, detail: [], at: src });
    });
    return [...found.values()];
}

/** Signatures that make a process exit: the freshest of them is what the container last died of. */
const CRASH_CODES: SignatureCode[] = ["P2021", "P1001", "P1000", "P3009", "P3005", "MISSING_ENV"];

export function lastCrash(sigs: LogSignature[]): LogSignature | undefined {
    return sigs.filter((s) => CRASH_CODES.includes(s.code)).sort((a, b) => a.at - b.at).pop();
}
