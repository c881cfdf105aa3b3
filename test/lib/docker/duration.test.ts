import { strict as assert } from "node:assert";
import { goDuration, isGoCanonical, parseGoDuration } from "../../../lib/docker/duration";

describe("durations in Go's form (what the docker provider reads back)", () => {
    it("formats seconds exactly as Go's time.Duration.String() does", () => {
        // Each pair checked against Go 1.26: fmt.Println(time.Duration(x) * time.Millisecond).
        const cases: Array<[number, string]> = [
            [0, "0s"],
            [0.25, "250ms"],
            [1, "1s"],
            [1.5, "1.5s"],
            [5, "5s"],
            [10, "10s"],
            [59, "59s"],
            [60, "1m0s"],
            [90, "1m30s"],
            [90.5, "1m30.5s"],
            [180, "3m0s"],
            [3600, "1h0m0s"],
            [3661, "1h1m1s"],
        ];
        for (const [seconds, go] of cases) assert.equal(goDuration(seconds), go, `${seconds} s`);
    });

    it("parses Go's syntax and tells the canonical form from other spellings of the same duration", () => {
        assert.equal(parseGoDuration("1m0s"), 60);
        assert.equal(parseGoDuration("60s"), 60);
        assert.equal(parseGoDuration("1h30m"), 5400);
        assert.equal(parseGoDuration("250ms"), 0.25);
        assert.equal(parseGoDuration("sixty"), undefined);
        assert.equal(isGoCanonical("1m0s"), true);
        assert.equal(isGoCanonical("60s"), false, "the provider reads 60s back as 1m0s: a perpetual diff");
        assert.equal(isGoCanonical("10s"), true);
    });

    it("refuses what is not a duration", () => {
        assert.throws(() => goDuration(-1), /not a duration/);
        assert.throws(() => goDuration(Number.NaN), /not a duration/);
    });
});
