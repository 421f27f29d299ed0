/**
 * The `--baseline` idle floor: what any Deno server pays to hold a logged-in TCP connection
 * that says nothing, with as little of its own as possible. Each connection has one pending
 * `conn.read()` into a 512-byte buffer (jim-server's idle size), driven by a callback, and a
 * place in one Set; the login is a stand-in that checks nothing (presence gets a 401 with a
 * fixed token, authenticate gets 200). It routes nothing. The bench runs it in the idle
 * workload beside jim-server, so that jim-server's own share of the growth can be read from
 * one run. Never run it outside the bench.
 *
 *     deno run --allow-net tasks/bench/idle_floor.ts PORT
 *
 * @module
 */
const online = new Set<Deno.Conn>();
const utf8 = new TextEncoder();
const text = new TextDecoder();
const OK = utf8.encode('{"response":200,"alert":"OK"}\n');
const CHALLENGE = utf8.encode(`{"response":401,"token":"${"0".repeat(32)}"}\n`);

function read(conn: Deno.Conn, buffer: Uint8Array): void {
  conn.read(buffer).then((n) => {
    if (n === null) throw new Error("closed");
    // The load generator sends each login step in one write and waits for the answer.
    const frame = text.decode(buffer.subarray(0, n));
    if (frame.includes('"presence"')) conn.write(online.has(conn) ? OK : CHALLENGE);
    else if (frame.includes('"authenticate"')) {
      online.add(conn);
      conn.write(OK);
    }
    read(conn, buffer);
  }).catch(() => {
    online.delete(conn);
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  });
}

// Exit through Deno.exit on SIGTERM, as jim-server does.
Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
for await (const conn of Deno.listen({ hostname: "127.0.0.1", port: Number(Deno.args[0]) })) {
  conn.setNoDelay(true);
  read(conn, new Uint8Array(512));
}
