package logout

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLookedUpDiscoveryCacheIsBounded(t *testing.T) {
	m, err := New(Config{
		Store: newTestStore(), SessionName: "app",
		LookupProvider: func(_ context.Context, iss string) (Provider, bool) { return Provider{Issuer: iss}, true },
	})
	require.NoError(t, err)
	ps := m.providers
	first, err := ps.find(context.Background(), "https://t0.example.com")
	require.NoError(t, err)
	for i := 1; i < DiscoveryCacheSize+10; i++ {
		p, err := ps.find(context.Background(), fmt.Sprintf("https://t%d.example.com", i))
		require.NoError(t, err)
		require.NotNil(t, p.discovery)
		// t0 stays the most recently used.
		again, err := ps.find(context.Background(), "https://t0.example.com/")
		require.NoError(t, err)
		require.Same(t, first.discovery, again.discovery, "a cached issuer keeps its discoverer")
	}
	assert.Equal(t, DiscoveryCacheSize, ps.cachedDiscoveries())
	p, err := ps.find(context.Background(), "https://t1.example.com")
	require.NoError(t, err)
	assert.Equal(t, DiscoveryCacheSize, ps.cachedDiscoveries(), "the least recently used was dropped to make room")
	assert.Equal(t, "https://t1.example.com", p.discovery.issuer)
}
