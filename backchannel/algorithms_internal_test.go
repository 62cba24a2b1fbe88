package backchannel

import (
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
)

// TestCheckAlgorithmsRefusesUnknownNames checks the handler's own refusal
// of algorithm names that logout.New already refuses ("none", unknown or
// misspelt names), so that a provider that got past it still cannot make
// the handler accept them.
func TestCheckAlgorithmsRefusesUnknownNames(t *testing.T) {
	for _, name := range []jose.SignatureAlgorithm{"none", "", "RS257", "rs256"} {
		t.Run(string(name), func(t *testing.T) {
			algs, key, err := checkAlgorithms([]jose.SignatureAlgorithm{jose.RS256, name}, "")
			assert.ErrorContains(t, err, "is not allowed for logout tokens")
			assert.Nil(t, algs)
			assert.Nil(t, key)
		})
	}
	algs, key, err := checkAlgorithms(nil, "")
	assert.NoError(t, err)
	assert.Equal(t, DefaultAlgorithms, algs, "the default")
	assert.Nil(t, key)
}
