/**
 * The differences between the schema the migrations produce (`expected`) and the live one, after
 * normalisation (lib/drift/normalise.ts). Pure; the result is sorted, so the same two schemas
 * always give the same list.
 */
import { collapse, columnShape, ColumnShape, foreignKeyShape, indexShape, sequenceShape, tableSignature } from "./normalise";
import { Aspect, Difference, SchemaSnapshot, SequenceFacts, TableFacts } from "./types";

/** Expected table name → live table name, for tables recognised under another name. */
export type Renames = Record<string, string>;

/**
 * Whether live table `x` is expected table `m` under another name: it has every column of `m`
 * (name, type, nullability; it may have more, added by hand since), or it still carries `m`'s
 * primary key constraint, whose name `ALTER TABLE … RENAME` keeps (`users_pkey` on "User").
 */
function couldBe(m: TableFacts, x: TableFacts): boolean {
    const liveCols = new Set(tableSignature(x).split(", "));
    const superset = m.columns.length > 0 && tableSignature(m).split(", ").every((c) => liveCols.has(c));
    const pk = (t: TableFacts): string | undefined => t.indexes.find((i) => i.primary)?.constraint;
    const samePk = pk(m) !== undefined && pk(m) === pk(x);
    return superset || samePk;
}

/** Tables the live database has under another name (see `couldBe`), when exactly one candidate matches each way. */
export function findTableRenames(expected: SchemaSnapshot, live: SchemaSnapshot): Renames {
    const liveNames = new Set(live.tables.map((t) => t.name));
    const expectedNames = new Set(expected.tables.map((t) => t.name));
    const missing = expected.tables.filter((t) => !liveNames.has(t.name));
    const extra = live.tables.filter((t) => !expectedNames.has(t.name));
    const renames: Renames = {};
    for (const m of missing) {
        const candidates = extra.filter((x) => couldBe(m, x));
        if (candidates.length !== 1) continue;
        if (missing.filter((o) => couldBe(o, candidates[0])).length !== 1) continue;
        renames[m.name] = candidates[0].name;
    }
    return renames;
}

function describeShape(s: ColumnShape): string {
    return `${s.type}${s.notNull ? " NOT NULL" : ""}${s.default !== undefined ? ` DEFAULT ${s.default}` : ""}${s.identity ? ` GENERATED ${s.identity.toUpperCase()} AS IDENTITY` : ""}${s.generated ? ` GENERATED ALWAYS AS ${s.generated} STORED` : ""}${s.collation ? ` COLLATE ${s.collation}` : ""}`;
}

const show = (v: string | undefined): string => v ?? "none";

function compareColumns(expected: SchemaSnapshot, live: SchemaSnapshot, e: TableFacts, l: TableFacts, out: Difference[]): void {
    const table = e.name;
    const liveCols = new Map(l.columns.map((c) => [c.name, c]));
    const expectedCols = new Map(e.columns.map((c) => [c.name, c]));
    for (const ec of e.columns) {
        const lc = liveCols.get(ec.name);
        const es = columnShape(expected, e, ec);
        if (!lc) {
            out.push({ kind: "column", change: "missing", table, name: ec.name, detail: describeShape(es) });
            continue;
        }
        const ls = columnShape(live, l, lc);
        const aspects: Aspect[] = [];
        const details: string[] = [];
        const cmp = (aspect: Aspect, a: string | undefined, b: string | undefined): void => {
            if (a === b) return;
            aspects.push(aspect);
            details.push(`${aspect}: ${show(a)} → ${show(b)}`);
        };
        cmp("type", es.type, ls.type);
        cmp("nullability", es.notNull ? "NOT NULL" : "NULL", ls.notNull ? "NOT NULL" : "NULL");
        cmp("default", es.default, ls.default);
        cmp("identity", es.identity, ls.identity);
        cmp("generated", es.generated, ls.generated);
        cmp("collation", es.collation, ls.collation);
        if (aspects.length > 0) out.push({ kind: "column", change: "changed", table, name: ec.name, aspects, detail: details.join("; ") });
    }
    for (const lc of l.columns) {
        if (!expectedCols.has(lc.name)) out.push({ kind: "column", change: "extra", table, name: lc.name, detail: describeShape(columnShape(live, l, lc)) });
    }
}

/**
 * Matches two lists of named things by shape first, name second: same name and shape is equal,
 * same shape under another name a rename, same name with another shape a change; the rest is
 * missing or extra.
 */
function matchByShape<T extends { name: string }>(
    kind: Difference["kind"],
    table: string,
    expected: T[],
    live: T[],
    shape: (x: T, side: "expected" | "live") => string,
    out: Difference[],
): void {
    const restE = new Set(expected);
    const restL = new Set(live);
    for (const e of expected) {
        const l = [...restL].find((x) => x.name === e.name && shape(x, "live") === shape(e, "expected"));
        if (l) {
            restE.delete(e);
            restL.delete(l);
        }
    }
    for (const e of [...restE]) {
        const l = [...restL].find((x) => shape(x, "live") === shape(e, "expected"));
        if (l) {
            out.push({ kind, change: "renamed", table, name: e.name, liveName: l.name, detail: `${shape(e, "expected")}: named ${e.name} by the migrations, ${l.name} in the live database` });
            restE.delete(e);
            restL.delete(l);
        }
    }
    for (const e of [...restE]) {
        const l = [...restL].find((x) => x.name === e.name);
        if (l) {
            out.push({ kind, change: "changed", table, name: e.name, aspects: ["definition"], detail: `${shape(e, "expected")} → ${shape(l, "live")}` });
            restE.delete(e);
            restL.delete(l);
        }
    }
    for (const e of restE) out.push({ kind, change: "missing", table, name: e.name, detail: shape(e, "expected") });
    for (const l of restL) out.push({ kind, change: "extra", table, name: l.name, detail: shape(l, "live") });
}

function compareTables(expected: SchemaSnapshot, live: SchemaSnapshot, e: TableFacts, l: TableFacts, renames: Renames, out: Difference[]): void {
    compareColumns(expected, live, e, l, out);
    const table = e.name;
    matchByShape("index", table, e.indexes, l.indexes, (ix) => indexShape(ix), out);
    const viaRename = (t: string): string => renames[t] ?? t;
    matchByShape("foreign-key", table, e.foreignKeys, l.foreignKeys, (fk, side) => foreignKeyShape(fk, side === "expected" ? viaRename : (t) => t), out);
    matchByShape("check", table, e.checks, l.checks, (ck) => collapse(ck.definition), out);
}

function ownerKey(s: SequenceFacts, renames: Renames, side: "expected" | "live"): string | undefined {
    if (!s.ownedBy) return undefined;
    const table = side === "expected" ? (renames[s.ownedBy.table] ?? s.ownedBy.table) : s.ownedBy.table;
    return `${table}.${s.ownedBy.column}`;
}

function compareSequences(expected: SchemaSnapshot, live: SchemaSnapshot, renames: Renames, out: Difference[]): void {
    // A sequence a table owns belongs to that table: a missing or extra table says it all.
    const liveTables = new Set(live.tables.map((t) => t.name));
    const expectedTables = new Set(expected.tables.map((t) => t.name));
    const eSeqs = expected.sequences.filter((s) => !s.ownedBy || liveTables.has(renames[s.ownedBy.table] ?? s.ownedBy.table));
    const renamedTo = new Set(Object.values(renames));
    const lSeqs = live.sequences.filter((s) => !s.ownedBy || expectedTables.has(s.ownedBy.table) || renamedTo.has(s.ownedBy.table));
    const restL = new Set(lSeqs);
    for (const e of eSeqs) {
        const key = ownerKey(e, renames, "expected");
        const l = [...restL].find((x) => (key ? ownerKey(x, renames, "live") === key : !x.ownedBy && x.name === e.name));
        if (!l) {
            // An owned sequence that is gone shows as its column's default; say it only for a free-standing one.
            if (!key) out.push({ kind: "sequence", change: "missing", name: e.name, detail: sequenceShape(e) });
            continue;
        }
        restL.delete(l);
        if (sequenceShape(e) !== sequenceShape(l)) out.push({ kind: "sequence", change: "changed", name: e.name, aspects: ["options"], detail: `${sequenceShape(e)} → ${sequenceShape(l)}` });
    }
    for (const l of restL) if (!l.ownedBy) out.push({ kind: "sequence", change: "extra", name: l.name, detail: sequenceShape(l) });
}

const ORDER: Record<Difference["kind"], number> = { table: 0, column: 1, index: 2, "foreign-key": 3, check: 4, enum: 5, sequence: 6, view: 7 };

export function sortDifferences(list: Difference[]): Difference[] {
    return [...list].sort((a, b) => ORDER[a.kind] - ORDER[b.kind] || (a.table ?? "").localeCompare(b.table ?? "") || a.name.localeCompare(b.name) || a.change.localeCompare(b.change));
}

/** Every difference between the migrations' schema and the live one; empty when they match. */
export function diffSchemas(expected: SchemaSnapshot, live: SchemaSnapshot): Difference[] {
    const out: Difference[] = [];
    const renames = findTableRenames(expected, live);
    const liveByName = new Map(live.tables.map((t) => [t.name, t]));
    const renamedTo = new Set(Object.values(renames));
    for (const e of expected.tables) {
        const liveName = renames[e.name] ?? e.name;
        const l = liveByName.get(liveName);
        if (!l) {
            out.push({ kind: "table", change: "missing", name: e.name, detail: `${e.columns.length} column(s): ${e.columns.map((c) => c.name).join(", ")}` });
            continue;
        }
        if (renames[e.name]) out.push({ kind: "table", change: "renamed", name: e.name, liveName, detail: `the live database has table ${e.name} as ${liveName} (same columns)` });
        compareTables(expected, live, e, l, renames, out);
    }
    const expectedNames = new Set(expected.tables.map((t) => t.name));
    for (const l of live.tables) {
        if (!expectedNames.has(l.name) && !renamedTo.has(l.name)) out.push({ kind: "table", change: "extra", name: l.name, detail: `${l.columns.length} column(s): ${l.columns.map((c) => c.name).join(", ")}` });
    }

    const liveEnums = new Map(live.enums.map((x) => [x.name, x]));
    for (const e of expected.enums) {
        const l = liveEnums.get(e.name);
        if (!l) out.push({ kind: "enum", change: "missing", name: e.name, detail: e.labels.join(", ") });
        else if (e.labels.join("\u0000") !== l.labels.join("\u0000")) out.push({ kind: "enum", change: "changed", name: e.name, aspects: ["labels"], detail: `${e.labels.join(", ")} → ${l.labels.join(", ")}` });
    }
    const expectedEnums = new Set(expected.enums.map((x) => x.name));
    for (const l of live.enums) if (!expectedEnums.has(l.name)) out.push({ kind: "enum", change: "extra", name: l.name, detail: l.labels.join(", ") });

    compareSequences(expected, live, renames, out);

    const liveViews = new Map(live.views.map((v) => [v.name, v]));
    for (const e of expected.views) {
        const l = liveViews.get(e.name);
        if (!l) out.push({ kind: "view", change: "missing", name: e.name, detail: collapse(e.definition) });
        else if (collapse(e.definition) !== collapse(l.definition) || e.materialized !== l.materialized)
            out.push({ kind: "view", change: "changed", name: e.name, aspects: ["definition"], detail: `${collapse(e.definition)} → ${collapse(l.definition)}` });
    }
    const expectedViews = new Set(expected.views.map((v) => v.name));
    for (const l of live.views) if (!expectedViews.has(l.name)) out.push({ kind: "view", change: "extra", name: l.name, detail: collapse(l.definition) });

    return sortDifferences(out);
}

/** A stable key of a difference: the same drift in two runs has the same key. */
export function differenceKey(d: Difference): string {
    return `${d.kind}:${d.change}:${d.table ?? ""}:${d.name}:${d.liveName ?? ""}:${(d.aspects ?? []).join(",")}`;
}
