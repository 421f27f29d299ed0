/**
 * The local cache's costs (issue 12): caching one 100-message history page (dedup by server
 * id, FTS5 triggers), the same page again (all duplicates), a search over 20,000 cached
 * messages, and a page of a conversation. A real SQLite file in a temporary directory (WAL,
 * synchronous=NORMAL, as the client runs it). Run with `deno bench -A client/history_bench.ts`.
 */
import { History, type ServerMessage } from "./history.ts";

const dir = await Deno.makeTempDir({ prefix: "jim-history-bench-" });
const history = History.open({ dataDir: dir, account: "a", host: "127.0.0.1", port: 1 });
globalThis.addEventListener("unload", () => {
  history.close();
  Deno.removeSync(dir, { recursive: true });
});

const WORDS = ["lunch", "friday", "report", "café", "deploy", "budget", "пятница", "meeting"];
let nextId = 1;
function page(n: number): ServerMessage[] {
  return Array.from({ length: n }, (_, i) => {
    const id = nextId++;
    return {
      serverId: id,
      contact: `peer${id % 50}`,
      direction: i % 2 ? "in" : "out",
      text: `${WORDS[id % WORDS.length]} note ${id} about ${WORDS[(id * 7) % WORDS.length]}`,
      time: 1_700_000_000_000 + id,
      status: "read",
    };
  });
}

// 20,000 messages cached before the searches and pages.
history.transaction(() => {
  for (const m of page(20_000)) history.storeServerMessage(m);
});
const repeat = page(100);
history.transaction(() => {
  for (const m of repeat) history.storeServerMessage(m);
});

Deno.bench("History: cache a 100-message history page (new)", { group: "cache" }, () => {
  const items = page(100);
  history.transaction(() => {
    for (const m of items) history.storeServerMessage(m, { adopt: true });
  });
});

Deno.bench("History: cache a 100-message history page (all cached)", { group: "cache" }, () => {
  history.transaction(() => {
    for (const m of repeat) history.storeServerMessage(m, { adopt: true });
  });
});

Deno.bench("History.search() over 20,000+ messages, 2 terms, 50 hits", { group: "read" }, () => {
  history.search("fri budg", { limit: 50 });
});

Deno.bench("History.messages(): the latest 50 of one conversation", { group: "read" }, () => {
  history.messages("peer7", { limit: 50 });
});

Deno.bench("History.unreadCounts()", { group: "read" }, () => {
  history.unreadCounts();
});
