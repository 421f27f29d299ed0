import assert from "node:assert/strict";
import { TypedEventTarget } from "./_typed_event_target.ts";

interface Events {
  tick: CustomEvent<number>;
}

class Clock extends TypedEventTarget<Events> {
  tick(n: number): void {
    this.emit("tick", n);
  }
}

Deno.test("TypedEventTarget dispatches CustomEvents to typed listeners until removed", () => {
  const clock = new Clock();
  const seen: number[] = [];
  const listener = (e: CustomEvent<number>) => seen.push(e.detail);
  clock.addEventListener("tick", listener);
  clock.tick(1);
  clock.removeEventListener("tick", listener);
  clock.tick(2);
  assert.deepEqual(seen, [1]);
});
