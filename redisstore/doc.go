// Package redisstore keeps the logout middleware's state in Redis, with
// github.com/redis/go-redis/v9:
//
//   - Ledger implements logout.Ledger, so that every instance of
//     an app behind a load balancer sees the back-channel logouts and
//     session tombstones recorded by any of them, and
//     backchannel.OnceRecorder, so that a back-channel logout is written
//     in one round trip;
//   - CachedLedger adds a local view of the ledger to each instance, kept
//     fresh by Redis pub/sub within a staleness bound, so that the session
//     check of a session that has not ended makes no round trip;
//   - Store is a gorilla/sessions store that keeps session values in Redis
//     and only a signed session id in the cookie, so that large tokens fit
//     and logout deletes the session for good.
//
// Every Redis call of a Store or Ledger is bounded by its Timeout
// (DefaultTimeout), whatever the client's options.
//
// The redistest package starts a real redis-server, or a Redis Cluster,
// for tests.
package redisstore
