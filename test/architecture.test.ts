/**
 * The shape of src/: no import cycles. (The import direction between folders is eslint.config.js's
 * no-restricted-imports, which `npm test` runs.) A cycle makes the order modules initialise in depend on who is
 * imported first, and two files that import each other are one concern split in two.
 *
 * Every import counts, `import type` included: a type cycle is no runtime hazard, but it is the same tangle.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '../src');

/** Every non-test .ts file under `dir`, as paths relative to src/. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts'))
    .map((e) => path.relative(SRC, path.join(e.parentPath, e.name)))
    .sort();
}

/** file → the src/ files it imports (static, `export … from`, dynamic `import()`), `./x.js` read as `./x.ts`. */
function importGraph(files: string[]): Map<string, string[]> {
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(path.join(SRC, file), 'utf8'), true, true);
    const targets = importedFiles
      .map((i) => i.fileName)
      .filter((s) => s.startsWith('.'))
      .map((s) => path.join(path.dirname(file), s.replace(/\.js$/, '.ts')));
    graph.set(file, [...new Set(targets.filter((t) => known.has(t)))].sort());
  }
  return graph;
}

/** The import cycles of `graph`: one per strongly connected component, as a path `a → b → … → a`. */
function importCycles(graph: Map<string, string[]>): string[][] {
  // Tarjan's algorithm; the graph is a few hundred files, so recursion depth is no concern.
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) components.push(component);
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return components.map((c) => cyclePath(graph, new Set(c)));
}

/** One concrete cycle inside a strongly connected component: a breadth-first path from its first file back to it. */
function cyclePath(graph: Map<string, string[]>, component: Set<string>): string[] {
  const start = [...component].sort()[0]!;
  const from = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!component.has(w)) continue;
      if (w === start) {
        const cycle = [start];
        for (let at: string | undefined = v; at !== undefined && at !== start; at = from.get(at)) cycle.splice(1, 0, at);
        return [...cycle, start];
      }
      if (!from.has(w)) {
        from.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

describe('import graph of src/', () => {
  const graph = importGraph(sourceFiles(SRC));

  it('is read from the sources: the CLI reaches the planner, the planner imports the model', () => {
    expect(graph.size).toBeGreaterThan(50);
    expect(graph.get('plan/plan-host.ts')).toContain('model/plan.ts');
    expect(graph.get('index.ts')).toContain('libvirt/domain-xml.ts');
  });

  it('has no import cycles', () => {
    expect(importCycles(graph).map((c) => c.join(' → '))).toEqual([]);
  });

  it('names the files of a cycle, in import order', () => {
    const tangled = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts', 'd.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', []],
      ['e.ts', ['e.ts']],
    ]);
    expect(importCycles(tangled)).toEqual(expect.arrayContaining([['a.ts', 'b.ts', 'c.ts', 'a.ts'], ['e.ts', 'e.ts']]));
    expect(importCycles(tangled)).toHaveLength(2);
  });
});
