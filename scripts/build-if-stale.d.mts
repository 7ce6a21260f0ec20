/** Types of build-if-stale.mjs, for the test that imports it. */
export declare const SOURCES: readonly string[]
export declare const OUTPUTS: readonly string[]
export declare function staleness(root: string): string | null
