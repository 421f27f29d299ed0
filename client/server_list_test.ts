import { assert } from "./_assert.ts";
import { UsageError } from "../common/usage.ts";
import { formatServer, formatServerList, MAX_SERVERS, parseServerList } from "./server_list.ts";

Deno.test("parseServerList() reads every form of entry", async (t) => {
  await t.step("one host takes the default port", () => {
    assert.deepEqual(parseServerList("chat.example", 7777), [{ host: "chat.example", port: 7777 }]);
  });
  await t.step("hosts with and without ports, blanks ignored", () => {
    assert.deepEqual(parseServerList(" a:1 , b,c.example:65535", 9), [
      { host: "a", port: 1 },
      { host: "b", port: 9 },
      { host: "c.example", port: 65535 },
    ]);
  });
  await t.step("IPv6 in brackets, with or without a port; bare IPv6 without one", () => {
    assert.deepEqual(parseServerList("[::1]:7001,[fe80::2],::3", 7000), [
      { host: "::1", port: 7001 },
      { host: "fe80::2", port: 7000 },
      { host: "::3", port: 7000 },
    ]);
  });
  await t.step("international host names", () => {
    assert.deepEqual(parseServerList("bücher.example:1", 2), [{ host: "bücher.example", port: 1 }]);
  });
});

Deno.test("parseServerList() refuses a malformed list with a message naming the entry", () => {
  const bad: [string, RegExp][] = [
    ["", /^Invalid host: must not be empty$/],
    [" , ", /server 1 of 2 is empty/],
    ["a,,b", /server 2 of 3 is empty \(a stray comma\?\)/],
    ["a:", /"a:" has a port that is not from 1 to 65535/],
    ["a:0", /has a port that is not from 1 to 65535/],
    ["a:65536", /has a port that is not from 1 to 65535/],
    ["a:+1", /has a port/],
    ["a:1e3", /has a port/],
    ["a b", /"a b" is not a host name or an IP address/],
    ["a/b:1", /is not a host name/],
    [":7777", /is not a host name/],
    ["[::1", /is not \[IPV6\] or \[IPV6\]:PORT/],
    ["[::1]x", /is not \[IPV6\] or \[IPV6\]:PORT/],
    ["[a.b]:1", /is not an IPv6 address in brackets/],
    ["[]:1", /is not an IPv6 address/],
    ["g::1:7777", /is not HOST, HOST:PORT or \[IPV6\]:PORT/],
    ["a:1,A:1", /server 2 of 2, "A:1", names a:1 a second time/],
    ["a,a:7777", /names a:7777 a second time/],
    ["h".repeat(254), /is not a host name/],
    [Array.from({ length: MAX_SERVERS + 1 }, (_, i) => `h${i}`).join(","), /at most 32 servers/],
  ];
  for (const [text, message] of bad) {
    assert.throws(() => parseServerList(text, 7777), (e: unknown) => {
      assert.ok(e instanceof UsageError, String(e));
      assert.match(e.message, message);
      return true;
    }, text);
  }
  // The source names where the list came from; a long entry is cut in the message.
  assert.throws(() => parseServerList("x y", 1, "JIM_HOST"), /^UsageError: Invalid JIM_HOST: /);
  assert.throws(() => parseServerList(`${"a".repeat(300)} b`, 1), (e: unknown) => {
    assert.ok((e as Error).message.length < 200);
    return true;
  });
});

Deno.test("formatServerList() writes what parseServerList() reads", () => {
  const servers = [{ host: "a", port: 1 }, { host: "::1", port: 2 }, {
    host: "b.example",
    port: 3,
  }];
  assert.equal(formatServerList(servers), "a:1,[::1]:2,b.example:3");
  assert.deepEqual(parseServerList(formatServerList(servers), 9), servers);
  assert.equal(formatServer({ host: "::1", port: 7777 }), "[::1]:7777");
});
