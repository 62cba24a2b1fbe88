package redistest_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout/redisstore/redistest"
)

func TestStartStopRestart(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	c := srv.NewClient()
	require.NoError(t, c.Set(ctx, "k", "v", 0).Err())
	port := srv.Port()

	srv.Stop()
	assert.Error(t, c.Ping(ctx).Err(), "a stopped server must refuse commands")
	srv.Stop() // stopping twice is harmless

	srv.Restart()
	assert.Equal(t, port, srv.Port())
	require.NoError(t, c.Ping(ctx).Err(), "the client reconnects to the restarted server")
	assert.Zero(t, c.Exists(ctx, "k").Val(), "a restarted server starts empty (no persistence)")
}

func TestServersAreIndependent(t *testing.T) {
	ctx := context.Background()
	a, b := redistest.Start(t), redistest.Start(t)
	require.NotEqual(t, a.Addr(), b.Addr())
	require.NoError(t, a.NewClient().Set(ctx, "k", "a", 0).Err())
	assert.Zero(t, b.NewClient().Exists(ctx, "k").Val())
}
