package redisstore

import (
	"cmp"
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
// check on.
//
// Each record is one string key, prefix + record key, holding the record's
// time in Unix milliseconds (rounded up) and expiring with its TTL. Record
// merges with an existing record in one atomic script, which also
// publishes the record on the channel ChangesChannel(prefix) for the local
// views of CachedLedger; Seen reads every key of a request in one round
// trip: one MGET on a single server (a *redis.Client, also with
// Sentinel), pipelined GETs with a cluster or ring client, where the keys
// may live on different nodes. RecordOnce records a back-channel logout
// and its jti in one round trip.
//
// Redis errors are returned wrapped, never hidden (a failed look-up
// wraps ErrLedgerRead or ErrBadRecord): the middleware's
// SessionCheckConfig.FailOpen decides what a failed look-up means. Every
// call is bounded by LedgerConfig.Timeout (DefaultTimeout), whatever the
// client's ContextTimeoutEnabled.
type Ledger struct {
	client  redis.UniversalClient
	prefix  string
	channel string
	single  bool // one server: MGET and two-key scripts; otherwise pipelined GETs
	bound   bound
}

var _ logout.Ledger = (*Ledger)(nil)

// Errors of a look-up (Ledger.Seen, CachedLedger.Seen), for errors.Is:
// every error of a look-up wraps one of them.
var (
	// ErrLedgerRead means Redis did not answer the look-up: it failed
	// or refused the command (WRONGTYPE: the key holds another type
	// than a string), or did not answer within the Timeout; the error
	// then also wraps context.DeadlineExceeded.
	ErrLedgerRead = errors.New("redisstore: reading the ledger")
	// ErrBadRecord means a key of the ledger holds a string that is not
	// a record's time: something other than a Ledger wrote it.
	ErrBadRecord = errors.New("redisstore: bad record")
)

// LedgerConfig configures NewLedgerWithConfig.
type LedgerConfig struct {
	// Prefix is the key prefix of the records. Default
	// DefaultLedgerPrefix. Apps that share a Redis database and must not
	// see each other's logouts use different prefixes.
	Prefix string
	// Timeout bounds each Redis call, on top of the caller's context.
	// Default DefaultTimeout.
	Timeout time.Duration
}

// NewLedger returns a Ledger that keeps its records under prefix
// (DefaultLedgerPrefix when empty), with the default Timeout. Apps that
// share a Redis database and must not see each other's logouts use
// different prefixes.
func NewLedger(client redis.UniversalClient, prefix string) *Ledger {
	return NewLedgerWithConfig(client, LedgerConfig{Prefix: prefix})
}

// NewLedgerWithConfig returns a Ledger configured by cfg.
func NewLedgerWithConfig(client redis.UniversalClient, cfg LedgerConfig) *Ledger {
	prefix := cfg.Prefix
	if prefix == "" {
		prefix = DefaultLedgerPrefix
	}
	_, single := client.(*redis.Client)
	return &Ledger{
		client: client, prefix: prefix, channel: ChangesChannel(prefix), single: single,
		bound: newBound(client, cfg.Timeout),
	}
}

// ChangesChannel is the Redis pub/sub channel on which the Ledger with
// prefix publishes each record it writes, as "<time ms> <ttl ms> <key>":
// the record's time and remaining TTL after the write, and its key
// without prefix.
func ChangesChannel(prefix string) string {
	return prefix + "changes"
}

// recordScript sets KEYS[1] to the later of its time and ARGV[1], expiring
// at the later of its expiry and ARGV[2] milliseconds from now, and
// publishes the result on ARGV[3] with the unprefixed key ARGV[4].
var recordScript = redis.NewScript(luaMerge + `
merge(KEYS[1], ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4])
return 1
`)

// recordOnceScript records KEYS[2] (time ARGV[1], TTL ARGV[3]) and then
// KEYS[1], the once key (TTL ARGV[2]), unless KEYS[1] is already
// recorded: then it returns 0 and writes nothing. ARGV[4] is the channel,
// ARGV[5] and ARGV[6] the unprefixed keys.
var recordOnceScript = redis.NewScript(luaMerge + `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
merge(KEYS[2], ARGV[1], tonumber(ARGV[3]), ARGV[4], ARGV[6])
merge(KEYS[1], ARGV[1], tonumber(ARGV[2]), ARGV[4], ARGV[5])
return 1
`)

// luaMerge defines merge(key, at, ttl, channel, name): the later time and
// the later expiry of the record and the new one are kept, and published.
const luaMerge = `
local function merge(key, at, ttl, channel, name)
  local cur = redis.call('GET', key)
  if cur then
    if tonumber(cur) > tonumber(at) then at = cur end
    local left = redis.call('PTTL', key)
    if left > ttl then ttl = left end
  end
  redis.call('SET', key, at, 'PX', ttl)
  redis.call('PUBLISH', channel, at .. ' ' .. ttl .. ' ' .. name)
end
`

// Record records key with time at for at least ttl; see
// logout.Ledger.Record.
func (r *Ledger) Record(ctx context.Context, key string, at time.Time, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("redisstore: recording %q: ttl must be positive, got %v", key, ttl)
	}
	err := r.bound.do(ctx, func(ctx context.Context) error {
		return recordScript.Run(ctx, r.client, []string{r.prefix + key},
			unixMilliCeil(at), ceilMillis(ttl), r.channel, key).Err()
	})
	if err != nil {
		return fmt.Errorf("redisstore: recording %q: %w", key, err)
	}
	return nil
}

// RecordOnce records key (time at, kept for ttl) and once (kept for
// onceTTL) unless once is already recorded, and reports whether it
// recorded them. The back-channel handler uses it for a logout token:
// once is the token's jti, key its sid or sub. On a single server it is
// one atomic script, one round trip. With a cluster or ring client the two
// keys may live on different nodes: once is set first if absent (SET NX),
// then key is recorded, and once is deleted again if that fails, so that
// the provider's retry is not refused as a replay; two round trips.
func (r *Ledger) RecordOnce(ctx context.Context, once string, onceTTL time.Duration, key string, at time.Time, ttl time.Duration) (bool, error) {
	if ttl <= 0 || onceTTL <= 0 {
		return false, fmt.Errorf("redisstore: recording %q: ttl must be positive, got %v and %v", key, ttl, onceTTL)
	}
	if !r.single {
		return r.recordOnceSplit(ctx, once, onceTTL, key, at, ttl)
	}
	var done int64
	err := r.bound.do(ctx, func(ctx context.Context) error {
		var err error
		done, err = recordOnceScript.Run(ctx, r.client, []string{r.prefix + once, r.prefix + key},
			unixMilliCeil(at), ceilMillis(onceTTL), ceilMillis(ttl), r.channel, once, key).Int64()
		return err
	})
	if err != nil {
		return false, fmt.Errorf("redisstore: recording %q once: %w", key, err)
	}
	return done == 1, nil
}

// recordOnceSplit is RecordOnce on a client whose keys may live on
// different nodes.
func (r *Ledger) recordOnceSplit(ctx context.Context, once string, onceTTL time.Duration, key string, at time.Time, ttl time.Duration) (bool, error) {
	var fresh bool
	err := r.bound.do(ctx, func(ctx context.Context) error {
		var err error
		fresh, err = r.client.SetNX(ctx, r.prefix+once, unixMilliCeil(at), onceTTL).Result()
		return err
	})
	if err != nil {
		return false, fmt.Errorf("redisstore: recording %q once: %w", once, err)
	}
	if !fresh {
		return false, nil
	}
	if err := r.Record(ctx, key, at, ttl); err != nil {
		_ = r.bound.do(context.WithoutCancel(ctx), func(ctx context.Context) error {
			return r.client.Del(ctx, r.prefix+once).Err()
		})
		return false, err
	}
	return true, nil
}

// Seen reports whether any of checks matches an unexpired record, with
// one round trip; see logout.Ledger.Seen.
func (r *Ledger) Seen(ctx context.Context, checks ...logout.LedgerQuery) (bool, error) {
	if len(checks) == 0 {
		return false, nil
	}
	var seen bool
	err := r.bound.do(ctx, func(ctx context.Context) error {
		var err error
		seen, err = r.seen(ctx, checks)
		return err
	})
	if err != nil {
		return false, lookupError(err)
	}
	return seen, nil // seen is read only once the call has returned
}

// lookupError returns the error of a look-up that failed with err: err
// itself when it already says what failed (it wraps ErrLedgerRead or
// ErrBadRecord), otherwise (a Redis error not wrapped yet, or the
// deadline of the call's bound) err wrapped in ErrLedgerRead.
func lookupError(err error) error {
	if errors.Is(err, ErrLedgerRead) || errors.Is(err, ErrBadRecord) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrLedgerRead, err)
}

func (r *Ledger) seen(ctx context.Context, checks []logout.LedgerQuery) (bool, error) {
	switch {
	case len(checks) == 1:
		v, err := r.client.Get(ctx, r.prefix+checks[0].Key).Result()
		return r.match(checks[0], v, err)
	case r.single:
		return r.seenMGet(ctx, checks)
	default:
		return r.seenPipelined(ctx, checks)
	}
}

// seenMGet looks checks up with one MGET, on a single server. A record
// found answers "seen" even when another key holds no record's time.
func (r *Ledger) seenMGet(ctx context.Context, checks []logout.LedgerQuery) (bool, error) {
	var buf [4]string
	keys := buf[:0]
	for _, c := range checks {
		keys = append(keys, r.prefix+c.Key)
	}
	vals, err := r.client.MGet(ctx, keys...).Result()
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrLedgerRead, err)
	}
	return r.matchAny(checks, func(i int) (string, error) {
		if v, ok := vals[i].(string); ok {
			return v, nil
		}
		return "", redis.Nil // nil: no record
	})
}

// seenPipelined looks checks up with pipelined GETs, which a cluster or
// ring client sends to each key's node. A record found on one node
// answers "seen" even when another node failed: the session has ended
// whatever the failed node holds, also under SessionCheckConfig.FailOpen.
func (r *Ledger) seenPipelined(ctx context.Context, checks []logout.LedgerQuery) (bool, error) {
	cmds := make([]*redis.StringCmd, len(checks))
	_, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range checks {
			cmds[i] = p.Get(ctx, r.prefix+c.Key)
		}
		return nil
	})
	seen, firstErr := r.matchAny(checks, func(i int) (string, error) { return cmds[i].Result() })
	if !seen && firstErr == nil && err != nil && !errors.Is(err, redis.Nil) {
		firstErr = fmt.Errorf("%w: %w", ErrLedgerRead, err)
	}
	return seen, firstErr
}

// matchAny matches each of checks with its reply (the value, or the error,
// of its GET): a record found answers true with no error, whatever the
// other replies; otherwise the first error, if any.
func (r *Ledger) matchAny(checks []logout.LedgerQuery, reply func(i int) (string, error)) (bool, error) {
	var firstErr error
	for i, c := range checks {
		v, err := reply(i)
		seen, err := r.match(c, v, err)
		if seen {
			return true, nil
		}
		firstErr = cmp.Or(firstErr, err)
	}
	return false, firstErr
}

// match interprets the reply to GET for one check.
func (r *Ledger) match(c logout.LedgerQuery, v string, err error) (bool, error) {
	switch {
	case errors.Is(err, redis.Nil):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("%w: key %q: %w", ErrLedgerRead, c.Key, err)
	}
	at, err := parseRecord(c.Key, v)
	if err != nil {
		return false, err
	}
	return c.Since.IsZero() || at >= c.Since.UnixMilli(), nil
}

// parseRecord returns the time, in Unix ms, that key's value v holds.
func parseRecord(key, v string) (int64, error) {
	at, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: key %q holds %q, not a time: %w", ErrBadRecord, key, v, err)
	}
	return at, nil
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
