import assert from "node:assert/strict";
import type { MessageView } from "../_types.ts";
import { conversationItems } from "./conversation_items.ts";
import type { OutboxItem } from "./outbox.ts";

const stored = (id: number, time: number, clientId?: string): MessageView => ({
  id,
  contact: "bob",
  direction: "out",
  from: "alice",
  to: "bob",
  text: `m${id}`,
  time,
  status: "delivered",
  ...(clientId ? { clientId } : {}),
});
const queued = (clientId: string, to: string, time: number, state: OutboxItem["state"]) => ({
  clientId,
  account: "alice@h:1",
  to,
  text: clientId,
  time,
  state,
});

Deno.test("conversationItems() puts this contact's queued messages after the stored ones", () => {
  const items = conversationItems(
    "bob",
    "alice",
    "alice@h:1",
    [stored(1, 100), stored(2, 300, "aaaaaaaa1")],
    [
      { ...queued("aaaaaaaa5", "bob", 200, "queued"), account: "erin@h:1" }, // someone else's
      queued("aaaaaaaa1", "bob", 290, "sending"), // stored already: shown once
      queued("aaaaaaaa2", "bob", 200, "queued"), // typed with a clock behind: still last
      queued("aaaaaaaa3", "carol", 400, "queued"), // another conversation
      { ...queued("aaaaaaaa4", "bob", 500, "failed"), error: "Too long" },
    ],
  );
  assert.deepEqual(items.map((i) => [i.key, i.status, i.time]), [
    ["m1", "delivered", 100],
    ["m2", "delivered", 300],
    ["caaaaaaaa2", "queued", 300],
    ["caaaaaaaa4", "refused", 500],
  ]);
  assert.equal(items[3]!.error, "Too long");
  assert.equal(items[2]!.from, "alice");
});
