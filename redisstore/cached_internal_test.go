package redisstore

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzApplyPayload feeds apply any message: it must never panic, and a
// well-formed record must land in the view with its time.
func FuzzApplyPayload(f *testing.F) {
	for _, seed := range []string{"1700000000000 60000 session:abc", "1 2 key with spaces", "", " ", "x y z", "-1 -1 k", "9223372036854775807 9223372036854775807 k"} {
		f.Add(seed)
	}
	now := time.Unix(1_700_000_000, 0)
	f.Fuzz(func(t *testing.T, payload string) {
		c := &CachedLedger{maxKeys: 4, now: func() time.Time { return now }, entries: make(map[string]cacheEntry)}
		c.apply(payload)
		if len(c.entries) > 1 {
			t.Fatalf("one message made %d entries", len(c.entries))
		}
		for key, e := range c.entries {
			atS, rest, _ := strings.Cut(payload, " ")
			_, name, _ := strings.Cut(rest, " ")
			if at, err := strconv.ParseInt(atS, 10, 64); err != nil || at != e.at || name != key || key == "" {
				t.Fatalf("payload %q gave entry %q at %d", payload, key, e.at)
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
