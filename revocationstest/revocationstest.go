// Package revocationstest checks that an implementation of
// logout.Revocations honours the interface's contract. A store's own tests
// call Run with a constructor of fresh, empty stores.
package revocationstest

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
func Run(t *testing.T, newStore func(t *testing.T) logout.Revocations) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, logout.Revocations)
	}{
		{"UnknownKeyIsNotRevoked", testUnknown},
		{"RevokedKeyMatches", testRevoked},
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

func revoke(t *testing.T, s logout.Revocations, key string, at time.Time, ttl time.Duration) {
	t.Helper()
	if err := s.Revoke(context.Background(), key, at, ttl); err != nil {
		t.Fatalf("Revoke(%q): %v", key, err)
	}
}

func expect(t *testing.T, s logout.Revocations, want bool, checks ...logout.RevocationCheck) {
	t.Helper()
	if got := revoked(t, s, checks...); got != want {
		t.Fatalf("Revoked(%v) = %v, want %v", checks, got, want)
	}
}

func check(key string, since time.Time) logout.RevocationCheck {
	return logout.RevocationCheck{Key: key, Since: since}
}

func testUnknown(t *testing.T, s logout.Revocations) {
	expect(t, s, false, check(logout.SIDKey("https://op.example", "nope"), time.Time{}))
}

func testRevoked(t *testing.T, s logout.Revocations) {
	key := logout.SessionIDKey("abc")
	revoke(t, s, key, base, time.Hour)
	expect(t, s, true, check(key, time.Time{}))
	expect(t, s, false, check(logout.SessionIDKey("abd"), time.Time{}))
}

func testSince(t *testing.T, s logout.Revocations) {
	key := logout.SubjectKey("https://op.example", "alice")
	revoke(t, s, key, base, time.Hour)
	expect(t, s, true, check(key, base.Add(-time.Minute)))
	expect(t, s, true, check(key, base))
	expect(t, s, false, check(key, base.Add(time.Second)))
}

func testLaterTimeWins(t *testing.T, s logout.Revocations) {
	key := logout.SubjectKey("https://op.example", "bob")
	revoke(t, s, key, base.Add(time.Minute), time.Hour)
	revoke(t, s, key, base, time.Hour) // an earlier, late-arriving record
	expect(t, s, true, check(key, base.Add(time.Minute)))
	revoke(t, s, key, base.Add(2*time.Minute), time.Hour)
	expect(t, s, true, check(key, base.Add(2*time.Minute)))
}

func testSeveralKeys(t *testing.T, s logout.Revocations) {
	sid := logout.SIDKey("https://op.example", "s1")
	sub := logout.SubjectKey("https://op.example", "carol")
	revoke(t, s, sub, base, time.Hour)
	expect(t, s, false, check(sid, time.Time{}), check(sub, base.Add(time.Second)))
	expect(t, s, true, check(sid, time.Time{}), check(sub, base))
	revoke(t, s, sid, base, time.Hour)
	expect(t, s, true, check(sid, time.Time{}), check(sub, base.Add(time.Second)))
}

func testNoChecks(t *testing.T, s logout.Revocations) {
	expect(t, s, false)
}

// expiryTTL is the lifetime of the short record in testExpiry: long
// enough that a starved CPU cannot let it lapse between the write and the
// first look-up, short enough to keep the suite quick.
const expiryTTL = 2 * time.Second

func testExpiry(t *testing.T, s logout.Revocations) {
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

// revoked returns what s.Revoked says of checks, failing t on an error.
func revoked(t *testing.T, s logout.Revocations, checks ...logout.RevocationCheck) bool {
	t.Helper()
	got, err := s.Revoked(context.Background(), checks...)
	if err != nil {
		t.Fatalf("Revoked(%v): %v", checks, err)
	}
	return got
}

func testConcurrent(t *testing.T, s logout.Revocations) {
	const workers, perWorker = 16, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				key := logout.SessionIDKey(fmt.Sprintf("w%d-%d", w, i))
				if err := s.Revoke(context.Background(), key, base, time.Hour); err != nil {
					errs <- err
					return
				}
				if ok, err := s.Revoked(context.Background(), check(key, time.Time{})); err != nil || !ok {
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
