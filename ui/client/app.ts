/**
 * The chat GUI's Hono app: the shared GUI skeleton (access token, Host and Origin checks,
 * security headers, body limit, embedded bundle) plus the chat API over one
 * {@linkcode ChatController}.
 *
 * @module
 */
import type { Context, Hono } from "hono";
import { JimError } from "../../protocol/mod.ts";
import {
  type AccessTokens,
  createGuiApp,
  guiErrorHandler,
  httpStatusForJimCode,
  type PortSource,
  readJsonObject,
} from "../mod.ts";
import type { EmbeddedAsset } from "../dist/assets.gen.ts";
import { type ChatController, ChatInputError, ServerUnreachableError } from "./chat_controller.ts";
import {
  checkConnect,
  checkConversation,
  checkLogin,
  checkMessage,
  checkMessageId,
  checkPage,
  checkRoom,
  checkSearch,
} from "./_validate.ts";

/** Options for {@linkcode createChatApp}. */
export interface ChatAppOptions {
  /** The GUI's one-time access tokens, or the first token printed in its URL. */
  token: string | AccessTokens;
  /** The state holder the routes act on. */
  chat: ChatController;
  /** The GUI's port, for the Host and Origin checks. */
  port?: PortSource;
  /** Extra hostnames to accept besides localhost and 127.0.0.1. */
  hosts?: readonly string[];
  /** Embedded assets; tests may pass their own. */
  assets?: Readonly<Record<string, EmbeddedAsset>>;
}

/**
 * Maps the chat's errors to HTTP: an unreachable server is 502; a JIM refusal the shared
 * handler has no HTTP status for (e.g. 503 server full) is 502 with the server's text; the
 * rest goes to the shared handler.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * const app = new Hono();
 * app.onError(chatErrorHandler);
 * ```
 */
export function chatErrorHandler(err: Error, c: Context): Response {
  if (err instanceof ServerUnreachableError) return c.json({ error: err.message }, 502);
  if (err instanceof JimError && httpStatusForJimCode(err.code) === 500) {
    return c.json({ error: err.message, code: err.code }, 502);
  }
  return guiErrorHandler(err, c);
}

/**
 * Creates the chat GUI app.
 *
 * @example
 * ```ts
 * import { newAccessToken } from "../access.ts";
 * import { ChatController } from "./chat_controller.ts";
 * const chat = new ChatController({ dataDir: "/tmp/jim-gui" });
 * const app = createChatApp({ token: newAccessToken(), chat, port: 8081 });
 * Deno.serve({ hostname: "127.0.0.1", port: 8081 }, app.fetch);
 * ```
 */
export function createChatApp(options: ChatAppOptions): Hono {
  const { chat } = options;
  const app = createGuiApp({
    token: options.token,
    title: "JIM Messenger",
    script: "chat.js",
    port: options.port,
    hosts: options.hosts,
    assets: options.assets,
    // A message of 4,096 characters can take 16 KiB of UTF-8 or 24 KiB of JSON escapes.
    bodyLimit: 32 * 1024,
  });
  app.onError(chatErrorHandler);

  app.get("/api/state", (c) => c.json(chat.state()));
  app.post("/api/connect", async (c) => {
    const params = checkConnect(await readJsonObject(c));
    return c.json(await chat.connect(params));
  });
  app.post("/api/disconnect", async (c) => c.json(await chat.disconnect()));

  app.get("/api/contacts", (c) => c.json(chat.contacts()));
  app.post("/api/contacts", async (c) => {
    const body = await readJsonObject(c);
    const login = checkLogin(
      typeof body.login === "string" ? body.login.trim() : body.login,
      "login",
    );
    return c.json(await chat.addContact(login));
  });
  app.delete("/api/contacts/:login", async (c) => {
    const login = checkLogin(c.req.param("login"), "login");
    return c.json(await chat.removeContact(login));
  });
  app.post("/api/contacts/:login/read", async (c) => {
    const login = checkLogin(c.req.param("login"), "login");
    return c.json(await chat.markRead(login));
  });

  app.get("/api/rooms", (c) => c.json(chat.rooms()));
  app.post("/api/rooms", async (c) => {
    const body = await readJsonObject(c);
    const room = checkRoom(body.room);
    if (body.inviteOnly !== undefined && typeof body.inviteOnly !== "boolean") {
      throw new ChatInputError(400, "Invalid field: inviteOnly must be true or false", "room");
    }
    return c.json(await chat.joinRoom(room, body.inviteOnly === true));
  });
  app.delete("/api/rooms/:room", async (c) => {
    return c.json(await chat.leaveRoom(checkRoom(c.req.param("room"))));
  });
  app.get("/api/rooms/:room/members", async (c) => {
    return c.json(await chat.roomMembers(checkRoom(c.req.param("room"))));
  });
  app.post("/api/rooms/:room/read", async (c) => {
    await chat.markRead(checkRoom(c.req.param("room")));
    return c.json(chat.rooms());
  });
  app.post("/api/rooms/:room/delete", async (c) => {
    return c.json(await chat.roomAction(checkRoom(c.req.param("room")), "delete"));
  });
  for (const action of ["invite", "kick", "owner"] as const) {
    app.post(`/api/rooms/:room/${action}`, async (c) => {
      const room = checkRoom(c.req.param("room"));
      const body = await readJsonObject(c);
      const login = checkLogin(
        typeof body.login === "string" ? body.login.trim() : body.login,
        "login",
      );
      return c.json(await chat.roomAction(room, action, login));
    });
  }

  app.get("/api/messages/:contact", async (c) => {
    const contact = checkConversation(c.req.param("contact"), "contact");
    const page = checkPage(c.req.query("before"), c.req.query("limit"), {
      after: c.req.query("after"),
      around: c.req.query("around"),
    });
    return c.json(await chat.messages(contact, page));
  });
  app.get("/api/search", (c) => {
    const { query, limit } = checkSearch(c.req.query("q"), c.req.query("limit"));
    return c.json(chat.search(query, limit));
  });
  app.post("/api/messages", async (c) => {
    const { to, text, clientId } = checkMessage(await readJsonObject(c));
    return c.json({ message: await chat.send(to, text, { clientId }) });
  });
  app.post("/api/messages/:id/retry", async (c) => {
    const id = checkMessageId(c.req.param("id"));
    return c.json({ message: await chat.retry(id) });
  });

  app.get("/api/service", (c) => c.json({ entries: chat.serviceLog() }));
  app.get("/api/events", (c) => chat.hub.stream(c));
  return app;
}
