/** Bundles the web client into `outDir` (packages/web/dist by default); resolves with the folder. */
export function buildWeb(opts?: { outDir?: string; minify?: boolean }): Promise<string>;
