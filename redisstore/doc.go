// Package redisstore keeps the logout middleware's state in Redis, with
// github.com/redis/go-redis/v9:
//
//   - Ledger implements logout.Ledger, so that every instance of
//     an app behind a load balancer sees the back-channel logouts and
//     session tombstones recorded by any of them;
//   - Store is a gorilla/sessions store that keeps session values in Redis
//     and only a signed session id in the cookie, so that large tokens fit
//     and logout deletes the session for good.
//
// The redistest package starts a real redis-server for tests.
package redisstore
