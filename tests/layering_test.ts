/**
 * The layering rules of docs/architecture.md, checked on the imports that Deno itself parses
 * (`deno info --json`), code and type imports alike, of every file that is not a test or a
 * benchmark. And the start-up promise: the module graph that `deno run` reads for
 * bin/jim-server.ts and bin/jim-client.ts holds no GUI code.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join, relative } from "node:path";

const ROOT = new URL("../", import.meta.url);
const ROOT_PATH = ROOT.pathname.replace(/\/$/, "");

/** The parts of the tree, and where an import may go. */
const PACKAGES = ["protocol", "common", "server", "client", "ui", "bin"] as const;
type Part = (typeof PACKAGES)[number];
/** Where an import lands: one of our parts, another folder or file of ours, or outside. */
type Target = Part | "tasks" | "tests" | "root" | "node" | "npm" | "remote";

interface Rule {
  /** The only targets allowed; everything else is refused. */
  only?: readonly Target[];
  /** Targets refused; everything else is allowed. */
  never?: readonly Target[];
  why: string;
}

const RULES: Record<Part, Rule> = {
  protocol: {
    only: ["protocol", "npm"],
    why: "protocol/ is pure: no node:, no Deno I/O, nothing else of ours",
  },
  common: { only: ["common", "protocol"], why: "common/ imports only protocol/" },
  server: {
    never: ["ui", "client", "bin", "tasks", "tests"],
    why: "server/ never imports ui/ or client/",
  },
  client: {
    never: ["ui", "server", "bin", "tasks", "tests"],
    why: "client/ never imports ui/ or server/",
  },
  ui: { never: ["bin", "tasks", "tests"], why: "ui/ does not import the composition roots" },
  bin: { never: ["tasks", "tests"], why: "bin/ composes the packages" },
};

/** An import from one of our files. */
interface Edge {
  from: string;
  to: string;
}

function targetOf(specifier: string): Target {
  if (specifier.startsWith("node:")) return "node";
  if (specifier.startsWith("npm:")) return "npm";
  if (!specifier.startsWith("file:")) return "remote";
  const path = relative(ROOT_PATH, new URL(specifier).pathname);
  const top = path.includes("/") ? path.slice(0, path.indexOf("/")) : "";
  if ((PACKAGES as readonly string[]).includes(top)) return top as Part;
  if (top === "tasks" || top === "tests") return top;
  return "root";
}

function partOf(specifier: string): Part | undefined {
  const target = targetOf(specifier);
  return (PACKAGES as readonly string[]).includes(target) ? target as Part : undefined;
}

/** The edges that break a rule, as readable lines. */
function violations(edges: readonly Edge[]): string[] {
  const found: string[] = [];
  for (const { from, to } of edges) {
    const part = partOf(from);
    if (part === undefined) continue;
    const rule = RULES[part];
    const target = targetOf(to);
    const refused = rule.only ? !rule.only.includes(target) : rule.never!.includes(target);
    if (refused) {
      const name = (s: string) =>
        s.startsWith("file:") ? relative(ROOT_PATH, new URL(s).pathname) : s;
      found.push(`${name(from)} imports ${name(to)}: ${rule.why}`);
    }
  }
  return found;
}

interface InfoModule {
  specifier: string;
  dependencies?: {
    code?: { specifier?: string };
    type?: { specifier?: string };
    isDynamic?: boolean;
  }[];
}

/** `deno info --json` of `entry`: every module Deno's graph reaches from it. */
async function denoInfo(entry: string): Promise<InfoModule[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "--config", join(ROOT_PATH, "deno.json"), entry],
    cwd: ROOT_PATH,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout)).modules;
}

async function* sourceFiles(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* sourceFiles(path);
    else if (/\.tsx?$/.test(entry.name) && !/_(test|bench)\.tsx?$/.test(entry.name)) yield path;
  }
}

Deno.test("the layering rules catch each kind of forbidden import", () => {
  const f = (path: string) => new URL(path, ROOT).href;
  assert.deepEqual(
    violations([
      { from: f("protocol/legacy.ts"), to: "node:crypto" },
      { from: f("protocol/mod.ts"), to: f("server/mod.ts") },
      { from: f("protocol/mod.ts"), to: f("common/mod.ts") },
      { from: f("common/usage.ts"), to: f("client/mod.ts") },
      { from: f("common/usage.ts"), to: "node:util" },
      { from: f("server/cli.ts"), to: f("ui/server/cli.ts") },
      { from: f("server/cli.ts"), to: f("client/mod.ts") },
      { from: f("client/cli.ts"), to: f("ui/client/cli.ts") },
      { from: f("client/cli.ts"), to: f("server/mod.ts") },
      { from: f("ui/app.ts"), to: f("bin/jim-server.ts") },
    ]).length,
    10,
  );
  assert.deepEqual(
    violations([
      { from: f("protocol/legacy.ts"), to: "npm:/@noble/hashes@2.4.0/hmac.js" },
      { from: f("common/usage.ts"), to: f("protocol/mod.ts") },
      { from: f("server/cli.ts"), to: f("common/usage.ts") },
      { from: f("server/cli.ts"), to: f("deno.json") },
      { from: f("client/jim_client.ts"), to: "node:net" },
      { from: f("ui/server/cli.ts"), to: f("server/cli.ts") },
      { from: f("bin/jim-server.ts"), to: f("ui/server/cli.ts") },
    ]),
    [],
  );
});

Deno.test("no file imports across the layers (docs/architecture.md)", async () => {
  const files: string[] = [];
  for (const part of PACKAGES) {
    files.push(...await Array.fromAsync(sourceFiles(join(ROOT_PATH, part))));
  }
  assert.ok(files.length > 50, `found only ${files.length} files`);
  const dir = await Deno.makeTempDir({ prefix: "jim-layering-" });
  try {
    // One root that imports every file, so one `deno info` parses them all.
    const root = join(dir, "all.ts");
    await Deno.writeTextFile(
      root,
      files.map((file) => `import ${JSON.stringify(new URL(`file://${file}`).href)};\n`).join(""),
    );
    const modules = await denoInfo(root);
    const parsed = new Set(modules.map((m) => m.specifier));
    for (const file of files) assert.ok(parsed.has(new URL(`file://${file}`).href), file);
    const edges: Edge[] = modules.filter((m) => partOf(m.specifier) !== undefined).flatMap((m) =>
      (m.dependencies ?? []).flatMap((d) =>
        [d.code?.specifier, d.type?.specifier].filter((to): to is string => to !== undefined)
          .map((to) => ({ from: m.specifier, to }))
      )
    );
    assert.ok(edges.length > 100, `found only ${edges.length} imports`);
    assert.deepEqual(violations(edges), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("protocol/ uses no Deno API: it runs in a browser as it is", async () => {
  for await (const file of sourceFiles(join(ROOT_PATH, "protocol"))) {
    const text = await Deno.readTextFile(file);
    assert.doesNotMatch(text, /\bDeno\.[a-z]/i, relative(ROOT_PATH, file));
  }
});

Deno.test("what deno run reads for jim-server and jim-client holds no GUI code", async (t) => {
  const programs = { "bin/jim-server.ts": "server/cli.ts", "bin/jim-client.ts": "client/cli.ts" };
  for (const [program, cli] of Object.entries(programs)) {
    await t.step(program, async () => {
      const modules = await denoInfo(join(ROOT_PATH, program));
      const bySpecifier = new Map(modules.map((m) => [m.specifier, m]));
      // deno run loads code imports, static and literal dynamic ones, but no type imports.
      const loaded = new Set<string>();
      const pending = [new URL(`file://${join(ROOT_PATH, program)}`).href];
      while (pending.length > 0) {
        const specifier = pending.pop()!;
        if (loaded.has(specifier)) continue;
        loaded.add(specifier);
        for (const d of bySpecifier.get(specifier)?.dependencies ?? []) {
          if (d.code?.specifier) pending.push(d.code.specifier);
        }
      }
      const gui = [...loaded].filter((s) =>
        targetOf(s) === "ui" || /^npm:\/?(hono|preact)@/.test(s)
      );
      assert.deepEqual(gui, []);
      assert.ok(loaded.has(new URL(cli, ROOT).href), `the walk reached ${cli}`);
      // The type of the lazily loaded gui command is still checked: it is a type import.
      assert.ok(modules.some((m) => targetOf(m.specifier) === "ui"), "the gui command is typed");
    });
  }
});
