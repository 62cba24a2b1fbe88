package redisstore

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"

	"github.com/oidc-logout/logout"
)

// FuzzApplyPayload feeds apply any message: it must never panic, and a
// well-formed record must land in the view with its time and, on a
// cluster, its key's hash slot.
func FuzzApplyPayload(f *testing.F) {
	for _, seed := range []string{"1700000000000 60000 session:abc", "1 2 key with spaces", "", " ", "x y z", "-1 -1 k", "9223372036854775807 9223372036854775807 k"} {
		f.Add(seed)
	}
	now := time.Unix(1_700_000_000, 0)
	f.Fuzz(func(t *testing.T, payload string) {
		for _, slotted := range []bool{false, true} {
			c := &CachedLedger{ledger: &Ledger{prefix: "p:"}, maxKeys: 4, slotted: slotted,
				now: func() time.Time { return now }, entries: make(map[string]cacheEntry)}
			c.apply(payload)
			if len(c.entries) > 1 {
				t.Fatalf("one message made %d entries", len(c.entries))
			}
			for key, e := range c.entries {
				atS, rest, _ := strings.Cut(payload, " ")
				_, name, _ := strings.Cut(rest, " ")
				if at, err := strconv.ParseInt(atS, 10, 64); err != nil || at != e.at || at <= 0 || name != key || key == "" {
					t.Fatalf("payload %q gave entry %q at %d", payload, key, e.at)
				}
				if want := keySlot("p:" + key); slotted && e.slot != want {
					t.Fatalf("payload %q: slot %d, want %d", payload, e.slot, want)
				}
			}
		}
	})
}

func TestApplyPayload(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := &CachedLedger{maxKeys: 2, now: func() time.Time { return now }, entries: make(map[string]cacheEntry)}
	c.apply("5000 60000 sub:1:a:b c")
	c.apply("4000 120000 sub:1:a:b c") // earlier time, later expiry: merged
	e, ok := c.entries["sub:1:a:b c"]
	if !ok || e.at != 5000 || e.expires != now.Add(2*time.Minute).UnixNano() {
		t.Fatalf("entry %+v, %v", e, ok)
	}
	for _, bad := range []string{"", "5000", "5000 60000", "5000 60000 ", "x 60000 k", "5000 y k"} {
		c.apply(bad)
	}
	if len(c.entries) != 1 {
		t.Fatalf("malformed messages made entries: %v", c.entries)
	}
	gen := c.gen
	c.apply("1 1 k2")
	c.apply("1 1 k3") // the view is full: a key is forgotten, reads in flight are not kept
	if len(c.entries) != 2 || c.gen == gen {
		t.Fatalf("entries %d, gen %d (was %d)", len(c.entries), c.gen, gen)
	}
}

// offlineLedger returns a CachedLedger without subscription whose view
// is fresh at now, and whose Redis refuses connections: any look-up that
// is not answered from the view fails.
func offlineLedger(t *testing.T, now time.Time) *CachedLedger {
	t.Helper()
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = client.Close() })
	c := &CachedLedger{
		ledger:   NewLedgerWithConfig(client, LedgerConfig{Timeout: 5 * time.Second}),
		maxStale: time.Second,
		maxKeys:  10,
		now:      func() time.Time { return now },
		negAge:   NegativeMaxAge,
		entries:  make(map[string]cacheEntry),
	}
	n := &node{}
	n.pong.Store(now.UnixNano())
	n.stateOK.Store(math.MaxInt64)
	c.topo.Store(&topology{nodes: []*node{n}})
	return c
}

// TestFreshBound: the view is fresh while its last PING answer is younger
// than MaxStaleness, not once it is that old, and never while broken.
func TestFreshBound(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := offlineLedger(t, now)
	for _, tc := range []struct {
		pong int64
		want bool
	}{
		{now.UnixNano(), true},
		{now.Add(-time.Second + 1).UnixNano(), true},
		{now.Add(-time.Second).UnixNano(), false},
		{0, false},
	} {
		c.topo.Load().nodes[0].pong.Store(tc.pong)
		assert.Equal(t, tc.want, c.Fresh(), "answer sent %v before", now.Sub(time.Unix(0, tc.pong)))
	}
}

// TestBreakWhileDown: a subscription that fails while it is not up
// (refused from the start, or broken already and not back) is no new
// break: the view keeps what it took since, records being always right,
// and Stats counts nothing. Once the subscription is up, a failure drops
// the node's keys and counts one break.
func TestBreakWhileDown(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := offlineLedger(t, now)
	n := c.topo.Load().nodes[0]
	c.remember("k", now, time.Minute)
	for range 2 {
		c.nodeBroken(n)
		assert.Equal(t, CachedLedgerStats{Entries: 1, Nodes: 1, StaleNodes: 1}, c.Stats())
	}
	n.subscribed.Store(true)
	n.pong.Store(now.UnixNano())
	c.nodeBroken(n)
	assert.Equal(t, CachedLedgerStats{Breaks: 1, Nodes: 1, StaleNodes: 1}, c.Stats())
	assert.False(t, n.subscribed.Load())
	assert.Zero(t, n.pong.Load(), "no PING answer counts until the subscription is up again")
}

// TestSeenFromViewBounds: the view answers for a record until the instant
// it expires, since exactly its time, and for "no record" until its age
// limit; from that instant on the key is read from Redis (here, an
// error).
func TestSeenFromViewBounds(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	c := offlineLedger(t, now)
	at := now.Add(-time.Minute)
	c.entries["live"] = cacheEntry{at: at.UnixMilli(), expires: now.Add(1).UnixNano()}
	c.entries["expiring"] = cacheEntry{at: at.UnixMilli(), expires: now.UnixNano()}
	c.entries["none"] = cacheEntry{expires: now.Add(1).UnixNano()}
	c.entries["none-too-old"] = cacheEntry{expires: now.UnixNano()}

	for _, tc := range []struct {
		q       logout.LedgerQuery
		want    bool
		wantErr bool
	}{
		{q: logout.LedgerQuery{Key: "live"}, want: true},
		{q: logout.LedgerQuery{Key: "live", Since: at}, want: true},
		{q: logout.LedgerQuery{Key: "live", Since: at.Add(time.Millisecond)}, want: false},
		{q: logout.LedgerQuery{Key: "none"}, want: false},
		{q: logout.LedgerQuery{Key: "none-too-old"}, wantErr: true},
		{q: logout.LedgerQuery{Key: "expiring"}, wantErr: true},
	} {
		got, err := c.Seen(ctx, tc.q)
		if tc.wantErr {
			assert.Error(t, err, "%+v", tc.q)
		} else {
			assert.NoError(t, err, "%+v", tc.q)
		}
		assert.Equal(t, tc.want, got, "%+v", tc.q)
	}
}

// TestReadEntry pins how the replies to GET and PTTL of a key become an
// entry of the view: a failed PTTL after a good GET is an error, never
// "no record".
func TestReadEntry(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	const negAge = 5 * time.Second
	get := func(v string, err error) *redis.StringCmd { return redis.NewStringResult(v, err) }
	ttl := func(d time.Duration, err error) *redis.DurationCmd { return redis.NewDurationResult(d, err) }
	broken := errors.New("connection reset")
	tests := []struct {
		name    string
		get     *redis.StringCmd
		ttl     *redis.DurationCmd
		want    cacheEntry
		wantErr bool
	}{
		{"no record", get("", redis.Nil), ttl(0, redis.Nil), cacheEntry{expires: now.Add(negAge).UnixNano()}, false},
		{"GET fails", get("", broken), ttl(time.Minute, nil), cacheEntry{}, true},
		{"not a time", get("soon", nil), ttl(time.Minute, nil), cacheEntry{}, true},
		{"PTTL fails", get("42", nil), ttl(0, broken), cacheEntry{}, true},
		{"no expiry", get("42", nil), ttl(-1, nil), cacheEntry{at: 42, expires: math.MaxInt64}, false},
		{"gone between the two", get("42", nil), ttl(-2*time.Millisecond, nil), cacheEntry{expires: now.Add(negAge).UnixNano()}, false},
		{"a record", get("42", nil), ttl(time.Minute, nil), cacheEntry{at: 42, expires: now.Add(time.Minute).UnixNano()}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readEntry("k", tc.get, tc.ttl, now, negAge)
			assert.Equal(t, tc.wantErr, err != nil, err)
			assert.Equal(t, tc.want, got)
		})
	}
}
