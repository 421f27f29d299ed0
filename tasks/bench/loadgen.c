/*
 * loadgen.c: the compiled JIM load generator behind `deno task bench`.
 *
 * Why C: a load generator written in the server's own runtime spends about as much CPU per
 * message as the server it measures, so on a 2-core machine it, not the server, sets the
 * pace. This one is a single thread around one epoll loop with non-blocking sockets and no
 * allocation on the message path; it needs a small fraction of a core for the rates jim
 * reaches.
 *
 * It speaks just enough JIM for the bench:
 *   - the legacy (seed) login: presence, a 401 carrying a token, then authenticate with
 *     hex(HMAC-MD5(key = the stored value's 32 bytes, message = the token's 16 bytes));
 *     the stored value is PBKDF2 output that the harness computes once and passes in, so
 *     only MD5 is needed here (a small RFC 1321 implementation below);
 *   - msg requests, their responses, pushed msgs, and answering a probe with presence.
 * Frames are read as newline-terminated lines: jim-server and the bench relay end every
 * frame with "\n", and JSON text never contains a raw newline. Lines are not parsed as JSON;
 * the generator looks for the few fixed substrings it needs, which is safe because the only
 * free text on the wire is the message text it wrote itself.
 *
 * Each message carries its send time (CLOCK_MONOTONIC, ns) in its text, so the receiver
 * measures latency without any per-pair bookkeeping and in any workload.
 *
 * Usage (tasks/bench/generator.ts drives it):
 *   loadgen --port N --mode pingpong|flood|idle --stored HEX --count N
 *           [--prefix p] [--window W] [--concurrency C] [--port2 M]
 *   loadgen --self-test
 * Users are PREFIX0 .. PREFIX(N-1); in pingpong and flood, users 2i and 2i+1 form pair i
 * (in flood, 2i sends and 2i+1 receives). With --port2 the odd users connect to port M, so
 * that each pair spans two servers (cluster benchmarks: the peers on different nodes).
 *
 * Control: one command per line on stdin, one JSON object per line on stdout.
 *   (all logged in)   -> {"event":"ready","logins":N,"login_seconds":S}
 *   "go"              starts the traffic
 *   "mark"            starts the measured window: message count and latencies reset
 *   "report"          -> {"event":"progress","messages":N}   (messages since mark)
 *   "stop"            -> {"event":"result",...} and exit: messages and latencies since
 *                        mark, errors (non-200 responses) since go
 * Any failure prints one line to stderr and exits with status 1.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ MD5 (RFC 1321) */

typedef struct {
  uint32_t state[4];
  uint64_t length; /* bytes hashed so far */
  uint8_t block[64];
  size_t used; /* bytes waiting in block */
} md5_ctx;

/* K[i] = floor(abs(sin(i + 1)) * 2^32), RFC 1321 section 3.4. */
static const uint32_t MD5_K[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613,
    0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193,
    0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d,
    0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
    0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122,
    0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
    0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244,
    0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
    0xeb86d391};

/* Per-round left rotations: four per round, repeated for the round's 16 steps. */
static const uint8_t MD5_S[16] = {7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21};

static uint32_t rotl32(uint32_t x, unsigned n) { return (x << n) | (x >> (32 - n)); }

static void md5_compress(uint32_t state[4], const uint8_t block[64]) {
  uint32_t m[16];
  for (int i = 0; i < 16; i++) {
    /* MD5 reads its input as little-endian words, whatever the host's byte order. */
    m[i] = (uint32_t)block[i * 4] | (uint32_t)block[i * 4 + 1] << 8 |
           (uint32_t)block[i * 4 + 2] << 16 | (uint32_t)block[i * 4 + 3] << 24;
  }
  uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
  for (int i = 0; i < 64; i++) {
    uint32_t f;
    int g;
    if (i < 16) {
      f = (b & c) | (~b & d);
      g = i;
    } else if (i < 32) {
      f = (d & b) | (~d & c);
      g = (5 * i + 1) % 16;
    } else if (i < 48) {
      f = b ^ c ^ d;
      g = (3 * i + 5) % 16;
    } else {
      f = c ^ (b | ~d);
      g = (7 * i) % 16;
    }
    f += a + MD5_K[i] + m[g];
    a = d;
    d = c;
    c = b;
    b += rotl32(f, MD5_S[(i / 16) * 4 + i % 4]);
  }
  state[0] += a;
  state[1] += b;
  state[2] += c;
  state[3] += d;
}

static void md5_init(md5_ctx *ctx) {
  static const uint32_t initial[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
  memcpy(ctx->state, initial, sizeof initial);
  ctx->length = 0;
  ctx->used = 0;
}

static void md5_update(md5_ctx *ctx, const uint8_t *data, size_t len) {
  ctx->length += len;
  while (len > 0) {
    size_t take = 64 - ctx->used < len ? 64 - ctx->used : len;
    memcpy(ctx->block + ctx->used, data, take);
    ctx->used += take;
    data += take;
    len -= take;
    if (ctx->used == 64) {
      md5_compress(ctx->state, ctx->block);
      ctx->used = 0;
    }
  }
}

static void md5_final(md5_ctx *ctx, uint8_t out[16]) {
  /* Padding: 0x80, zeros up to 56 mod 64, then the length in bits, little-endian. */
  uint64_t bits = ctx->length * 8;
  uint8_t pad = 0x80;
  md5_update(ctx, &pad, 1);
  pad = 0;
  while (ctx->used != 56) md5_update(ctx, &pad, 1);
  uint8_t length[8];
  for (int i = 0; i < 8; i++) length[i] = (uint8_t)(bits >> (8 * i));
  md5_update(ctx, length, 8);
  for (int i = 0; i < 4; i++) {
    for (int j = 0; j < 4; j++) out[i * 4 + j] = (uint8_t)(ctx->state[i] >> (8 * j));
  }
}

/* HMAC (RFC 2104) with MD5; keys longer than a block are never used here. */
static void hmac_md5(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t msg_len,
                     uint8_t out[16]) {
  uint8_t pad[64];
  uint8_t inner[16];
  md5_ctx ctx;
  memset(pad, 0, sizeof pad);
  memcpy(pad, key, key_len);
  for (int i = 0; i < 64; i++) pad[i] ^= 0x36;
  md5_init(&ctx);
  md5_update(&ctx, pad, 64);
  md5_update(&ctx, msg, msg_len);
  md5_final(&ctx, inner);
  for (int i = 0; i < 64; i++) pad[i] ^= 0x36 ^ 0x5c;
  md5_init(&ctx);
  md5_update(&ctx, pad, 64);
  md5_update(&ctx, inner, 16);
  md5_final(&ctx, out);
}

/* ----------------------------------------------------------------------------- helpers */

static void die(const char *format, ...) {
  va_list args;
  va_start(args, format);
  fputs("loadgen: ", stderr);
  vfprintf(stderr, format, args);
  fputc('\n', stderr);
  va_end(args);
  exit(1);
}

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Decodes exactly len bytes of hex; -1 on a non-hex character. */
static int from_hex(const char *hex, uint8_t *out, size_t len) {
  for (size_t i = 0; i < len * 2; i++) {
    char ch = hex[i];
    int v = ch >= '0' && ch <= '9'   ? ch - '0'
            : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
            : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                     : -1;
    if (v < 0) return -1;
    if (i % 2 == 0) out[i / 2] = (uint8_t)(v << 4);
    else out[i / 2] |= (uint8_t)v;
  }
  return 0;
}

static void to_hex(const uint8_t *bytes, size_t len, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < len; i++) {
    out[i * 2] = digits[bytes[i] >> 4];
    out[i * 2 + 1] = digits[bytes[i] & 15];
  }
  out[len * 2] = '\0';
}

/* ------------------------------------------------------------------------- the state */

enum mode { PINGPONG, FLOOD, IDLE };
enum state { CONNECTING, AWAIT_TOKEN, AWAIT_LOGIN, READY };

typedef struct {
  int fd;
  enum state state;
  char *in; /* bytes read but not yet a complete line */
  size_t in_len;
  char *out; /* bytes the socket did not take yet */
  size_t out_len;
  int polling_out; /* EPOLLOUT registered */
} conn;

static struct {
  enum mode mode;
  int port;
  int port2; /* odd users connect here when set */
  const char *prefix;
  int count;
  int window;
  int concurrency;
  uint8_t stored[32]; /* the legacy stored value: the HMAC key */
  size_t in_cap, out_cap;
  conn *conns;
  int epoll;
  int started, logged_in;
  uint64_t login_started;
  int traffic;   /* between "go" and "stop": replies trigger new messages */
  int measuring; /* between "mark" and "stop": arrivals are counted */
  uint64_t mark_at;
  uint64_t messages;
  uint64_t errors;
  uint64_t *latencies; /* ns, one per message received while measuring */
  size_t latencies_len, latencies_cap;
} g;

/* 80 characters that pad every message text to 100 (the 't', 19 digits, then these). */
static const char PADDING[] =
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

static void watch(conn *c, int index, uint32_t events, int op) {
  struct epoll_event ev = {.events = events, .data.u32 = (uint32_t)index + 1};
  if (epoll_ctl(g.epoll, op, c->fd, &ev) < 0) die("epoll_ctl: %s", strerror(errno));
}

/* Flushes what the socket takes; keeps the rest and asks for EPOLLOUT until it drains. */
static void flush(conn *c, int index) {
  while (c->out_len > 0) {
    ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) break;
      die("send as %s%d: %s", g.prefix, index, strerror(errno));
    }
    memmove(c->out, c->out + n, c->out_len - (size_t)n);
    c->out_len -= (size_t)n;
  }
  int want = c->out_len > 0;
  if (want != c->polling_out && c->state != CONNECTING) {
    watch(c, index, EPOLLIN | (want ? EPOLLOUT : 0), EPOLL_CTL_MOD);
    c->polling_out = want;
  }
}

static void queue(conn *c, int index, const char *bytes, size_t len) {
  if (c->out_len + len > g.out_cap) {
    die("output buffer of %s%d full: the server stopped reading", g.prefix, index);
  }
  memcpy(c->out + c->out_len, bytes, len);
  c->out_len += len;
  /* Only a socket with nothing pending is written at once; otherwise EPOLLOUT drains it. */
  if (c->out_len == len) flush(c, index);
}

static void send_msg(int from, int to) {
  char frame[256];
  int len = snprintf(frame, sizeof frame,
                     "{\"action\":\"msg\",\"time\":0,\"to\":\"%s%d\",\"message\":\"t%019llu%s\"}\n",
                     g.prefix, to, (unsigned long long)now_ns(), PADDING);
  queue(&g.conns[from], from, frame, (size_t)len);
}

static void send_presence(int index) {
  char frame[160];
  int len = snprintf(frame, sizeof frame,
                     "{\"action\":\"presence\",\"time\":0,\"user\":{\"account_name\":\"%s%d\"}}\n",
                     g.prefix, index);
  queue(&g.conns[index], index, frame, (size_t)len);
}

static void start_connection(int index) {
  conn *c = &g.conns[index];
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) die("socket: %s", strerror(errno));
  /* Like every JIM client: small frames must not wait for the peer's delayed ACK. */
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int port = g.port2 > 0 && index % 2 == 1 ? g.port2 : g.port;
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
    die("connect to 127.0.0.1:%d: %s", port, strerror(errno));
  }
  c->state = CONNECTING;
  watch(c, index, EPOLLOUT, EPOLL_CTL_ADD);
  g.started++;
}

static void on_logged_in(int index) {
  g.conns[index].state = READY;
  g.logged_in++;
  if (g.started < g.count) start_connection(g.started);
  if (g.logged_in == g.count) {
    printf("{\"event\":\"ready\",\"logins\":%d,\"login_seconds\":%.3f}\n", g.count,
           (double)(now_ns() - g.login_started) / 1e9);
    fflush(stdout);
  }
}

/* ------------------------------------------------------------------------ the protocol */

static void on_response(int index, int code, const char *line) {
  conn *c = &g.conns[index];
  switch (c->state) {
  case AWAIT_TOKEN: {
    const char *token = strstr(line, "\"token\":\"");
    uint8_t token_bytes[16], digest[16];
    if (code != 401 || !token || from_hex(token + 9, token_bytes, 16) < 0) {
      die("presence as %s%d: %s", g.prefix, index, line);
    }
    hmac_md5(g.stored, sizeof g.stored, token_bytes, 16, digest);
    char digest_hex[33], frame[200];
    to_hex(digest, 16, digest_hex);
    int len = snprintf(frame, sizeof frame,
                       "{\"action\":\"authenticate\",\"time\":0,\"user\":{\"account_name\":\"%s%d\","
                       "\"password\":\"%s\"}}\n",
                       g.prefix, index, digest_hex);
    c->state = AWAIT_LOGIN;
    queue(c, index, frame, (size_t)len);
    return;
  }
  case AWAIT_LOGIN:
    if (code != 200) die("authenticate as %s%d: %s", g.prefix, index, line);
    on_logged_in(index);
    return;
  case READY:
    if (code != 200 && g.traffic) g.errors++;
    /* Flood: every response frees a place in the sender's window. */
    if (g.mode == FLOOD && index % 2 == 0 && g.traffic) send_msg(index, index + 1);
    return;
  case CONNECTING:
    return;
  }
}

static void on_push(int index, const char *line) {
  if (strstr(line, "\"action\":\"probe\"")) {
    send_presence(index); /* the server's "are you there?" */
    return;
  }
  if (!strstr(line, "\"action\":\"msg\"")) return;
  const char *stamp = strstr(line, "\"message\":\"t");
  if (stamp && g.measuring) {
    uint64_t sent = strtoull(stamp + 12, NULL, 10);
    if (g.latencies_len == g.latencies_cap) {
      g.latencies_cap = g.latencies_cap ? g.latencies_cap * 2 : 1 << 16;
      g.latencies = realloc(g.latencies, g.latencies_cap * sizeof *g.latencies);
      if (!g.latencies) die("out of memory for latencies");
    }
    g.latencies[g.latencies_len++] = now_ns() - sent;
    g.messages++;
  }
  /* Ping-pong: answer the partner at once, so each pair has one message in flight. */
  if (g.mode == PINGPONG && g.traffic) send_msg(index, index ^ 1);
}

static void on_line(int index, char *line) {
  if (strncmp(line, "{\"action\":", 10) == 0) {
    on_push(index, line);
    return;
  }
  const char *code = strstr(line, "\"response\":");
  if (!code) die("unexpected frame for %s%d: %s", g.prefix, index, line);
  on_response(index, atoi(code + 11), line);
}

static void on_readable(int index) {
  conn *c = &g.conns[index];
  ssize_t n = recv(c->fd, c->in + c->in_len, g.in_cap - c->in_len, 0);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    die("recv as %s%d: %s", g.prefix, index, strerror(errno));
  }
  if (n == 0) die("server closed the connection of %s%d", g.prefix, index);
  c->in_len += (size_t)n;
  size_t start = 0;
  for (size_t i = c->in_len - (size_t)n; i < c->in_len; i++) {
    if (c->in[i] != '\n') continue;
    c->in[i] = '\0';
    on_line(index, c->in + start);
    start = i + 1;
  }
  memmove(c->in, c->in + start, c->in_len - start);
  c->in_len -= start;
  if (c->in_len == g.in_cap) die("frame for %s%d longer than %zu bytes", g.prefix, index, g.in_cap);
}

static void on_writable(int index) {
  conn *c = &g.conns[index];
  if (c->state == CONNECTING) {
    int error = 0;
    socklen_t len = sizeof error;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &len);
    if (error) {
      die("connect to 127.0.0.1:%d: %s", g.port2 > 0 && index % 2 == 1 ? g.port2 : g.port,
          strerror(error));
    }
    c->state = AWAIT_TOKEN;
    watch(c, index, EPOLLIN, EPOLL_CTL_MOD);
    send_presence(index);
    return;
  }
  flush(c, index);
}

/* -------------------------------------------------------------------------- commands */

static int compare_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static double percentile_ms(double p) {
  if (g.latencies_len == 0) return -1;
  size_t i = (size_t)((double)g.latencies_len * p);
  if (i >= g.latencies_len) i = g.latencies_len - 1;
  return (double)g.latencies[i] / 1e6;
}

static void on_command(const char *command) {
  if (strcmp(command, "go") == 0) {
    g.traffic = 1;
    for (int pair = 0; pair + 1 < g.count && g.mode != IDLE; pair += 2) {
      int burst = g.mode == FLOOD ? g.window : 1;
      for (int i = 0; i < burst; i++) send_msg(pair, pair + 1);
    }
  } else if (strcmp(command, "mark") == 0) {
    g.measuring = 1;
    g.mark_at = now_ns();
    g.messages = 0;
    g.latencies_len = 0;
  } else if (strcmp(command, "report") == 0) {
    printf("{\"event\":\"progress\",\"messages\":%llu}\n", (unsigned long long)g.messages);
    fflush(stdout);
  } else if (strcmp(command, "stop") == 0) {
    double seconds = g.measuring ? (double)(now_ns() - g.mark_at) / 1e9 : 0;
    qsort(g.latencies, g.latencies_len, sizeof *g.latencies, compare_u64);
    printf("{\"event\":\"result\",\"messages\":%llu,\"seconds\":%.6f,\"errors\":%llu,"
           "\"p50_ms\":%.4f,\"p99_ms\":%.4f,\"max_ms\":%.4f}\n",
           (unsigned long long)g.messages, seconds, (unsigned long long)g.errors,
           percentile_ms(0.5), percentile_ms(0.99), percentile_ms(1));
    fflush(stdout);
    exit(0);
  } else {
    die("unknown command: %s", command);
  }
}

static void on_stdin(void) {
  static char buffer[256];
  static size_t len;
  ssize_t n = read(STDIN_FILENO, buffer + len, sizeof buffer - 1 - len);
  if (n <= 0) exit(0); /* the harness is gone */
  len += (size_t)n;
  char *start = buffer, *end;
  while ((end = memchr(start, '\n', len - (size_t)(start - buffer)))) {
    *end = '\0';
    on_command(start);
    start = end + 1;
  }
  len -= (size_t)(start - buffer);
  memmove(buffer, start, len);
  if (len == sizeof buffer - 1) die("command line too long");
}

/* ------------------------------------------------------------------------------ main */

/* Known answers: RFC 1321's MD5 suite and the legacy vector of docs/protocol.md. */
static int self_test(void) {
  static const char *cases[][2] = {
      {"", "d41d8cd98f00b204e9800998ecf8427e"},
      {"abc", "900150983cd24fb0d6963f7d28e17f72"},
      {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
       "57edf4a22be3c955ac49da2e2107b67a"},
  };
  int failures = 0;
  char hex[33];
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint8_t digest[16];
    md5_ctx ctx;
    md5_init(&ctx);
    md5_update(&ctx, (const uint8_t *)cases[i][0], strlen(cases[i][0]));
    md5_final(&ctx, digest);
    to_hex(digest, 16, hex);
    if (strcmp(hex, cases[i][1]) != 0) failures++;
    printf("md5(\"%s\") = %s\n", cases[i][0], hex);
  }
  uint8_t key[32], token[16], digest[16];
  from_hex("f6d5e52e48897f9b8dd785461f1d68ea83c2233e35443872713cccde747cda31", key, 32);
  from_hex("00112233445566778899aabbccddeeff", token, 16);
  hmac_md5(key, 32, token, 16, digest);
  to_hex(digest, 16, hex);
  if (strcmp(hex, "bdfe4c7d0c0da4ab8bef3f2b7013c92b") != 0) failures++;
  printf("legacy digest = %s\n", hex);
  return failures ? 1 : 0;
}

static void usage(void) {
  die("usage: loadgen --port N --mode pingpong|flood|idle --stored HEX --count N "
      "[--prefix p] [--window W] [--concurrency C] [--port2 M] | --self-test");
}

int main(int argc, char **argv) {
  const char *stored = NULL, *mode = NULL;
  g.prefix = "p";
  g.window = 32;
  g.concurrency = 200;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "--self-test") == 0) return self_test();
    if (i + 1 >= argc) usage();
    const char *value = argv[++i];
    if (strcmp(arg, "--port") == 0) g.port = atoi(value);
    else if (strcmp(arg, "--port2") == 0) g.port2 = atoi(value);
    else if (strcmp(arg, "--mode") == 0) mode = value;
    else if (strcmp(arg, "--stored") == 0) stored = value;
    else if (strcmp(arg, "--count") == 0) g.count = atoi(value);
    else if (strcmp(arg, "--prefix") == 0) g.prefix = value;
    else if (strcmp(arg, "--window") == 0) g.window = atoi(value);
    else if (strcmp(arg, "--concurrency") == 0) g.concurrency = atoi(value);
    else usage();
  }
  if (!mode || !stored || g.port <= 0 || g.count <= 0 || g.window <= 0 || g.concurrency <= 0 ||
      strlen(g.prefix) > 20) {
    usage();
  }
  if (strcmp(mode, "pingpong") == 0) g.mode = PINGPONG;
  else if (strcmp(mode, "flood") == 0) g.mode = FLOOD;
  else if (strcmp(mode, "idle") == 0) g.mode = IDLE;
  else usage();
  if (strlen(stored) != 64 || from_hex(stored, g.stored, 32) < 0) die("--stored: 64 hex digits");

  /* 10,000 idle sessions need 10,000 descriptors: take the hard limit. */
  struct rlimit files;
  if (getrlimit(RLIMIT_NOFILE, &files) == 0) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  /* Idle sessions only ever see logins and probes: small buffers keep 10,000 of them cheap. */
  g.in_cap = g.mode == IDLE ? 1024 : 64 * 1024;
  g.out_cap = g.mode == IDLE ? 1024 : 64 * 1024 + (size_t)g.window * 256;
  g.conns = calloc((size_t)g.count, sizeof *g.conns);
  if (!g.conns) die("out of memory");
  for (int i = 0; i < g.count; i++) {
    g.conns[i].in = malloc(g.in_cap);
    g.conns[i].out = malloc(g.out_cap);
    if (!g.conns[i].in || !g.conns[i].out) die("out of memory");
  }
  g.epoll = epoll_create1(EPOLL_CLOEXEC);
  if (g.epoll < 0) die("epoll_create1: %s", strerror(errno));
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 0};
  if (epoll_ctl(g.epoll, EPOLL_CTL_ADD, STDIN_FILENO, &ev) < 0) die("epoll stdin: %s", strerror(errno));

  g.login_started = now_ns();
  while (g.started < g.count && g.started < g.concurrency) start_connection(g.started);

  struct epoll_event events[512];
  for (;;) {
    int n = epoll_wait(g.epoll, events, 512, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait: %s", strerror(errno));
    }
    for (int i = 0; i < n; i++) {
      uint32_t id = events[i].data.u32;
      if (id == 0) {
        on_stdin();
        continue;
      }
      int index = (int)id - 1;
      if (events[i].events & (EPOLLERR | EPOLLHUP) && g.conns[index].state != CONNECTING) {
        die("connection of %s%d failed", g.prefix, index);
      }
      if (events[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_writable(index);
      if (events[i].events & EPOLLIN) on_readable(index);
    }
  }
}
