package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/oidc-logout/logout"
)

// DefaultLedgerPrefix is the key prefix of Ledger records when
// NewLedger is given none.
const DefaultLedgerPrefix = "logout:ledger:"

// Ledger is a logout.Ledger kept in Redis, so that every instance
// of an app sees the logouts recorded by any of them: back-channel logouts
// by sid or sub, and the tombstones of sessions logged out with the session
// check's SessionIDs option.
//
// Each record is one string key, prefix + record key, holding the record's
// time in Unix milliseconds (rounded up) and expiring with its TTL. Record
// merges with an existing record in one atomic script; Seen reads every
// key of a request in one round trip: one MGET on a single server (a
// *redis.Client, also with Sentinel), pipelined GETs with a cluster or ring
// client, where the keys may live on different nodes.
//
// Redis errors are returned wrapped, never hidden: the middleware's
// SessionCheckConfig.FailOpen decides what a failed look-up means. Create
// the client with ContextTimeoutEnabled so that the session check's
// Timeout bounds each look-up.
type Ledger struct {
	client redis.UniversalClient
	prefix string
	single bool // one server: MGET; otherwise pipelined GETs
}

var _ logout.Ledger = (*Ledger)(nil)

// NewLedger returns a Ledger that keeps its records under prefix
// (DefaultLedgerPrefix when empty). Apps that share a Redis database
// and must not see each other's logouts use different prefixes.
func NewLedger(client redis.UniversalClient, prefix string) *Ledger {
	if prefix == "" {
		prefix = DefaultLedgerPrefix
	}
	_, single := client.(*redis.Client)
	return &Ledger{client: client, prefix: prefix, single: single}
}

// revokeScript sets KEYS[1] to the later of its time and ARGV[1], expiring
// at the later of its expiry and ARGV[2] milliseconds from now.
var revokeScript = redis.NewScript(`
local at = ARGV[1]
local ttl = tonumber(ARGV[2])
local cur = redis.call('GET', KEYS[1])
if cur then
  if tonumber(cur) > tonumber(at) then at = cur end
  local left = redis.call('PTTL', KEYS[1])
  if left > ttl then ttl = left end
end
redis.call('SET', KEYS[1], at, 'PX', ttl)
return 1
`)

// Record records key with time at for at least ttl; see
// logout.Ledger.Record.
func (r *Ledger) Record(ctx context.Context, key string, at time.Time, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("redisstore: recording %q: ttl must be positive, got %v", key, ttl)
	}
	ms := ceilMillis(ttl)
	err := revokeScript.Run(ctx, r.client, []string{r.prefix + key}, strconv.FormatInt(unixMilliCeil(at), 10), ms).Err()
	if err != nil {
		return fmt.Errorf("redisstore: recording %q: %w", key, err)
	}
	return nil
}

// Seen reports whether any of checks matches an unexpired record, with
// one round trip; see logout.Ledger.Seen.
func (r *Ledger) Seen(ctx context.Context, checks ...logout.LedgerQuery) (bool, error) {
	switch {
	case len(checks) == 0:
		return false, nil
	case len(checks) == 1:
		v, err := r.client.Get(ctx, r.prefix+checks[0].Key).Result()
		return r.match(checks[0], v, err)
	case r.single:
		return r.seenMGet(ctx, checks)
	default:
		return r.seenPipelined(ctx, checks)
	}
}

// seenMGet looks checks up with one MGET, on a single server.
func (r *Ledger) seenMGet(ctx context.Context, checks []logout.LedgerQuery) (bool, error) {
	var buf [4]string
	keys := buf[:0]
	for _, c := range checks {
		keys = append(keys, r.prefix+c.Key)
	}
	vals, err := r.client.MGet(ctx, keys...).Result()
	if err != nil {
		return false, fmt.Errorf("redisstore: reading the ledger: %w", err)
	}
	for i, c := range checks {
		v, ok := vals[i].(string)
		if !ok {
			continue // nil: no record
		}
		if revoked, err := r.match(c, v, nil); revoked || err != nil {
			return revoked, err
		}
	}
	return false, nil
}

// seenPipelined looks checks up with pipelined GETs, which a cluster or
// ring client sends to each key's node.
func (r *Ledger) seenPipelined(ctx context.Context, checks []logout.LedgerQuery) (bool, error) {
	cmds := make([]*redis.StringCmd, len(checks))
	_, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range checks {
			cmds[i] = p.Get(ctx, r.prefix+c.Key)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return false, fmt.Errorf("redisstore: reading the ledger: %w", err)
	}
	for i, c := range checks {
		if revoked, err := r.match(c, cmds[i].Val(), cmds[i].Err()); revoked || err != nil {
			return revoked, err
		}
	}
	return false, nil
}

// match interprets the reply to GET for one check.
func (r *Ledger) match(c logout.LedgerQuery, v string, err error) (bool, error) {
	switch {
	case errors.Is(err, redis.Nil):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("redisstore: reading the ledger: %w", err)
	}
	at, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return false, fmt.Errorf("redisstore: record %q holds %q, not a time: %w", c.Key, v, err)
	}
	return c.Since.IsZero() || at >= c.Since.UnixMilli(), nil
}

// unixMilliCeil returns t in Unix milliseconds, rounded up.
func unixMilliCeil(t time.Time) int64 {
	ms := t.UnixMilli()
	if t.Sub(time.UnixMilli(ms)) > 0 {
		ms++
	}
	return ms
}

// ceilMillis returns d in whole milliseconds, rounded up.
func ceilMillis(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}
