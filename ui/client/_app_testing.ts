/**
 * Test support for the chat GUI's routes: a ChatController behind the real Hono app, driven
 * in process with app.request, and a reader for its live event stream.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { ReconnectOptions } from "../../client/mod.ts";
import { newAccessToken } from "../mod.ts";
import { createChatApp } from "./app.ts";
import { ChatController } from "./chat_controller.ts";
import type { ChatState } from "./_types.ts";

const ORIGIN = "http://127.0.0.1:8081";
const HOST = "127.0.0.1:8081";
export const PASSWORDS: Record<string, string> = {
  alice: "alice-secret-пароль",
  bob: "bob-secret",
  carol: "carol-secret",
};
export const USERS = Object.entries(PASSWORDS).map(([login, password]) => ({ login, password }));

export interface Reply<T = Record<string, unknown>> {
  status: number;
  body: T;
}

export interface Gui extends AsyncDisposable {
  chat: ChatController;
  dataDir: string;
  api<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<Reply<T>>;
  raw(path: string, init?: RequestInit): Promise<Response>;
  connect(user: string, srv: { host: string; port: number }): Promise<Reply<ChatState>>;
}

export async function openGui(
  options: { dataDir?: string; reconnect?: false | ReconnectOptions; presencePollMs?: number } = {},
): Promise<Gui> {
  const dataDir = options.dataDir ?? await Deno.makeTempDir({ prefix: "jim-chat-gui-test-" });
  const owned = options.dataDir === undefined;
  // Small reconnect delays keep the tests quick; nothing asserts on time.
  const reconnect = options.reconnect ?? { initialDelay: 10, maxDelay: 80 };
  const chat = new ChatController({
    dataDir,
    presencePollMs: options.presencePollMs ?? 60_000,
    reconnect,
  });
  const token = newAccessToken();
  const app = createChatApp({
    token,
    chat,
    port: 8081,
    assets: {
      "chat.js": { type: "text/javascript; charset=utf-8", body: "", hash: "abc" },
      "styles.css": { type: "text/css; charset=utf-8", body: "", hash: "def" },
    },
  });
  const login = await app.request(`${ORIGIN}/?token=${token}`, { headers: { host: HOST } });
  assert.equal(login.status, 303);
  const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0]!;
  const raw = (path: string, init: RequestInit = {}) =>
    Promise.resolve(app.request(`${ORIGIN}${path}`, {
      ...init,
      headers: { host: HOST, origin: ORIGIN, cookie, ...(init.headers ?? {}) },
    }));
  const api = async <T>(method: string, path: string, body?: unknown): Promise<Reply<T>> => {
    const res = await raw(path, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() as T };
  };
  return {
    chat,
    dataDir,
    api,
    raw,
    connect: (user, srv) =>
      api<ChatState>("POST", "/api/connect", {
        user,
        password: PASSWORDS[user],
        host: srv.host,
        port: srv.port,
      }),
    async [Symbol.asyncDispose]() {
      await chat.close();
      if (owned) await Deno.remove(dataDir, { recursive: true });
    },
  };
}

export async function waitFor(what: string, check: () => boolean | Promise<boolean>, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function readLive(
  res: Response,
  done: (events: { topic: string; data: unknown }[]) => boolean,
): Promise<{ topic: string; data: unknown }[]> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const events: { topic: string; data: unknown }[] = [];
  let buffer = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Timed out on the stream after ${JSON.stringify(events)}`)),
      10_000,
    );
  });
  try {
    while (!done(events)) {
      const { value, done: ended } = await Promise.race([reader.read(), timeout]);
      if (ended) throw new Error(`The stream ended after ${JSON.stringify(events)}`);
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6));
        const type = block.split("\n").find((l) => l.startsWith("event: "));
        if (data.length > 0 && type === undefined) events.push(JSON.parse(data.join("\n")));
      }
    }
    return events;
  } finally {
    clearTimeout(timer);
    await reader.cancel().catch(() => {});
  }
}
