/**
 * get_users: the registered logins, a page at a time.
 *
 * @module
 */
import { encodeFrame, MAX_NAME_LENGTH, Status } from "../../protocol/mod.ts";
import type { Handler } from "./context.ts";

/** Logins read for one page; fewer are sent when they do not fit in a frame. */
const USERS_PER_PAGE = 1000;
/** The longest JSON string an account name can be (25 characters of 4 UTF-8 bytes, quoted). */
const MAX_NAME_JSON_BYTES = 2 + 4 * MAX_NAME_LENGTH;
const utf8 = new TextEncoder();

/**
 * `{"action":"get_users","after":"m"}`: 202 with as many logins as fit in a frame, and `next`
 * when more follow. The list is unbounded, the frame is not.
 */
export const getUsers: Handler<"get_users"> = async (ctx, request) => {
  const page = await ctx.storage.users.loginsAfter(request.after, USERS_PER_PAGE + 1);
  const max = ctx.limits.maxFrameBytes;
  // Room for the frame around the names, with a `next` as long as any name can be.
  let size = encodeFrame({ response: Status.ACCEPTED, users: [], next: "" }).length +
    MAX_NAME_JSON_BYTES;
  const users: string[] = [];
  for (const login of page.slice(0, USERS_PER_PAGE)) {
    const bytes = utf8.encode(JSON.stringify(login)).length + 1;
    if (users.length > 0 && size + bytes > max) break;
    size += bytes;
    users.push(login);
  }
  ctx.session.reply(
    users.length < page.length
      ? { response: Status.ACCEPTED, users, next: users.at(-1)! }
      : { response: Status.ACCEPTED, users },
  );
};
