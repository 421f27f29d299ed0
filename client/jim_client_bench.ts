/**
 * Client-side costs: a send's round trip through the real server, pipelined sends, and
 * storing a message in the history. Run with `deno bench -A client/`.
 */
import { startTestServer } from "../server/testing.ts";
import { History } from "./history.ts";
import { JimClient } from "./jim_client.ts";

const srv = await startTestServer({
  users: [{ login: "a", password: "p" }, { login: "b", password: "p" }],
  limits: { rateLimit: 0 },
});
const sender = await JimClient.connect({ port: srv.port });
const receiver = await JimClient.connect({ port: srv.port });
await sender.login("a", "p");
await receiver.login("b", "p");
const historyDir = await Deno.makeTempDir({ prefix: "jim-client-bench-" });
const history = History.open({ dataDir: historyDir, account: "a", host: "127.0.0.1", port: 1 });
globalThis.addEventListener("unload", () => {
  history.close();
  Deno.removeSync(historyDir, { recursive: true });
  Deno.removeSync(srv.dir, { recursive: true });
});

Deno.bench("JimClient.send() round trip through the server", { group: "send" }, async () => {
  await sender.send("b", "hello");
});

Deno.bench("JimClient.send() 100 pipelined, per batch", { group: "send" }, async () => {
  await Promise.all(Array.from({ length: 100 }, () => sender.send("b", "hello")));
});

Deno.bench("History.addMessage() + setStatus()", () => {
  const m = history.addMessage({ contact: "b", direction: "out", text: "hello", status: "sent" });
  history.setStatus(m.id, "delivered");
});
