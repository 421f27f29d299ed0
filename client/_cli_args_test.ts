import { assert } from "./_assert.ts";
import { parseCli, UsageError } from "./_cli_args.ts";

Deno.test("parseCli() applies defaults, flags and JIM_* variables in that order", async (t) => {
  await t.step("defaults", () => {
    const config = parseCli([], {});
    assert.equal(config.command, "chat");
    assert.equal(config.host, "127.0.0.1");
    assert.equal(config.port, 7777);
    assert.equal(config.tls, false);
    assert.equal(config.legacyAuth, false);
    assert.equal(config.noReconnect, false);
    assert.equal(config.user, undefined);
  });

  await t.step("every global flag has a variable", () => {
    const config = parseCli([], {
      JIM_USER: "alice",
      JIM_HOST: "chat.example",
      JIM_PORT: "8000",
      JIM_TLS: "yes",
      JIM_CA: "/ca.pem",
      JIM_LEGACY_AUTH: "1",
      JIM_DATA_DIR: "/data",
      JIM_PASSWORD_STDIN: "true",
      JIM_NO_RECONNECT: "1",
    });
    assert.deepEqual(
      [config.user, config.host, config.port, config.tls, config.ca, config.legacyAuth],
      ["alice", "chat.example", 8000, true, "/ca.pem", true],
    );
    assert.deepEqual(
      [config.dataDir, config.passwordStdin, config.noReconnect],
      ["/data", true, true],
    );
    assert.equal(parseCli(["--no-reconnect"], {}).noReconnect, true);
  });

  await t.step("flags win over variables", () => {
    const config = parseCli(["--user", "bob", "-p", "9000", "-H", "h"], {
      JIM_USER: "alice",
      JIM_PORT: "8000",
      JIM_HOST: "x",
    });
    assert.deepEqual([config.user, config.port, config.host], ["bob", 9000, "h"]);
  });

  await t.step("global flags before or after the subcommand", () => {
    const before = parseCli(["-u", "alice", "--port", "1", "send", "--to", "bob", "hi", "you"], {});
    const after = parseCli(["send", "--to", "bob", "hi", "you", "-u", "alice", "--port", "1"], {});
    for (const config of [before, after]) {
      assert.deepEqual(
        [config.command, config.user, config.port, config.to, config.args],
        ["send", "alice", 1, "bob", ["hi", "you"]],
      );
    }
  });

  await t.step("a list of servers, --port for those without one", () => {
    const config = parseCli(["-H", "a.example:7001, b ,[::1]:7003,::2", "-p", "7000"], {});
    assert.deepEqual(config.servers, [
      { host: "a.example", port: 7001 },
      { host: "b", port: 7000 },
      { host: "::1", port: 7003 },
      { host: "::2", port: 7000 },
    ]);
    // The first names the local history.
    assert.deepEqual([config.host, config.port], ["a.example", 7001]);
    const env = parseCli([], { JIM_HOST: "x:1,y:2" });
    assert.deepEqual(env.servers, [{ host: "x", port: 1 }, { host: "y", port: 2 }]);
  });

  await t.step("history with --limit and --json", () => {
    const config = parseCli(["history", "bob", "-n", "5", "--json", "-u", "alice"], {});
    assert.deepEqual([config.args, config.limit, config.json], [["bob"], 5, true]);
  });
});

Deno.test("parseCli() rejects malformed input with a UsageError naming it", () => {
  const bad: [string[], Record<string, string>, RegExp][] = [
    [["--port", "0"], {}, /Invalid --port/],
    [["--port", "12ab"], {}, /Invalid --port/],
    [[], { JIM_PORT: "70000" }, /Invalid JIM_PORT/],
    [[], { JIM_LEGACY_AUTH: "sure" }, /Invalid JIM_LEGACY_AUTH/],
    [["--user", "x".repeat(26)], {}, /Invalid user/],
    [["--host", "a b"], {}, /Invalid --host: "a b" is not a host name/],
    [["--host", "a:7777,"], {}, /Invalid --host: server 2 of 2 is empty/],
    [["--host", "a:7777,b:0"], {}, /Invalid --host: server 2 of 2, "b:0", has a port/],
    [[], { JIM_HOST: "a,[::1" }, /Invalid JIM_HOST: server 2 of 2, "\[::1", is not \[IPV6\]/],
    [["--host", "a,A"], {}, /names a:7777 a second time/],
    [["chat", "extra"], {}, /Unexpected argument: extra/],
    [["history", "a", "b"], {}, /Expected one contact/],
    [["history", "a b"], {}, /Invalid contact name/],
    [["send", "--to", "b c", "x"], {}, /Invalid --to/],
    [["send", "--to", "bob", "  "], {}, /Missing message text/],
    [["--json"], {}, /--json belongs to "history"/],
    [["send", "--to", "bob", "x", "--limit", "3"], {}, /--limit belongs to "history"/],
    [["--user"], {}, /argument missing/],
  ];
  for (const [argv, env, message] of bad) {
    assert.throws(() => parseCli(argv, env), (e: unknown) => {
      assert.ok(e instanceof UsageError, String(e));
      assert.match(e.message, message);
      return true;
    }, argv.join(" "));
  }
});

Deno.test("parseCli() knows extra commands it is given", () => {
  assert.throws(() => parseCli(["gui"], {}), /Unknown command: gui/);
  assert.equal(parseCli(["gui"], {}, ["chat", "send", "history", "gui"]).command, "gui");
});
