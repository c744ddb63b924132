/**
 * "Did you mean ...?" for misspelt keys and host names: a typo is the most common reason a key is unknown, and
 * naming the intended word is the fastest fix a message can offer.
 */

/** Levenshtein distance (insert, delete, substitute), case-insensitive: `Address` is a typo of `address`. */
function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  let previous = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i++) {
    const current = [i];
    for (let j = 1; j <= t.length; j++) {
      const substitution = (previous[j - 1] as number) + (s[i - 1] === t[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, substitution));
    }
    previous = current;
  }
  return previous[t.length] as number;
}

/**
 * The candidate closest to `word`, or null when none is close enough to be a plausible typo (at most a third of the
 * word's letters wrong, and never more than 3). Ties go to the earlier candidate.
 */
export function closestMatch(word: string, candidates: readonly string[]): string | null {
  const limit = Math.min(3, Math.max(1, Math.floor(word.length / 3)));
  let best: string | null = null;
  let bestDistance = limit + 1;
  for (const candidate of candidates) {
    const d = editDistance(word, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}
