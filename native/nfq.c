/*
 * outpost_nfq: the inline verdict path's packet source (N-API, C).
 *
 * A reader thread receives packets from one NFQUEUE (libnetfilter_queue) in batches: it waits on
 * the netlink socket, then drains it without blocking until the socket is empty or the batch is
 * full, and hands the whole batch to JavaScript in one call (a thread-safe function). JavaScript
 * answers with one call per batch of verdicts (`verdicts`), each verdict carrying the packet mark
 * the nftables table turns into a connmark. Nothing here decodes a packet: the decoder and the
 * protocol analyzers are the ones capture uses, in JavaScript.
 *
 * Batch layout (host byte order), one record per packet, each 4-byte aligned:
 *   u32 packet id, u32 mark, u32 payload length (bytes that follow), u32 original length,
 *   u32 in-interface index, u32 out-interface index, u16 hardware address length, u16 hw protocol,
 *   u8[8] hardware address (the source MAC where the kernel had one), u32 flags, then the
 *   payload (IP header first: NFQUEUE hands over layer 3), padded to 4 bytes.
 *
 * Flags bit 0 (RECORD_PREACCEPTED): the reader thread has already accepted this packet, and
 * JavaScript must not answer it. That is done for TCP segments that cannot carry a name: no
 * payload, no FIN or RST (a SYN, the handshake's ACK, a bare ACK of a flow still waiting for its
 * name). Waking the JavaScript thread for them would only add that wake-up's latency to every new
 * connection's SYN; they still travel in the batch so that the verdict path's flow table and
 * analyzers see them exactly as before (the SYN's ISN anchors the reassembly of a split
 * ClientHello, and the per-flow packet budget counts them). A SYN that carries data (TCP Fast
 * Open, RFC 7413) has a payload and is judged in JavaScript like any other.
 *
 * A raw socket (IPPROTO_RAW, one per family) is opened with the queue while the process still has
 * CAP_NET_RAW, for the few packets the verdict path writes itself (DNS NXDOMAIN answers).
 */
#define _GNU_SOURCE
/* glibc's netinet/in.h first: the kernel's linux/in.h (through linux/netfilter.h) then skips
 * the definitions glibc already made. */
#include <netinet/in.h>
#include <arpa/inet.h>
#include <node_api.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <linux/netlink.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define HEADER_BYTES 40
#define RECORD_PREACCEPTED 1u
/* Time each packet spends in user space (received by the reader thread → verdict sent), in
 * microseconds, one bucket per µs up to LATENCY_MAX_US (the last bucket holds the rest). */
#define LATENCY_MAX_US 20000
#define ARRIVAL_SLOTS 65536
#define RECV_BYTES (256 * 1024)

typedef struct Batch {
  uint64_t handed_ns;
  /* Set by on_packet: a packet in the batch waits for a JavaScript verdict. */
  uint32_t awaits_verdict;
  /* Set by hand_over: the batch holds the JavaScript thread's boost (see Boost). */
  uint32_t boosted;
  uint32_t count;
  size_t used;
  size_t capacity;
  uint8_t data[];
} Batch;

typedef struct Queue Queue;
struct Queue {
  struct nfq_handle *h;
  struct nfq_q_handle *qh;
  int fd;
  int wake[2];
  int raw4;
  int raw6;
  /* A socket that only asks for receive timestamps, so that the kernel stamps every packet on
   * arrival (net_enable_timestamp) and the queue hands the stamp over (NFQA_TIMESTAMP): the time
   * from a packet's arrival at the gateway to the reader's recv can then be measured. A capture
   * running on the box turns the same stamping on. */
  int stamp;
  /* Arrival (kernel stamp, CLOCK_REALTIME) → the reader thread's recv, µs (under verdict_lock). */
  uint32_t *kernel;
  uint64_t kernel_count;
  pthread_t thread;
  int thread_started;
  uint32_t rt_priority;
  int rt_error;
  volatile int stopping;
  int closed;
  napi_threadsafe_function tsfn;
  Batch *cur;
  uint32_t batch_packets;
  size_t batch_bytes;
  uint32_t copy_range;
  uint8_t *recv_buf;
  /* Counters (read by JavaScript through stats(); written by the reader thread only, except
   * verdict_errors which the JavaScript thread writes). */
  volatile uint64_t packets;
  volatile uint64_t batches;
  volatile uint64_t enobufs;
  volatile uint64_t recv_errors;
  volatile uint64_t truncated_batches;
  volatile uint64_t queue_full_waits;
  uint64_t verdicts;
  uint64_t verdict_errors;
  uint64_t raw_sent;
  uint64_t raw_errors;
  /* Arrival time (CLOCK_MONOTONIC ns) by packet id modulo ARRIVAL_SLOTS; written by the reader
   * thread before the batch is handed over, read by the JavaScript thread after. */
  uint64_t *arrival;
  uint32_t *latency;
  uint64_t latency_count;
  /* Verdicts are sent by two threads (the reader, for pre-accepted segments; JavaScript, for
   * the rest): libnfnetlink's handle (its sequence number) and the latency histogram are not
   * safe to share unguarded. Uncontended almost always: one lock per batch of verdicts. */
  pthread_mutex_t verdict_lock;
  int lock_ready;
  volatile uint64_t preaccepted;
};

/* Time from a batch's hand-over by the reader thread to the start of its JavaScript call (the
 * JavaScript thread's wake-up and whatever it was doing first), µs, one bucket per µs: written
 * and read by the JavaScript thread only. Process-wide (a process reads one queue; call_js may
 * run for a batch queued just before its queue was closed, so it must not reach the queue). */
static uint32_t g_wake[LATENCY_MAX_US + 1];
static uint64_t g_wake_count;

/*
 * The verdict boost (open option boostPriority): the JavaScript thread runs at SCHED_FIFO only
 * while batches that await verdicts are on their way to it or being judged, and at the default
 * policy the rest of the time. The reader thread raises it just before handing such a batch over
 * (so a thread busy with capture, the API or a GC finishes that work and reaches the batch without
 * waiting behind the box's ordinary processes); it is lowered once no raised batch is left and
 * boostHoldMs has passed since the last one (new flows come in bursts, a page load opens dozens,
 * and between two of them the thread does the capture side of the same flows: held, that work
 * does not make the next verdict wait; the reader thread lowers it when the hold ends). That is
 * what the permanent setting (setThreadRealtime) gives the verdict path, without the daemon's
 * other work running at real-time priority between bursts of new flows.
 *
 * A budget bounds it: the thread's CPU time while raised, at most budget_ns per tenth of a second
 * (BOOST_WINDOW_NS; the setting is per second), so a flood of new flows spends it in short
 * stretches rather than holding the CPU from the box's ordinary work (ksoftirqd included) for half
 * a second; beyond it the thread is lowered and batches are handed over unraised (counted).
 *
 * Process-wide like g_wake (a process reads one queue; call_js may run after its queue closed).
 * Lock order: boost.lock is never held while verdict_lock is taken, nor the reverse.
 */
#define BOOST_WINDOW_NS 100000000ull
typedef struct Boost {
  pthread_mutex_t lock;
  pid_t tid;              /* the JavaScript thread (the one that called open) */
  uint32_t priority;      /* 0: off (or refused once: errno in error) */
  uint64_t budget_ns;     /* most CPU time raised per window (BOOST_WINDOW_NS) */
  uint32_t pending;       /* raised batches not yet through call_js */
  int on;                 /* the thread is at SCHED_FIFO now */
  uint64_t since_ns;      /* when it was raised */
  clockid_t cpu_clock;    /* the thread's CPU-time clock */
  uint64_t charged_cpu_ns; /* its CPU time up to which the budget has been charged */
  uint64_t window_start_ns;
  uint64_t window_used_ns;
  uint64_t hold_ns;       /* stays raised this long after its last boosted batch (0: lowered at once) */
  uint64_t last_ns;       /* when the last boosted batch was judged */
  int error;              /* errno of a refused raise (EPERM without CAP_SYS_NICE) */
  uint64_t raises;        /* times the thread was raised */
  uint64_t over_budget;   /* batches handed over unboosted because the window's budget was spent */
  uint64_t total_ns;      /* time spent raised */
  uint64_t total_cpu_ns;  /* CPU time the thread used while raised (what the budget counts) */
} Boost;
static Boost g_boost = { .lock = PTHREAD_MUTEX_INITIALIZER };

static uint64_t now_ns(void);

/* SCHED_FIFO at `prio` for thread `tid` (0: the calling thread), or back to SCHED_OTHER with prio 0;
 * 0 or the errno. SCHED_RESET_ON_FORK: nothing the raised thread starts (a process, a thread) is
 * born at real-time priority. */
static int set_realtime(pid_t tid, uint32_t prio) {
  struct sched_param sp = { .sched_priority = (int)prio };
  return sched_setscheduler(tid, prio > 0 ? (SCHED_FIFO | SCHED_RESET_ON_FORK) : SCHED_OTHER, &sp) == 0 ? 0 : errno;
}

static uint64_t cpu_ns(clockid_t c) {
  struct timespec ts;
  if (clock_gettime(c, &ts) != 0) return 0;
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * Charges the CPU time the thread used since the last charge to the current window, then starts a
 * new window if this one is over. The budget counts CPU time (what the raised thread took ahead of
 * the box's other processes; waiting for the CPU takes nothing from them), charged every time the
 * boost is looked at: at each hand-over, each lowering, and at least every 2 ms by the reader
 * thread while the thread is raised (boost_poll_timeout), so a long raise is charged to the
 * windows it spans rather than all at once.
 */
static void boost_charge_locked(Boost *g, uint64_t now) {
  if (g->on) {
    uint64_t c = cpu_ns(g->cpu_clock);
    uint64_t d = c - g->charged_cpu_ns;
    g->charged_cpu_ns = c;
    g->total_cpu_ns += d;
    g->window_used_ns += d;
  }
  if (now - g->window_start_ns >= BOOST_WINDOW_NS) { g->window_start_ns = now; g->window_used_ns = 0; }
}

static void boost_lower_locked(Boost *g) {
  uint64_t now = now_ns();
  boost_charge_locked(g, now);
  set_realtime(g->tid, 0);
  g->total_ns += now - g->since_ns;
  g->on = 0;
}

/* Reader thread, before a batch that awaits verdicts is handed over. Returns 1 if the batch holds
 * the boost (call_js must then release it). */
static int boost_acquire(void) {
  Boost *g = &g_boost;
  int held = 0;
  pthread_mutex_lock(&g->lock);
  if (g->priority > 0) {
    uint64_t now = now_ns();
    boost_charge_locked(g, now);
    int spent = g->window_used_ns >= g->budget_ns;
    if (g->on && spent) { boost_lower_locked(g); g->over_budget++; }
    else if (g->on) { g->pending++; held = 1; }
    else if (spent) g->over_budget++;
    else {
      int err = set_realtime(g->tid, g->priority);
      if (err == 0) {
        g->on = 1; g->since_ns = now; g->charged_cpu_ns = cpu_ns(g->cpu_clock); g->raises++; g->pending++; held = 1;
      } else {
        /* Refused (no CAP_SYS_NICE, or the thread is gone): stop trying; stats() says why. */
        g->error = err; g->priority = 0;
      }
    }
  }
  pthread_mutex_unlock(&g->lock);
  return held;
}

/* JavaScript thread, after a boosted batch was judged (or dropped). */
static void boost_release(void) {
  Boost *g = &g_boost;
  pthread_mutex_lock(&g->lock);
  if (g->pending > 0) g->pending--;
  if (g->pending == 0 && g->on) {
    /* With a hold the reader thread lowers it once the hold has passed (boost_poll_timeout). */
    if (g->hold_ns == 0) boost_lower_locked(g); else g->last_ns = now_ns();
  }
  pthread_mutex_unlock(&g->lock);
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static Batch *batch_new(size_t capacity) {
  Batch *b = malloc(sizeof(Batch) + capacity);
  if (b == NULL) return NULL;
  b->count = 0;
  b->awaits_verdict = 0;
  b->boosted = 0;
  b->used = 0;
  b->capacity = capacity;
  return b;
}

/*
 * True for a TCP segment that cannot carry a name: no payload and neither FIN nor RST. Only the
 * plain cases are recognised (IPv4 without fragmentation, IPv6 whose next header is TCP); anything
 * else goes to JavaScript as before. RFC 791 §3.1 (IHL, total length, fragment fields), RFC 8200
 * §3 (payload length), RFC 9293 §3.1 (data offset, control bits).
 */
static int nameless_segment(const uint8_t *p, int len) {
  if (len < 20) return 0;
  int l4, total;
  if ((p[0] >> 4) == 4) {
    int ihl = (p[0] & 0x0f) * 4;
    if (ihl < 20 || p[9] != 6) return 0;
    if (((p[6] & 0x3f) | p[7]) != 0) return 0; /* MF set or a fragment offset */
    total = (p[2] << 8) | p[3];
    l4 = ihl;
  } else if ((p[0] >> 4) == 6) {
    if (len < 40 || p[6] != 6) return 0;
    total = 40 + ((p[4] << 8) | p[5]);
    l4 = 40;
  } else {
    return 0;
  }
  if (total > len || l4 + 20 > total) return 0;
  int doff = (p[l4 + 12] >> 4) * 4;
  uint8_t flags = p[l4 + 13];
  if (doff < 20 || l4 + doff != total) return 0; /* payload present (or a malformed offset) */
  return (flags & 0x05) == 0; /* FIN 0x01, RST 0x04 */
}

static void record_latency(Queue *q, uint32_t id) {
  uint64_t us = (now_ns() - q->arrival[id % ARRIVAL_SLOTS]) / 1000;
  q->latency[us < LATENCY_MAX_US ? us : LATENCY_MAX_US]++;
  q->latency_count++;
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *nfmsg, struct nfq_data *nfa, void *data) {
  (void)qh;
  (void)nfmsg;
  Queue *q = data;
  struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
  if (ph == NULL) return 0;
  unsigned char *payload = NULL;
  int len = nfq_get_payload(nfa, &payload);
  if (len < 0) len = 0;
  Batch *b = q->cur;
  size_t need = HEADER_BYTES + (((size_t)len + 3) & ~(size_t)3);
  if (b == NULL || b->used + need > b->capacity) {
    /* Cannot happen with the reader's headroom check (one packet per netlink message, the batch
     * handed over before it could overflow); were it to, the packet is accepted here rather than
     * held in the kernel queue forever. */
    pthread_mutex_lock(&q->verdict_lock);
    nfq_set_verdict(q->qh, ntohl(ph->packet_id), NF_ACCEPT, 0, NULL);
    pthread_mutex_unlock(&q->verdict_lock);
    q->truncated_batches++;
    return 0;
  }
  uint8_t *r = b->data + b->used;
  uint32_t id = ntohl(ph->packet_id);
  q->arrival[id % ARRIVAL_SLOTS] = now_ns();
  {
    struct timeval tv;
    if (nfq_get_timestamp(nfa, &tv) == 0 && tv.tv_sec != 0) {
      struct timespec rt;
      clock_gettime(CLOCK_REALTIME, &rt);
      int64_t us = ((int64_t)rt.tv_sec - tv.tv_sec) * 1000000 + (rt.tv_nsec / 1000 - tv.tv_usec);
      if (us >= 0) {
        pthread_mutex_lock(&q->verdict_lock);
        q->kernel[us < LATENCY_MAX_US ? us : LATENCY_MAX_US]++;
        q->kernel_count++;
        pthread_mutex_unlock(&q->verdict_lock);
      }
    }
  }
  uint32_t mark = nfq_get_nfmark(nfa);
  uint32_t plen = (uint32_t)len;
  uint32_t olen = plen;
  uint32_t indev = nfq_get_indev(nfa);
  uint32_t outdev = nfq_get_outdev(nfa);
  uint16_t hwlen = 0;
  uint16_t hwproto = ntohs(ph->hw_protocol);
  uint8_t hw[8] = {0};
  struct nfqnl_msg_packet_hw *phw = nfq_get_packet_hw(nfa);
  if (phw != NULL) {
    hwlen = ntohs(phw->hw_addrlen);
    if (hwlen > 8) hwlen = 8;
    memcpy(hw, phw->hw_addr, hwlen);
  }
  memcpy(r + 0, &id, 4);
  memcpy(r + 4, &mark, 4);
  memcpy(r + 8, &plen, 4);
  memcpy(r + 12, &olen, 4);
  memcpy(r + 16, &indev, 4);
  memcpy(r + 20, &outdev, 4);
  memcpy(r + 24, &hwlen, 2);
  memcpy(r + 26, &hwproto, 2);
  memcpy(r + 28, hw, 8);
  uint32_t rflags = 0;
  if (nameless_segment(payload, len)) {
    pthread_mutex_lock(&q->verdict_lock);
    if (nfq_set_verdict(q->qh, id, NF_ACCEPT, 0, NULL) >= 0) {
      rflags = RECORD_PREACCEPTED;
      q->verdicts++;
      q->preaccepted++;
      record_latency(q, id);
    }
    pthread_mutex_unlock(&q->verdict_lock);
  }
  if (rflags == 0) b->awaits_verdict = 1;
  memcpy(r + 36, &rflags, 4);
  if (len > 0) memcpy(r + HEADER_BYTES, payload, (size_t)len);
  b->used += need;
  b->count++;
  q->packets++;
  return 0;
}

/* Runs on the JavaScript thread: one call per batch. */
static void call_js(napi_env env, napi_value js_cb, void *context, void *data) {
  (void)context;
  Batch *b = data;
  int boosted = b->boosted;
  if (env == NULL || js_cb == NULL) { free(b); if (boosted) boost_release(); return; }
  {
    uint64_t us = (now_ns() - b->handed_ns) / 1000;
    g_wake[us < LATENCY_MAX_US ? us : LATENCY_MAX_US]++;
    g_wake_count++;
  }
  napi_value buf, count, undef;
  void *copy;
  /* One copy per batch into a JavaScript-owned buffer; the batch is then freed here. */
  if (napi_create_buffer_copy(env, b->used, b->data, &copy, &buf) != napi_ok) { free(b); if (boosted) boost_release(); return; }
  napi_create_uint32(env, b->count, &count);
  napi_get_undefined(env, &undef);
  free(b);
  napi_value argv[2] = {buf, count};
  napi_call_function(env, undef, js_cb, 2, argv, NULL);
  if (boosted) boost_release();
}

static void hand_over(Queue *q) {
  Batch *b = q->cur;
  if (b == NULL || b->count == 0) return;
  q->cur = batch_new(q->batch_bytes);
  b->boosted = b->awaits_verdict ? (uint32_t)boost_acquire() : 0;
  b->handed_ns = now_ns();
  for (;;) {
    napi_status s = napi_call_threadsafe_function(q->tsfn, b, napi_tsfn_nonblocking);
    if (s == napi_ok) { q->batches++; return; }
    if (s == napi_queue_full && !q->stopping) {
      /* JavaScript is behind: wait (the kernel queue absorbs the burst, and overflows to
       * accept when fail-open is set) rather than block in a way close() could not end. */
      q->queue_full_waits++;
      struct timespec ts = {0, 200000};
      nanosleep(&ts, NULL);
      continue;
    }
    if (b->boosted) boost_release();
    free(b);
    return;
  }
}

/* Reader thread, before it waits: lowers a held boost whose hold has passed, and returns how long
 * the wait may last (ms, -1 for ever) so that a boost still held is looked at again in time. */
static int boost_poll_timeout(void) {
  Boost *g = &g_boost;
  int timeout = -1;
  pthread_mutex_lock(&g->lock);
  if (g->on) {
    uint64_t now = now_ns();
    boost_charge_locked(g, now);
    /* The budget also ends a raise spent on one long piece of work (a batch still pending). */
    if (g->window_used_ns >= g->budget_ns) boost_lower_locked(g);
    else if (g->pending == 0 && now - g->last_ns >= g->hold_ns) boost_lower_locked(g);
    else {
      uint64_t left = g->pending == 0 ? g->last_ns + g->hold_ns - now : 1000000;
      if (left > 2000000) left = 2000000;
      timeout = (int)((left + 999999) / 1000000);
      if (timeout < 1) timeout = 1;
    }
  }
  pthread_mutex_unlock(&g->lock);
  return timeout;
}

static void *reader(void *arg) {
  Queue *q = arg;
  struct pollfd fds[2] = {{q->fd, POLLIN, 0}, {q->wake[0], POLLIN, 0}};
  size_t headroom = HEADER_BYTES + q->copy_range + 4;
  while (!q->stopping) {
    int n = poll(fds, 2, boost_poll_timeout());
    if (n < 0) { if (errno == EINTR) continue; q->recv_errors++; break; }
    if (fds[1].revents != 0 || q->stopping) break;
    for (;;) {
      if (q->cur == NULL) { q->cur = batch_new(q->batch_bytes); if (q->cur == NULL) break; }
      ssize_t r = recv(q->fd, q->recv_buf, RECV_BYTES, MSG_DONTWAIT);
      if (r < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        if (errno == EINTR) continue;
        /* The kernel dropped messages for this socket (its buffer was full): counted; the
         * packets themselves stay queued or were accepted (fail-open) by the kernel. */
        if (errno == ENOBUFS) { q->enobufs++; continue; }
        q->recv_errors++;
        break;
      }
      nfq_handle_packet(q->h, (char *)q->recv_buf, (int)r);
      if (q->cur->count >= q->batch_packets || q->cur->used + headroom > q->cur->capacity) hand_over(q);
    }
    hand_over(q);
  }
  return NULL;
}

static napi_value throw_error(napi_env env, const char *code, const char *msg) {
  napi_throw_error(env, code, msg);
  return NULL;
}

static uint32_t get_u32(napi_env env, napi_value obj, const char *key, uint32_t dflt) {
  napi_value v;
  bool has = false;
  if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has) return dflt;
  napi_get_named_property(env, obj, key, &v);
  uint32_t out = dflt;
  if (napi_get_value_uint32(env, v, &out) != napi_ok) return dflt;
  return out;
}

static bool get_bool(napi_env env, napi_value obj, const char *key, bool dflt) {
  napi_value v;
  bool has = false;
  if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has) return dflt;
  napi_get_named_property(env, obj, key, &v);
  bool out = dflt;
  if (napi_get_value_bool(env, v, &out) != napi_ok) return dflt;
  return out;
}

static void queue_close(Queue *q) {
  if (q->closed) return;
  q->closed = 1;
  q->stopping = 1;
  if (q->thread_started) {
    ssize_t w = write(q->wake[1], "x", 1);
    (void)w;
    pthread_join(q->thread, NULL);
  }
  if (q->tsfn != NULL) napi_release_threadsafe_function(q->tsfn, napi_tsfn_release);
  /* No new boost, and the thread back to the default policy (batches still queued release
   * theirs harmlessly). */
  pthread_mutex_lock(&g_boost.lock);
  if (g_boost.on) boost_lower_locked(&g_boost);
  g_boost.priority = 0;
  pthread_mutex_unlock(&g_boost.lock);
  if (q->qh != NULL) nfq_destroy_queue(q->qh);
  if (q->h != NULL) nfq_close(q->h);
  if (q->wake[0] >= 0) close(q->wake[0]);
  if (q->wake[1] >= 0) close(q->wake[1]);
  if (q->raw4 >= 0) close(q->raw4);
  if (q->raw6 >= 0) close(q->raw6);
  if (q->stamp >= 0) close(q->stamp);
  free(q->kernel);
  q->kernel = NULL;
  free(q->cur);
  q->cur = NULL;
  free(q->recv_buf);
  q->recv_buf = NULL;
  free(q->arrival);
  q->arrival = NULL;
  free(q->latency);
  q->latency = NULL;
}

static void queue_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  Queue *q = data;
  queue_close(q);
  if (q->lock_ready) pthread_mutex_destroy(&q->verdict_lock);
  free(q);
}

static Queue *unwrap(napi_env env, napi_value v) {
  Queue *q = NULL;
  if (napi_get_value_external(env, v, (void **)&q) != napi_ok || q == NULL) {
    throw_error(env, "ERR_INVALID_ARG", "not a queue handle");
    return NULL;
  }
  if (q->closed) { throw_error(env, "ERR_CLOSED", "queue is closed"); return NULL; }
  return q;
}

/* open(queueNum, { copyRangeBytes, maxQueueLen, failOpen, batchPackets, rcvbufBytes,
 *   realtimePriority, boostPriority, boostBudgetMsPerSecond, boostHoldMs }, onBatch); call it on the thread
 *   that judges (the boost raises the calling thread). */
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3) return throw_error(env, "ERR_INVALID_ARG", "open(queueNum, options, onBatch)");
  uint32_t num;
  if (napi_get_value_uint32(env, argv[0], &num) != napi_ok || num > 65535) return throw_error(env, "ERR_INVALID_ARG", "queue number 0..65535");
  Queue *q = calloc(1, sizeof(Queue));
  if (q == NULL) return throw_error(env, "ENOMEM", "out of memory");
  q->fd = -1;
  q->wake[0] = q->wake[1] = -1;
  q->stamp = -1;
  pthread_mutex_init(&q->verdict_lock, NULL);
  q->lock_ready = 1;
  q->raw4 = q->raw6 = -1;
  q->copy_range = get_u32(env, argv[1], "copyRangeBytes", 65535);
  if (q->copy_range < 64) q->copy_range = 64;
  if (q->copy_range > 65535) q->copy_range = 65535;
  uint32_t maxlen = get_u32(env, argv[1], "maxQueueLen", 4096);
  bool fail_open = get_bool(env, argv[1], "failOpen", true);
  q->batch_packets = get_u32(env, argv[1], "batchPackets", 64);
  q->rt_priority = get_u32(env, argv[1], "realtimePriority", 0);
  uint32_t boost_priority = get_u32(env, argv[1], "boostPriority", 0);
  uint32_t boost_budget_ms = get_u32(env, argv[1], "boostBudgetMsPerSecond", 500);
  uint32_t boost_hold_ms = get_u32(env, argv[1], "boostHoldMs", 0);
  if (boost_hold_ms > 1000) boost_hold_ms = 1000;
  if (boost_priority > 99) boost_priority = 99;
  if (boost_budget_ms > 1000) boost_budget_ms = 1000;
  if (q->rt_priority > 99) q->rt_priority = 99;
  if (q->batch_packets < 1) q->batch_packets = 1;
  uint32_t rcvbuf = get_u32(env, argv[1], "rcvbufBytes", 8 * 1024 * 1024);
  q->batch_bytes = (size_t)q->batch_packets * (HEADER_BYTES + 2048) + HEADER_BYTES + q->copy_range + 4;
  q->recv_buf = malloc(RECV_BYTES);
  q->arrival = calloc(ARRIVAL_SLOTS, sizeof(uint64_t));
  q->latency = calloc(LATENCY_MAX_US + 1, sizeof(uint32_t));
  q->kernel = calloc(LATENCY_MAX_US + 1, sizeof(uint32_t));
  char msg[256];
  const char *step = NULL;
  if (q->recv_buf == NULL || q->arrival == NULL || q->latency == NULL || q->kernel == NULL) { step = "malloc"; goto fail; }
  q->h = nfq_open();
  if (q->h == NULL) { step = "nfq_open"; goto fail; }
  q->qh = nfq_create_queue(q->h, (uint16_t)num, on_packet, q);
  if (q->qh == NULL) { step = "nfq_create_queue"; goto fail; }
  if (nfq_set_mode(q->qh, NFQNL_COPY_PACKET, q->copy_range) < 0) { step = "nfq_set_mode"; goto fail; }
  nfq_set_queue_maxlen(q->qh, maxlen);
  /* Fail-open: when the queue is full the kernel accepts packets instead of dropping them. */
  {
    uint32_t flags = fail_open ? NFQA_CFG_F_FAIL_OPEN : 0;
    if (nfq_set_queue_flags(q->qh, NFQA_CFG_F_FAIL_OPEN, flags) < 0 && fail_open) { step = "nfq_set_queue_flags(FAIL_OPEN)"; goto fail; }
  }
  q->fd = nfq_fd(q->h);
  nfnl_rcvbufsiz(nfq_nfnlh(q->h), rcvbuf);
  {
    int one = 1;
    /* Lost netlink messages are counted by the kernel queue, not reported as ENOBUFS storms. */
    setsockopt(q->fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof one);
  }
  if (pipe2(q->wake, O_CLOEXEC) < 0) { step = "pipe2"; goto fail; }
  q->raw4 = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
  q->raw6 = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
  q->stamp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (q->stamp >= 0) {
    int one = 1;
    setsockopt(q->stamp, SOL_SOCKET, SO_TIMESTAMP, &one, sizeof one);
  }
  q->cur = batch_new(q->batch_bytes);
  napi_value name;
  napi_create_string_utf8(env, "outpost_nfq", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[2], NULL, name, 16, 1, NULL, NULL, NULL, call_js, &q->tsfn) != napi_ok) { step = "napi_create_threadsafe_function"; goto fail; }
  if (pthread_create(&q->thread, NULL, reader, q) != 0) { step = "pthread_create"; goto fail; }
  q->thread_started = 1;
  /* SCHED_FIFO at a low priority (realtimePriority): woken by a packet, the reader thread runs at
   * once instead of waiting its turn behind the box's other work; on a loaded 2-vCPU gateway that
   * wait was the p99 of a queued packet's arrival → recv (0.2-0.6 ms; ~0.06 ms with it). Its work
   * per packet is a copy into the batch and, for segments that cannot carry a name, the verdict,
   * so it never holds a CPU for long; the kernel's RT throttling (sched_rt_runtime_us) bounds it
   * anyway. Set here, before open() returns, so the caller knows at once whether it was refused
   * (EPERM without CAP_SYS_NICE): the thread then runs as before, and stats() says so. */
  if (q->rt_priority > 0) {
    struct sched_param sp = { .sched_priority = (int)q->rt_priority };
    q->rt_error = pthread_setschedparam(q->thread, SCHED_FIFO, &sp);
  }
  pthread_mutex_lock(&g_boost.lock);
  if (g_boost.on) boost_lower_locked(&g_boost);
  g_boost.tid = (pid_t)syscall(SYS_gettid);
  g_boost.priority = boost_priority;
  g_boost.budget_ns = (uint64_t)boost_budget_ms * 1000000ull / (1000000000ull / BOOST_WINDOW_NS);
  /* The budget reads this thread's CPU clock from the reader thread too; without one, no boost. */
  g_boost.error = pthread_getcpuclockid(pthread_self(), &g_boost.cpu_clock);
  if (g_boost.error != 0) g_boost.priority = 0;
  g_boost.window_start_ns = now_ns();
  g_boost.window_used_ns = 0;
  g_boost.hold_ns = (uint64_t)boost_hold_ms * 1000000ull;
  g_boost.pending = 0;
  if (g_boost.priority > 0) {
    /* Tried once here, so that the caller knows at once whether it is allowed (stats()). */
    g_boost.error = set_realtime(g_boost.tid, g_boost.priority);
    if (g_boost.error != 0) g_boost.priority = 0; else set_realtime(g_boost.tid, 0);
  }
  pthread_mutex_unlock(&g_boost.lock);
  napi_value ext;
  napi_create_external(env, q, queue_finalize, NULL, &ext);
  return ext;
fail:
  snprintf(msg, sizeof msg, "%s failed: %s", step, errno != 0 ? strerror(errno) : "unknown error");
  queue_close(q);
  pthread_mutex_destroy(&q->verdict_lock);
  free(q);
  return throw_error(env, "ERR_NFQ_OPEN", msg);
}

/*
 * verdicts(handle, Uint32Array triples [packetId, verdict, mark], count): verdict is NF_DROP (0),
 * NF_ACCEPT (1) or NF_REPEAT (4); bit 8 set means "set the packet's mark to `mark`". Returns the
 * number of verdicts the kernel refused.
 */
static napi_value js_verdicts(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3) return throw_error(env, "ERR_INVALID_ARG", "verdicts(handle, triples, count)");
  Queue *q = unwrap(env, argv[0]);
  if (q == NULL) return NULL;
  napi_typedarray_type type;
  size_t length;
  void *data;
  if (napi_get_typedarray_info(env, argv[1], &type, &length, &data, NULL, NULL) != napi_ok || type != napi_uint32_array) {
    return throw_error(env, "ERR_INVALID_ARG", "triples must be a Uint32Array");
  }
  uint32_t count;
  napi_get_value_uint32(env, argv[2], &count);
  if ((size_t)count * 3 > length) return throw_error(env, "ERR_INVALID_ARG", "count exceeds the array");
  const uint32_t *t = data;
  uint32_t failed = 0;
  pthread_mutex_lock(&q->verdict_lock);
  for (uint32_t i = 0; i < count; i++) {
    uint32_t id = t[i * 3], v = t[i * 3 + 1], mark = t[i * 3 + 2];
    int rc = (v & 0x100) ? nfq_set_verdict2(q->qh, id, v & 0xff, mark, 0, NULL) : nfq_set_verdict(q->qh, id, v & 0xff, 0, NULL);
    if (rc < 0) failed++;
    record_latency(q, id);
  }
  q->verdicts += count;
  q->verdict_errors += failed;
  pthread_mutex_unlock(&q->verdict_lock);
  napi_value out;
  napi_create_uint32(env, failed, &out);
  return out;
}

/* sendRaw(handle, family 4|6, packet Buffer (IP header first), destination address bytes) */
static napi_value js_send_raw(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 4) return throw_error(env, "ERR_INVALID_ARG", "sendRaw(handle, family, packet, dst)");
  Queue *q = unwrap(env, argv[0]);
  if (q == NULL) return NULL;
  uint32_t family;
  napi_get_value_uint32(env, argv[1], &family);
  void *pkt, *dst;
  size_t plen, dlen;
  if (napi_get_buffer_info(env, argv[2], &pkt, &plen) != napi_ok || napi_get_buffer_info(env, argv[3], &dst, &dlen) != napi_ok) {
    return throw_error(env, "ERR_INVALID_ARG", "packet and dst must be Buffers");
  }
  ssize_t rc = -1;
  if (family == 4 && dlen == 4 && q->raw4 >= 0) {
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    memcpy(&sa.sin_addr, dst, 4);
    rc = sendto(q->raw4, pkt, plen, 0, (struct sockaddr *)&sa, sizeof sa);
  } else if (family == 6 && dlen == 16 && q->raw6 >= 0) {
    struct sockaddr_in6 sa = {0};
    sa.sin6_family = AF_INET6;
    memcpy(&sa.sin6_addr, dst, 16);
    rc = sendto(q->raw6, pkt, plen, 0, (struct sockaddr *)&sa, sizeof sa);
  }
  if (rc < 0) q->raw_errors++; else q->raw_sent++;
  napi_value out;
  napi_get_boolean(env, rc >= 0, &out);
  return out;
}

static void set_num(napi_env env, napi_value obj, const char *key, uint64_t v) {
  napi_value n;
  napi_create_double(env, (double)v, &n);
  napi_set_named_property(env, obj, key, n);
}

static napi_value js_stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  Queue *q = unwrap(env, argv[0]);
  if (q == NULL) return NULL;
  napi_value o;
  napi_create_object(env, &o);
  set_num(env, o, "packets", q->packets);
  set_num(env, o, "batches", q->batches);
  set_num(env, o, "enobufs", q->enobufs);
  set_num(env, o, "recvErrors", q->recv_errors);
  set_num(env, o, "truncatedBatches", q->truncated_batches);
  set_num(env, o, "queueFullWaits", q->queue_full_waits);
  set_num(env, o, "verdicts", q->verdicts);
  set_num(env, o, "preaccepted", q->preaccepted);
  set_num(env, o, "verdictErrors", q->verdict_errors);
  set_num(env, o, "rawSent", q->raw_sent);
  set_num(env, o, "rawErrors", q->raw_errors);
  set_num(env, o, "readerRealtime", q->rt_priority > 0 && q->rt_error == 0 ? q->rt_priority : 0);
  set_num(env, o, "readerRealtimeError", (uint64_t)(q->rt_error < 0 ? 0 : q->rt_error));
  pthread_mutex_lock(&g_boost.lock);
  set_num(env, o, "boostPriority", g_boost.priority);
  set_num(env, o, "boostError", (uint64_t)g_boost.error);
  set_num(env, o, "boostRaises", g_boost.raises);
  set_num(env, o, "boostOverBudget", g_boost.over_budget);
  set_num(env, o, "boostMicros", (g_boost.total_ns + (g_boost.on ? now_ns() - g_boost.since_ns : 0)) / 1000);
  boost_charge_locked(&g_boost, now_ns());
  set_num(env, o, "boostCpuMicros", g_boost.total_cpu_ns / 1000);
  pthread_mutex_unlock(&g_boost.lock);
  return o;
}

/* Sets count, p50Us, p99Us, p999Us, maxUs (each name prefixed, e.g. wakeP99Us) of a histogram. */
static void put_percentiles(napi_env env, napi_value o, const char *prefix, const uint32_t *h, uint64_t n) {
  uint64_t seen = 0, p50 = 0, p99 = 0, p999 = 0, max = 0;
  int have50 = 0, have99 = 0, have999 = 0;
  for (uint32_t us = 0; us <= LATENCY_MAX_US; us++) {
    uint32_t c = h[us];
    if (c == 0) continue;
    seen += c;
    max = us;
    if (!have50 && seen * 2 >= n) { p50 = us; have50 = 1; }
    if (!have99 && seen * 100 >= n * 99) { p99 = us; have99 = 1; }
    if (!have999 && seen * 1000 >= n * 999) { p999 = us; have999 = 1; }
  }
  const char *names[5] = {"count", "p50Us", "p99Us", "p999Us", "maxUs"};
  uint64_t vals[5] = {n, p50, p99, p999, max};
  char key[32];
  for (int i = 0; i < 5; i++) {
    if (prefix[0] == 0) snprintf(key, sizeof key, "%s", names[i]);
    else snprintf(key, sizeof key, "%s%c%s", prefix, names[i][0] - 32, names[i] + 1);
    set_num(env, o, key, vals[i]);
  }
}

/* latency(handle, reset): { count, p50Us, p99Us, p999Us, maxUs } of the time packets spent in
 * user space since the last reset (maxUs LATENCY_MAX_US means "at least"). */
static napi_value js_latency(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  Queue *q = unwrap(env, argv[0]);
  if (q == NULL) return NULL;
  bool reset = false;
  if (argc > 1) napi_get_value_bool(env, argv[1], &reset);
  pthread_mutex_lock(&q->verdict_lock);
  napi_value o;
  napi_create_object(env, &o);
  put_percentiles(env, o, "", q->latency, q->latency_count);
  put_percentiles(env, o, "wake", g_wake, g_wake_count);
  put_percentiles(env, o, "kernel", q->kernel, q->kernel_count);
  if (reset) {
    memset(q->kernel, 0, (LATENCY_MAX_US + 1) * sizeof(uint32_t)); q->kernel_count = 0;
    memset(q->latency, 0, (LATENCY_MAX_US + 1) * sizeof(uint32_t)); q->latency_count = 0;
    memset(g_wake, 0, sizeof g_wake); g_wake_count = 0;
  }
  pthread_mutex_unlock(&q->verdict_lock);
  return o;
}

/*
 * setThreadRealtime(priority): SCHED_FIFO at `priority` (1-99) for the calling thread (the
 * JavaScript thread that judges packets), or back to SCHED_OTHER with 0. Returns 0 or the errno
 * (EPERM without CAP_SYS_NICE).
 */
static napi_value js_set_thread_realtime(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t prio = 0;
  if (argc < 1 || napi_get_value_uint32(env, argv[0], &prio) != napi_ok || prio > 99) return throw_error(env, "ERR_INVALID_ARG", "setThreadRealtime(priority 0..99)");
  /* tid 0: the calling thread (Linux schedules threads). */
  int err = set_realtime(0, prio);
  napi_value r;
  napi_create_int32(env, err, &r);
  return r;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  Queue *q = NULL;
  if (napi_get_value_external(env, argv[0], (void **)&q) == napi_ok && q != NULL) queue_close(q);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
    {"verdicts", NULL, js_verdicts, NULL, NULL, NULL, napi_default, NULL},
    {"sendRaw", NULL, js_send_raw, NULL, NULL, NULL, napi_default, NULL},
    {"stats", NULL, js_stats, NULL, NULL, NULL, napi_default, NULL},
    {"latency", NULL, js_latency, NULL, NULL, NULL, napi_default, NULL},
    {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
    {"setThreadRealtime", NULL, js_set_thread_realtime, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
