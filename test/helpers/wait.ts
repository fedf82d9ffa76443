// Polling until something is true, for tests of things that happen asynchronously.
export async function waitFor<T>(f: () => Promise<T | undefined | false | null> | T | undefined | false | null, ms = 15_000, what = "the expected state"): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v as T;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
