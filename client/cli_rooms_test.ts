/**
 * The console client and rooms (issue 13), through piped stdin/stdout against the scripted
 * server (client/_fake_server.ts): /join (and creating), /rooms, /members, /invite, /msg and
 * /chat to a room, incoming lines as `[12:01:02] #room alice: text`, /history #room, /leave,
 * the owner's /kick and /delete with the events in words, and a clear line for each refusal.
 */
import { assert, tempDir } from "./_assert.ts";
import { FakeConvServer } from "./_fake_server.ts";
import { ClientProcess, runClient } from "./_spawn.ts";
import { ChatSession } from "./chat_session.ts";

const USERS = ["alice", "bob", "carol"].map((login) => ({ login, password: `${login}-pw` }));

Deno.test("jim-client console: rooms from /join to /delete, with every refusal spelled out", async () => {
  await using srv = await FakeConvServer.start({ users: USERS });
  await using dir = await tempDir("jim-cli-rooms-");
  const env = { JIM_DATA_DIR: `${dir}/console`, JIM_PORT: String(srv.port) };
  await using alice = new ClientProcess(["-u", "alice"], { ...env, JIM_PASSWORD: "alice-pw" });
  await alice.waitFor("* Type /help for commands");
  await using bob = await ChatSession.connect({
    port: srv.port,
    user: "bob",
    password: "bob-pw",
    dataDir: `${dir}/bob`,
    reconnect: false,
  });

  // Refusals before anything is sent, then the server's.
  await alice.line("/join general");
  await alice.waitFor('! A room name must start with "#"');
  await alice.line("/join #a.b c");
  await alice.waitFor("! Usage: /join #room [invite-only]");
  await alice.line("/msg #nowhere hello");
  await alice.waitFor("Not delivered to #nowhere: No such room: #nowhere");
  await alice.line("/chat #nowhere");
  await alice.waitFor("! Not a member of #nowhere: /join #nowhere first");

  await alice.line("/join #team");
  await alice.waitFor("* Created #team: you own it");
  await bob.join("#team");
  await alice.waitFor("* bob joined #team\n");
  await alice.line("/rooms");
  await alice.waitFor("Rooms (1):\n  #team (yours, 2 members)");
  await alice.line("/members #team");
  await alice.waitFor("Members of #team (2):\n  ● alice ★ owner\n  ● bob\n");

  // Incoming room lines, and /chat: plain lines go to the room.
  await bob.send("#team", "morning all");
  await alice.waitFor(/\[\d\d:\d\d:\d\d\] #team bob: morning all\n/);
  await alice.line("/chat #team");
  await alice.waitFor("* Chatting in #team: plain lines go to everyone in it");
  await alice.line("morning bob");
  await alice.waitFor(/\] #team alice: morning bob\n/);
  assert.ok(srv.messages.some((m) => m.to === "#team" && m.text === "morning bob"));
  await alice.line("/history #team");
  await alice.waitFor(/\] #\d+ #team bob: morning all\n.*\] #\d+ #team alice: morning bob\n/);

  // An invite-only room refuses the uninvited, with the server's words.
  await bob.join("#inner", { inviteOnly: true });
  await alice.line("/join #inner");
  await alice.waitFor("! Room is invite-only: #inner");
  await bob.invite("#inner", "alice");
  await alice.waitFor("* You were invited to #inner by bob: /join #inner");
  await alice.line("/join #inner");
  await alice.waitFor("* Joined #inner: /chat #inner to talk there");
  await alice.line("/kick #inner bob");
  await alice.waitFor("! Only the owner of #inner can do that");
  await alice.line("/invite #inner carol");
  await alice.waitFor("* Invited carol to #inner: /join #inner lets them in");
  await alice.line("/leave #inner");
  await alice.waitFor("* Left #inner: nothing more of it arrives");
  await alice.line("/leave #inner");
  await alice.waitFor("! Not a member of #inner");

  // The owner's actions, and what the others are told.
  await alice.line("/kick #team bob");
  await alice.waitFor("* Removed bob from #team");
  await bob.join("#team");
  await alice.line("/owner #team bob");
  await alice.waitFor("* bob owns #team now");
  await bob.deleteRoom("#team");
  await alice.waitFor("* #team was deleted by bob");
  // The open chat was in the deleted room: plain lines no longer go there.
  await alice.line("still there?");
  await alice.waitFor("! No chat open: /chat NAME first, or /msg NAME text");
  await alice.line("/rooms");
  await alice.waitFor("No rooms yet: /join #room");
  await alice.line("/quit");
  assert.equal(await alice.exit(), 0);
});

Deno.test("jim-client send and history take a #room", async () => {
  await using srv = await FakeConvServer.start({ users: USERS });
  await using dir = await tempDir("jim-cli-rooms-");
  await using bob = await ChatSession.connect({
    port: srv.port,
    user: "bob",
    password: "bob-pw",
    dataDir: `${dir}/bob`,
    reconnect: false,
  });
  await bob.join("#ops");
  const env = { JIM_DATA_DIR: String(dir), JIM_PASSWORD: "alice-pw", JIM_PORT: String(srv.port) };
  const outside = await runClient(["send", "--to", "#ops", "hello", "-u", "alice"], env);
  assert.equal(outside.code, 1);
  assert.equal(outside.stderr, "jim-client: Not delivered to #ops: Not a member of #ops\n");
  // Let in behind the protocol: a member who has not joined from this data directory yet.
  srv.rooms.get("#ops")!.members.push("alice");
  const posted = await runClient(["send", "--to", "#ops", "deploy done", "-u", "alice"], env);
  assert.equal(posted.code, 0, posted.stderr);
  assert.match(posted.stdout, /^Posted to #ops \(#\d+\)\n$/);
  const history = await runClient(["history", "#ops", "-u", "alice"], env);
  assert.equal(history.code, 0, history.stderr);
  assert.match(history.stdout, /#\d+ #ops alice: deploy done\n/);
  const bad = await runClient(["history", "#no way", "-u", "alice"], env);
  assert.equal(bad.code, 2);
});
