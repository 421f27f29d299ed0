/**
 * The `--baseline` relay: the least a Deno server can do to route a JIM msg, for the bench to
 * run beside jim-server under the same load. It accepts, splits newline-framed JSON, looks the
 * recipient up by login, and makes two writes (the msg to the recipient, 200 to the sender).
 * Its "login" is a stand-in with no check at all: presence gets a 401 with a fixed token,
 * any authenticate gets 200 and names the connection. Never run it outside the bench.
 *
 *     deno run --allow-net tasks/bench/relay.ts PORT
 *
 * @module
 */
const online = new Map<string, Deno.Conn>();
const utf8 = new TextEncoder();
const OK = utf8.encode('{"response":200,"alert":"OK"}\n');
const CHALLENGE = utf8.encode(`{"response":401,"token":"${"0".repeat(32)}"}\n`);

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let n = 0; n < bytes.length;) n += await conn.write(bytes.subarray(n));
}

async function serve(conn: Deno.TcpConn): Promise<void> {
  conn.setNoDelay(true);
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(16 * 1024);
  let tail = "";
  let me = "";
  try {
    for (let n; (n = await conn.read(buffer)) !== null;) {
      const lines = (tail + decoder.decode(buffer.subarray(0, n), { stream: true })).split("\n");
      tail = lines.pop()!;
      for (const line of lines) {
        const frame = JSON.parse(line);
        if (frame.action === "msg") {
          const peer = online.get(frame.to);
          if (peer) {
            await writeAll(peer, utf8.encode(JSON.stringify({ ...frame, from: me }) + "\n"));
          }
          await writeAll(conn, OK);
        } else if (frame.action === "presence") {
          await writeAll(conn, me ? OK : CHALLENGE);
        } else if (frame.action === "authenticate") {
          online.set(me = frame.user.account_name, conn);
          await writeAll(conn, OK);
        }
      }
    }
  } catch {
    // A reset or a bad frame ends this connection only.
  } finally {
    if (online.get(me) === conn) online.delete(me);
    conn.close();
  }
}

// Exit through Deno.exit on SIGTERM, as jim-server does, so that --cpu-prof writes its profile.
Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
for await (const conn of Deno.listen({ hostname: "127.0.0.1", port: Number(Deno.args[0]) })) {
  serve(conn);
}
