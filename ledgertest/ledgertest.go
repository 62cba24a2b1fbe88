// Package ledgertest checks that an implementation of
// logout.Ledger honours the interface's contract. A store's own tests
// call Run with a constructor of fresh, empty stores.
package ledgertest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/oidc-logout/logout"
)

// Run runs the contract tests against stores made by newStore. Each
// subtest gets a fresh, empty store; newStore may register cleanups with
// t.Cleanup. The TTL test sleeps for about half a second.
func Run(t *testing.T, newStore func(t *testing.T) logout.Ledger) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, logout.Ledger)
	}{
		{"UnknownKeyIsNotSeen", testUnknown},
		{"RecordedKeyMatches", testRecorded},
		{"SinceComparesTimes", testSince},
		{"LaterTimeWins", testLaterTimeWins},
		{"AnyOfSeveralKeys", testSeveralKeys},
		{"NoChecks", testNoChecks},
		{"RecordExpires", testExpiry},
		{"Concurrent", testConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

// base is a whole second, so that stores keeping one-second precision
// compare exactly.
var base = time.Unix(1_700_000_000, 0)

func revoke(t *testing.T, s logout.Ledger, key string, at time.Time, ttl time.Duration) {
	t.Helper()
	if err := s.Record(context.Background(), key, at, ttl); err != nil {
		t.Fatalf("Record(%q): %v", key, err)
	}
}

func expect(t *testing.T, s logout.Ledger, want bool, checks ...logout.LedgerQuery) {
	t.Helper()
	if got := revoked(t, s, checks...); got != want {
		t.Fatalf("Seen(%v) = %v, want %v", checks, got, want)
	}
}

func check(key string, since time.Time) logout.LedgerQuery {
	return logout.LedgerQuery{Key: key, Since: since}
}

func testUnknown(t *testing.T, s logout.Ledger) {
	expect(t, s, false, check(logout.SIDKey("https://op.example", "nope"), time.Time{}))
}

func testRecorded(t *testing.T, s logout.Ledger) {
	key := logout.SessionIDKey("abc")
	revoke(t, s, key, base, time.Hour)
	expect(t, s, true, check(key, time.Time{}))
	expect(t, s, false, check(logout.SessionIDKey("abd"), time.Time{}))
}

func testSince(t *testing.T, s logout.Ledger) {
	key := logout.SubjectKey("https://op.example", "alice")
	revoke(t, s, key, base, time.Hour)
	expect(t, s, true, check(key, base.Add(-time.Minute)))
	expect(t, s, true, check(key, base))
	expect(t, s, false, check(key, base.Add(time.Second)))
}

func testLaterTimeWins(t *testing.T, s logout.Ledger) {
	key := logout.SubjectKey("https://op.example", "bob")
	revoke(t, s, key, base.Add(time.Minute), time.Hour)
	revoke(t, s, key, base, time.Hour) // an earlier, late-arriving record
	expect(t, s, true, check(key, base.Add(time.Minute)))
	revoke(t, s, key, base.Add(2*time.Minute), time.Hour)
	expect(t, s, true, check(key, base.Add(2*time.Minute)))
}

func testSeveralKeys(t *testing.T, s logout.Ledger) {
	sid := logout.SIDKey("https://op.example", "s1")
	sub := logout.SubjectKey("https://op.example", "carol")
	revoke(t, s, sub, base, time.Hour)
	expect(t, s, false, check(sid, time.Time{}), check(sub, base.Add(time.Second)))
	expect(t, s, true, check(sid, time.Time{}), check(sub, base))
	revoke(t, s, sid, base, time.Hour)
	expect(t, s, true, check(sid, time.Time{}), check(sub, base.Add(time.Second)))
}

func testNoChecks(t *testing.T, s logout.Ledger) {
	expect(t, s, false)
}

// expiryTTL is the lifetime of the short record in testExpiry: long
// enough that a starved CPU cannot let it lapse between the write and the
// first look-up, short enough to keep the suite quick.
const expiryTTL = 2 * time.Second

func testExpiry(t *testing.T, s logout.Ledger) {
	short, long := logout.SessionIDKey("short"), logout.SessionIDKey("long")
	written := time.Now()
	revoke(t, s, short, base, expiryTTL)
	revoke(t, s, long, base, time.Hour)
	if got := revoked(t, s, check(short, time.Time{})); !got && time.Since(written) < expiryTTL {
		t.Fatalf("a record with a %s TTL is gone after %s", expiryTTL, time.Since(written))
	}
	deadline := written.Add(10 * expiryTTL)
	for revoked(t, s, check(short, time.Time{})) {
		if time.Now().After(deadline) {
			t.Fatalf("a record with a %s TTL is still there after %s", expiryTTL, time.Since(written))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if d := time.Since(written); d < expiryTTL {
		t.Fatalf("a record with a %s TTL expired after %s", expiryTTL, d)
	}
	expect(t, s, true, check(long, time.Time{}))
}

// seen returns what s.Seen says of checks, failing t on an error.
func revoked(t *testing.T, s logout.Ledger, checks ...logout.LedgerQuery) bool {
	t.Helper()
	got, err := s.Seen(context.Background(), checks...)
	if err != nil {
		t.Fatalf("Seen(%v): %v", checks, err)
	}
	return got
}

func testConcurrent(t *testing.T, s logout.Ledger) {
	const workers, perWorker = 16, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				key := logout.SessionIDKey(fmt.Sprintf("w%d-%d", w, i))
				if err := s.Record(context.Background(), key, base, time.Hour); err != nil {
					errs <- err
					return
				}
				if ok, err := s.Seen(context.Background(), check(key, time.Time{})); err != nil || !ok {
					errs <- fmt.Errorf("key %s: revoked=%v err=%v", key, ok, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for w := range workers {
		for i := range perWorker {
			expect(t, s, true, check(logout.SessionIDKey(fmt.Sprintf("w%d-%d", w, i)), time.Time{}))
		}
	}
}
