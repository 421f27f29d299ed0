/**
 * Run by chat_session_secrets_test.ts in its own process: logs in with the password it reads
 * from stdin and writes V8 heap snapshots (each taken after a full garbage collection) while
 * the password is still held, once logged in, and after quit. The test looks for the
 * password's text in each.
 *
 *     deno run -A password_heap_probe.ts PORT USER DATA_DIR SNAPSHOT_DIR < password
 */
import v8 from "node:v8";
import { ChatSession } from "../chat_session.ts";

const [port, user, dataDir, snapshots] = Deno.args as [string, string, string, string];
// Decoded from bytes into exactly the password: no larger string holds it as a slice.
let password: string | undefined = new TextDecoder().decode(
  await new Response(Deno.stdin.readable).arrayBuffer(),
);
const session = new ChatSession({ port: Number(port), user, password, dataDir });
password = undefined;
// RegExp's static last-match state keeps the last input it ran on; point it elsewhere.
const forget = () => /x/.test("nothing secret");
forget();
v8.writeHeapSnapshot(`${snapshots}/held.heapsnapshot`);
await session.open();
forget();
v8.writeHeapSnapshot(`${snapshots}/open.heapsnapshot`);
await session.quit();
forget();
v8.writeHeapSnapshot(`${snapshots}/quit.heapsnapshot`);
