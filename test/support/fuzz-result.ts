/**
 * The last line a fuzz script prints: what it ran, as one JSON object after `FUZZ_RESULT `, so a
 * test can check the number of inputs and, for a fixed seed, the exact tallies. A script that
 * prints it got through every input without an exception (the first one ends the script before).
 */
export interface FuzzResult {
  fuzzer: string;
  /** Inputs the property ran on (fast-check calls), plus any extra inputs named in `counters`. */
  runs: number;
  seed: number;
  exceptions: 0;
  /** Deterministic tallies for the seed: parser statuses, protocol counters (zeros left out). */
  counters: Record<string, number>;
}

export function printFuzzResult(r: Omit<FuzzResult, 'exceptions'>): void {
  const counters = Object.fromEntries(Object.entries(r.counters).filter(([, v]) => v !== 0).sort(([a], [b]) => a.localeCompare(b)));
  process.stdout.write(`FUZZ_RESULT ${JSON.stringify({ ...r, exceptions: 0, counters })}\n`);
}
